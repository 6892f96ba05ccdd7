"""One trace across services: inject/extract, the middleware, and two services on loopback."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI

import promptrail
from promptrail import log_prompt, trace
from promptrail.exporters import HttpExporter, SqliteStore
from promptrail.propagation import (
    PromptrailASGIMiddleware,
    PromptrailWSGIMiddleware,
    extract,
    httpx_hooks,
    inject,
    requests_adapter,
    requests_session,
)
from promptrail.server import ServerThread, create_app
from promptrail.testing import capture_logs

KEY = "test-key-0123456789"


@log_prompt(path="svc-b/answer")
def answer(question: str) -> str:
    """The called service's fake model call."""
    return "Paris"


def test_inject_then_extract_nests_under_the_calling_log() -> None:
    """A log made inside extract() is a child of the log current at inject(), with its session."""
    with capture_logs() as logs:
        with trace(path="svc-a/turn", session_id="conv 1", user="ada", tags=["x", "y"]):
            headers = inject({"baggage": "other=1"})
        with extract(headers):
            answer("q")
    root, child = logs[0], logs[1]
    assert (child.trace_id, child.trace_parent_id) == (root.log_id, root.log_id)
    assert (child.session_id, child.user, child.tags) == ("conv 1", "ada", ["x", "y"])
    assert headers["baggage"].startswith("other=1,")


def test_traceparent_is_w3c_with_the_uuid_trace_id() -> None:
    """With UUID ids the traceparent carries the trace's UUID and the log's last 16 digits."""
    with capture_logs(deterministic=False), trace(path="t") as t:
        headers = inject({})
    match = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01", headers["traceparent"])
    assert match is not None
    assert match.group(1) == str(t.trace_id).replace("-", "")
    assert str(t.log_id).replace("-", "").endswith(match.group(2))


def test_inject_outside_any_log_changes_nothing() -> None:
    """No current log and no attributes: the headers are left as they were."""
    assert inject({"a": "b"}) == {"a": "b"}


def test_malformed_headers_are_ignored() -> None:
    """Garbage in traceparent or baggage gives a block that changes nothing."""
    with capture_logs() as logs:
        with extract({"traceparent": "zz", "baggage": "promptrail.parent,=,%%%"}):
            answer("q")
        with extract([(b"baggage", b"\xff\xfe")]):
            answer("q")
    assert [r.trace_parent_id for r in logs] == [None, None]


def test_wsgi_middleware_extracts() -> None:
    """A WSGI app wrapped in the middleware nests its logs under the caller's."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        answer("q")
        start_response("200 OK", [])
        return [b"ok"]

    with capture_logs() as logs:
        with trace(path="caller"):
            headers = inject({})
        environ = {"HTTP_" + k.upper(): v for k, v in headers.items()}
        PromptrailWSGIMiddleware(app)(environ, lambda *a: None)
    assert logs[1].trace_parent_id == logs[0].log_id


def test_two_services_on_loopback_store_one_tree(tmp_path: Path) -> None:
    """Service A calls service B through httpx2; both export to one receiver: one trace tree."""
    db = tmp_path / "shared.db"
    service_b = FastAPI()
    service_b.add_middleware(PromptrailASGIMiddleware)

    @service_b.get("/answer")
    def answer_route(q: str) -> dict[str, str]:
        return {"answer": answer(q)}

    service_a = FastAPI()
    service_a.add_middleware(PromptrailASGIMiddleware)
    b_url: dict[str, str] = {}

    @service_a.get("/chat")
    async def chat(q: str) -> dict[str, str | None]:
        with trace(path="svc-a/chat", session_id="conv-9", user="ada") as t:
            async with httpx2.AsyncClient(event_hooks=httpx_hooks(asynchronous=True)) as client:
                reply = await client.get(b_url["url"] + "/answer", params={"q": q}, timeout=10)
            t.output = reply.json()["answer"]
        return {"trace_id": t.trace_id}

    with (
        ServerThread(create_app(db_path=db, api_keys=[KEY])) as receiver,
        ServerThread(service_b) as b,
        ServerThread(service_a) as a,
    ):
        b_url["url"] = b.url
        exporter = HttpExporter(
            base_url=receiver.url + "/v5", api_key=KEY, spool_path=tmp_path / "spool"
        )
        promptrail.configure(exporters=[exporter])
        trace_id = httpx2.get(a.url + "/chat", params={"q": "capital?"}, timeout=10).json()[
            "trace_id"
        ]
        promptrail.flush()
        promptrail.shutdown()
        records = SqliteStore(db).trace(trace_id)
    by_path = {r.path: r for r in records}
    assert set(by_path) == {"svc-a/chat", "svc-b/answer"}
    root, child = by_path["svc-a/chat"], by_path["svc-b/answer"]
    assert root.trace_parent_id is None
    assert (child.trace_id, child.trace_parent_id) == (root.log_id, root.log_id)
    assert (child.session_id, child.user) == ("conv-9", "ada")


def test_requests_session_injects_and_a_flask_style_wsgi_app_extracts() -> None:
    """A requests session carries the trace to a WSGI service on loopback; its log nests."""
    requests = pytest.importorskip("requests")
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        answer("q")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, PromptrailWSGIMiddleware(app), handler_class=Quiet)
    server.timeout = 10
    with capture_logs() as logs:
        with trace(path="caller", session_id="conv-r"), requests_session() as session:
            thread = threading.Thread(target=server.handle_request, daemon=True)
            thread.start()
            response = session.get(f"http://127.0.0.1:{server.server_port}/", timeout=10)
            thread.join(10)
        server.server_close()
    assert response.text == "ok"
    assert isinstance(session, requests.Session)
    caller, called = logs[1], logs[0]  # the called service's log ends first
    assert caller.path == "caller"
    assert (called.trace_parent_id, called.session_id) == (caller.log_id, "conv-r")


def test_requests_adapter_keeps_its_options_and_injects(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests_adapter() takes HTTPAdapter's options; each request it sends gets the headers."""
    requests = pytest.importorskip("requests")
    adapter = requests_adapter(max_retries=3)
    assert adapter.max_retries.total == 3
    sent: list[Any] = []

    def fake_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(request)
        return requests.Response()

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", fake_send)
    with capture_logs(), trace(path="t") as t:
        session = requests.Session()
        session.mount("http://", adapter)
        session.get("http://127.0.0.1:9/x")
    assert f"promptrail.parent={t.log_id}" in sent[0].headers["baggage"]
