"""The receiver answers 4xx, never 500, for deep JSON, lone surrogates and huge numbers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from promptrail.cli._main import main
from promptrail.server import create_app
from promptrail.server._web import create_web_app

KEY = "bad-input-key-0123456789"
HEADERS = {"X-API-KEY": KEY, "Content-Type": "application/json"}


@pytest.fixture(name="client")
def fixture_client(tmp_path: Path) -> Iterator[TestClient]:
    """The receiver with the viewer mounted, as ``promptrail serve`` runs it."""
    app = create_app(db_path=tmp_path / "r.db", api_keys=[KEY], max_body_bytes=10_000_000)
    app.mount("/", create_web_app(app.state.store))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _post(client: TestClient, body: str | bytes) -> tuple[int, str]:
    response = client.post("/v5/prompts/log", content=body, headers=HEADERS)
    return response.status_code, response.text


def test_json_nested_beyond_the_recursion_limit(client: TestClient) -> None:
    """A body nested 100,000 levels deep is a 422 naming the nesting."""
    status, text = _post(client, '{"path": "p", "inputs": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert status == 422
    assert "nest" in text


@pytest.mark.parametrize("depth", [400, 600, 800])
def test_metadata_nested_hundreds_of_levels(client: TestClient, depth: int) -> None:
    """Metadata nested 400 to 800 levels deep is a 4xx, not a 500."""
    metadata = "{}"
    for _ in range(depth):
        metadata = '{"a": ' + metadata + "}"
    status, _ = _post(client, '{"path": "p", "metadata": ' + metadata + "}")
    assert 400 <= status < 500


def test_lone_surrogate_escape(client: TestClient) -> None:
    """A ``"\\ud800"`` escape is a 422 naming the surrogate."""
    status, text = _post(client, '{"path": "p", "output": "x\\ud800y"}')
    assert status == 422
    assert "surrogate" in text


@pytest.mark.parametrize("value", [2**63, 2**64, -1])
def test_token_counts_outside_64_bits(client: TestClient, value: int) -> None:
    """A token count that does not fit a signed 64-bit column is a 422 naming the field."""
    status, text = _post(client, json.dumps({"path": "p", "prompt_tokens": value}))
    assert status == 422
    assert "prompt_tokens" in text


def test_since_far_in_the_past_is_a_400(client: TestClient) -> None:
    """``?since=99999999999w`` on the viewer's API is a clear 400."""
    response = client.get("/ui/api/traces", params={"since": "99999999999w"})
    assert response.status_code == 400


def test_show_since_before_year_one_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``show --since 0001-01-01T00:00:00+14:00`` exits with a usage error, not a traceback."""
    with pytest.raises(SystemExit) as exited:
        main(["show", "--db", str(tmp_path / "x.db"), "--since", "0001-01-01T00:00:00+14:00"])
    assert exited.value.code == 2
    assert "out of range" in capsys.readouterr().err
