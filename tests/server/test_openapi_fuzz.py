"""The served OpenAPI schema describes every answer: no 500 and no undocumented status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("schemathesis")

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from promptrail.server import create_app
from promptrail.server._web import create_web_app

KEY = "fuzz-key-0123456789abcdef"
HEADERS = {"X-API-KEY": KEY}


@pytest.fixture(name="api_schema", scope="module")
def fixture_api_schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The schema the receiver serves (as ``promptrail serve`` builds it), loaded in-process."""
    db = Path(tmp_path_factory.mktemp("fuzz")) / "fuzz.db"
    app = create_app(db_path=db, api_keys=[KEY], max_body_bytes=65_536)
    app.mount("/", create_web_app(app.state.store))
    return schemathesis.openapi.from_asgi("/v5/openapi.json", app, headers=HEADERS)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_500_and_no_undocumented_status(case: Any) -> None:
    """Generated requests (valid and invalid) get only documented statuses, never a 5xx."""
    case.call_and_validate(headers=HEADERS, checks=[not_a_server_error, status_code_conformance])


def test_every_operation_describes_its_body_and_errors(tmp_path: Path) -> None:
    """Each keyed route documents 401 and 503; each POST its body, 413 and 422 (or 400)."""
    app = create_app(db_path=tmp_path / "s.db", api_keys=[KEY])
    with TestClient(app) as client:
        assert client.get("/v5/openapi.json").status_code == 401
        document = client.get("/v5/openapi.json", headers=HEADERS).json()
    operations = [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) >= 10
    for method, path, operation in operations:
        statuses = set(operation["responses"])
        if path == "/healthz":
            assert operation["security"] == []
            continue
        assert {"401", "503"} <= statuses, (method, path)
        if method in ("post", "put", "patch"):
            assert "requestBody" in operation, (method, path)
            assert "413" in statuses, (method, path)
            assert statuses & {"400", "422"}, (method, path)
