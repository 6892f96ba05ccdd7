"""``promptrail ui``: the trace viewer alone over a local store, read-only, on 127.0.0.1."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient
from tests.fixtures.traces import support_trace

from promptrail.cli import _serve
from promptrail.cli._main import main
from promptrail.exporters import SqliteStore
from promptrail.server import _serving

WRITES = [
    "/v5/prompts/log",
    "/v5/flows/log",
    "/v5/tools/log",
    "/v5/logs/batch",
    "/v5/evaluators/log",
    "/v1/traces",
]


def start_ui(monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[Any, dict[str, Any], str]:
    """Run ``promptrail ui`` in-process up to serving; return the app, serve options, output."""
    served: dict[str, Any] = {}

    def serve(app: Any, **options: Any) -> None:
        served.update(options, app=app)

    monkeypatch.delenv("PROMPTRAIL_SERVER_API_KEYS", raising=False)
    monkeypatch.setattr(_serving, "serve", serve)
    monkeypatch.setattr(_serve, "cannot_listen", lambda host, port: None)  # nothing is bound
    out = io.StringIO()
    assert main(["ui", *argv], out=out) == 0
    return served.pop("app"), served, out.getvalue()


def test_ui_serves_the_viewer_on_loopback_without_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no key configured, the page and its traces are served, bound to 127.0.0.1."""
    db = tmp_path / "ui.db"
    SqliteStore(db).insert(support_trace("trace-ui"))
    app, options, out = start_ui(monkeypatch, "--db", str(db), "--port", "8123")
    assert (options["host"], options["port"]) == ("127.0.0.1", 8123)
    assert "http://127.0.0.1:8123/" in out
    with TestClient(app, base_url="http://127.0.0.1:8123") as client:
        assert client.get("/").status_code == 200
        listed = client.get("/ui/api/traces").json()["traces"]
        assert [t["trace_id"] for t in listed] == ["trace-ui"]
        assert client.get("/ui/api/traces/trace-ui").status_code == 200
        assert client.get("/", headers={"Host": "attacker.example"}).status_code == 400


def test_ui_has_no_write_routes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """POSTs to the receiver's write routes get 404 or 405 and store nothing."""
    db = tmp_path / "ui.db"
    SqliteStore(db).insert(support_trace("trace-ui"))
    before = SqliteStore(db, create=False).count()
    app, _, _ = start_ui(monkeypatch, "--db", str(db))
    body = {"log_id": "w1", "path": "x/y", "trace_id": "w1"}
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        for path in WRITES:
            assert client.post(path, json=body).status_code in (404, 405), path
        assert client.post("/", json=body).status_code == 405
        assert client.get("/v5/logs").status_code == 404
    assert SqliteStore(db, create=False).count() == before


def test_ui_on_a_missing_store_is_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store that does not exist is reported, not created."""
    missing = tmp_path / "none.db"
    assert main(["ui", "--db", str(missing)], out=io.StringIO()) == 2
    assert "promptrail:" in capsys.readouterr().err
    assert not missing.exists()


def test_ui_on_a_port_in_use_is_a_message(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    busy_port: int,
) -> None:
    """A port another process listens on is reported before any address is announced."""
    db = tmp_path / "ui.db"
    SqliteStore(db).insert(support_trace("trace-ui"))
    served: list[object] = []
    monkeypatch.setattr(_serving, "serve", lambda app, **options: served.append(app))
    out = io.StringIO()
    assert main(["ui", "--db", str(db), "--port", str(busy_port)], out=out) == 2
    assert f"cannot listen on 127.0.0.1:{busy_port}" in capsys.readouterr().err
    assert out.getvalue() == ""
    assert served == []


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_ui_rejects_a_port_out_of_range(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--port outside 0-65535 is a usage error, not a traceback from the event loop."""
    with pytest.raises(SystemExit) as exited:
        main(["ui", "--port", port], out=io.StringIO())
    assert exited.value.code == 2
    assert "not a port number" in capsys.readouterr().err
