"""The viewer answers only to the names it is served under (DNS rebinding)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from promptrail.exporters import SqliteStore
from promptrail.server._web import LOOPBACK_HOSTS, create_web_app


def test_foreign_host_is_refused(tmp_path: Path) -> None:
    """``Host: attacker.example`` gets 400 and no trace; loopback names are served."""
    app = create_web_app(SqliteStore(tmp_path / "v.db"), allowed_hosts=LOOPBACK_HOSTS)
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        assert client.get("/ui/api/traces").status_code == 200
        assert client.get("/ui/api/traces", headers={"Host": "localhost:8000"}).status_code == 200
        refused = client.get("/ui/api/traces/x", headers={"Host": "attacker.example"})
        assert refused.status_code == 400
        assert client.get("/", headers={"Host": "attacker.example:8000"}).status_code == 400
