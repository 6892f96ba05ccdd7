"""Sessions in the read API and the web page: filters, previews, one session as a conversation."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.traces import NOW, log
from tests.server.test_web import _rows, _wait, fixture_browser

from promptrail import ChatMessage, FunctionCall, LogRecord, ToolCall
from promptrail.exporters import SqliteStore

pytest.importorskip("starlette")
import httpx2
from starlette.testclient import TestClient

from promptrail.server import ServerThread, create_app
from promptrail.server._web import create_web_app

__all__ = ["fixture_browser"]

KEY = "k" * 32


def turn(
    n: int, session: str | None, user: str | None, tags: list[str], question: str
) -> LogRecord:
    """One chat turn, ``10 - n`` minutes ago, with a question and an answer."""
    return log(
        f"turn-{n}",
        "chat/reply",
        trace_id=f"turn-{n}",
        base=NOW - datetime.timedelta(minutes=10 - n),
        session_id=session,
        user=user,
        tags=tags,
        messages=[ChatMessage(role="user", content=question)],
        output_message=ChatMessage(role="assistant", content=f"answer {n}"),
    )


TURNS = [
    turn(0, "conv-1", "ann", ["web"], "Hello, who are you?"),
    turn(1, "conv-2", "bob", ["mobile"], "Where is my order?"),
    turn(2, "conv-1", "ann", ["web", "beta"], "And what can you do?"),
    turn(3, None, None, [], "<b>no session</b>").model_copy(
        update={
            "error": "KeyError: 'x'",
            "metadata": {"error_traceback": "Traceback (most recent call last):\nKeyError: 'x'"},
        }
    ),
]


AGENT = [
    log(
        "agent", "agent/run", trace_id="agent", kind="flow", base=NOW - datetime.timedelta(hours=2)
    ),
    log(
        "agent-llm",
        "agent/llm",
        trace_id="agent",
        parent="agent",
        base=NOW - datetime.timedelta(hours=2),
        output_message=ChatMessage(
            role="assistant",
            tool_calls=[
                ToolCall(id="call_7", function=FunctionCall(name="lookup", arguments="{}"))
            ],
        ),
    ),
    log(
        "agent-tool",
        "agent/lookup",
        trace_id="agent",
        parent="agent",
        kind="tool",
        start=0.2,
        base=NOW - datetime.timedelta(hours=2),
        metadata={"tool_call_id": "call_7"},
        output='{"hits": [1, 2]}',
    ),
]


THUMBS_UP = log(
    "score-0",
    "thumbs_up",
    trace_id="turn-0",
    parent="turn-0",
    kind="evaluator",
    parent_id="turn-0",
    judgment=True,
    source="user",
    metadata={"comment": "spot on"},
    base=NOW - datetime.timedelta(minutes=9),
)


@pytest.fixture(name="db")
def fixture_db(tmp_path: Path) -> Path:
    """A store holding two sessions' turns and one turn without a session."""
    path = tmp_path / "s.db"
    store = SqliteStore(path)
    store.write(TURNS)
    store.write(AGENT)
    store.write([THUMBS_UP])
    store.close()
    return path


class TestApi:
    """``/ui/api/traces`` and ``/v5/logs`` filter; ``/ui/api/sessions/{id}`` lists a session."""

    @pytest.fixture(name="client")
    def fixture_client(self, db: Path) -> Iterator[TestClient]:
        """A test client over the store."""
        with TestClient(create_web_app(SqliteStore(db, create=False))) as client:
            yield client

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("session_id=conv-1", ["turn-2", "turn-0"]),
            ("user=bob", ["turn-1"]),
            ("tag=web", ["turn-2", "turn-0"]),
            ("tag=web&tag=beta", ["turn-2"]),
            ("session_id=conv-1&user=bob", []),
        ],
    )
    def test_trace_list_filters(self, client: TestClient, query: str, expected: list[str]) -> None:
        """The viewer's trace list narrows by session, user and tags."""
        traces = client.get(f"/ui/api/traces?{query}").json()["traces"]
        assert [t["trace_id"] for t in traces] == expected

    def test_summaries_have_previews(self, client: TestClient) -> None:
        """Each listed trace has its session, user, input preview and reply preview."""
        traces = {t["trace_id"]: t for t in client.get("/ui/api/traces").json()["traces"]}
        assert traces["turn-0"]["session_id"] == "conv-1"
        assert traces["turn-0"]["user"] == "ann"
        assert traces["turn-0"]["preview"] == "Hello, who are you?"
        assert traces["turn-0"]["reply"] == "answer 0"

    def test_session_lists_its_traces_oldest_first(self, client: TestClient) -> None:
        """A session's traces come in the order they happened; an unknown session is 404."""
        body = client.get("/ui/api/sessions/conv-1").json()
        assert body["session_id"] == "conv-1"
        assert [t["trace_id"] for t in body["traces"]] == ["turn-0", "turn-2"]
        assert client.get("/ui/api/sessions/nope").status_code == 404

    def test_read_api_filters_logs(self, db: Path) -> None:
        """GET /v5/logs takes session_id, user and tag (repeatable); its total counts matches."""
        with ServerThread(create_app(db_path=db, api_keys=[KEY])) as server:

            def ids(params: list[tuple[str, str]]) -> list[str]:
                response = httpx2.get(
                    server.url + "/v5/logs", params=params, headers={"X-API-KEY": KEY}
                )
                assert response.status_code == 200
                return [r["log_id"] for r in response.json()["records"]]

            assert ids([("session_id", "conv-1")]) == ["turn-2", "turn-0"]
            assert ids([("user", "bob")]) == ["turn-1"]
            assert ids([("tag", "web"), ("tag", "beta")]) == ["turn-2"]
            assert ids([("tag", "nope")]) == []
            paged = httpx2.get(
                server.url + "/v5/logs",
                params=[("user", "ann"), ("size", "1")],
                headers={"X-API-KEY": KEY},
            ).json()
            assert (len(paged["records"]), paged["total"]) == (1, 2)  # the total is filtered too


