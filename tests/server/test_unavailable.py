"""A store that is down makes reads and writes answer 503 with Retry-After, not 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest

from promptrail.server import ServerThread, create_app
from promptrail.server._web import create_web_app
from promptrail.stores._base import StoreUnavailableError

KEY = "down-key-0123456789"


def down(*args: Any, **kwargs: Any) -> Any:
    raise StoreUnavailableError("connection refused")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("logs", "/v5/logs"),
        ("trace", "/v5/traces/t"),
        ("recent_trace_ids", "/ui/api/traces"),
        ("cursor", "/ui/api/cursor"),
    ],
)
def test_reads_on_a_down_store_are_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str, path: str
) -> None:
    """The read API and the viewer's JSON answer 503 + Retry-After while the store is down."""
    app = create_app(db_path=tmp_path / "down.db", api_keys=[KEY])
    app.mount("/", create_web_app(app.state.store))
    monkeypatch.setattr(app.state.store, method, down)
    with ServerThread(app) as server:
        response = httpx2.get(server.url + path, headers={"X-API-KEY": KEY})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


def test_a_log_posted_to_a_down_store_is_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that cannot be stored is not acknowledged: 503 + Retry-After."""
    app = create_app(db_path=tmp_path / "down.db", api_keys=[KEY])
    monkeypatch.setattr(app.state.store, "insert", down)
    body = {"log_id": "a", "path": "p", "start_time": "2026-01-01T00:00:00+00:00"}
    with ServerThread(app) as server:
        response = httpx2.post(
            server.url + "/v5/prompts/log", json=body, headers={"X-API-KEY": KEY}
        )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