@pytest.fixture(name="page")
def fixture_page(db: Path) -> Iterator[str]:
    """The web app over the store, served by uvicorn on a free 127.0.0.1 port."""
    with ServerThread(create_web_app(SqliteStore(db, create=False))) as server:
        yield server.url


def _turns(driver: Any) -> list[str]:
    ids: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('#conversation .turn')].map(t => t.dataset.traceId)"
    )
    return ids


def test_page_filters_previews_and_shows_a_session_as_a_conversation(
    page: str, browser: Any
) -> None:
    """The list shows input previews and filters; a session opens as its turns in order, with
    their feedback."""
    browser.get(page + "/?poll=300#/")
    _wait(browser, lambda d: _rows(d) == ["turn-3", "turn-2", "turn-1", "turn-0", "agent"])
    row = browser.find_element("css selector", 'tr[data-trace-id="turn-3"]')
    assert "<b>no session</b>" in row.find_element("css selector", ".preview").text
    browser.get(page + "/?poll=300#/?user=ann")
    _wait(browser, lambda d: _rows(d) == ["turn-2", "turn-0"])
    browser.find_element("css selector", 'tr[data-trace-id="turn-2"] a.session-tag').click()
    _wait(browser, lambda d: _turns(d) == ["turn-0", "turn-2"])
    text = browser.find_element("id", "conversation").text
    assert text.index("Hello, who are you?") < text.index("answer 0") < text.index("And what")
    assert text.index("answer 0") < text.index("thumbs_up = 👍 true (user) — spot on")
    assert text.index("thumbs_up") < text.index("And what")
    assert "Session conv-1" in browser.find_element("css selector", ".trace-head h1").text
    browser.find_element("css selector", '.turn[data-trace-id="turn-2"] a.trace-link').click()
    _wait(browser, lambda d: "#/trace/turn-2" in d.current_url)
    _wait(browser, lambda d: d.find_elements("css selector", ".chips .session-link"))


def test_page_shows_a_failed_logs_traceback(page: str, browser: Any) -> None:
    """The detail panel of a failed log shows its traceback in the error box."""
    browser.get(page + "/?poll=300#/trace/turn-3")
    found = _wait(browser, lambda d: d.find_elements("css selector", ".error-box .traceback pre"))
    assert found[0].text == "Traceback (most recent call last):\nKeyError: 'x'"
    metadata = browser.find_elements("css selector", "#detail section.block h3")
    assert "Metadata" not in [h.text for h in metadata]


def test_page_links_a_tool_log_and_the_tool_call_it_answers(page: str, browser: Any) -> None:
    """A tool log names the call it answers (linked to the reply that asked, and back) and
    shows its JSON result as data."""
    browser.get(page + "/?poll=300#/trace/agent?log=agent-tool")
    link = _wait(browser, lambda d: d.find_elements("css selector", "#detail a.tool-call-link"))
    assert link[0].text == "call_7 (from agent/llm)"
    output = browser.find_element("css selector", "#detail .output-json").text
    assert output == '{\n  "hits": [\n    1,\n    2\n  ]\n}'
    link[0].click()
    back = _wait(browser, lambda d: d.find_elements("css selector", "#detail a.answered-by"))
    assert "agent-llm" in browser.current_url
    assert back[0].text.strip() == "answered by agent/lookup"
