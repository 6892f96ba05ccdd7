"""Sessions, users and tags in the stores: indexed filters, summaries, upgrades of older files."""

from __future__ import annotations

import datetime
import sqlite3
from pathlib import Path

import pytest
from tests.fixtures.traces import NOW, log
from tests.stores.test_contract import Opener, fixture_open_any, fixture_store

from promptrail import ChatMessage, LogRecord
from promptrail._record.encode import dump_json
from promptrail.stores import _sqlite_schema
from promptrail.stores._base import PREVIEW_CHARS, NotAStoreError, Store, StoreUnavailableError
from promptrail.stores._open import open_store

__all__ = ["fixture_open_any", "fixture_store"]


def ago(minutes: float) -> datetime.datetime:
    return NOW - datetime.timedelta(minutes=minutes)


def turn(trace_id: str, minutes: float, **fields: object) -> list[LogRecord]:
    """A two-log trace whose logs both carry ``fields`` (session, user, tags)."""
    base = ago(minutes)
    return [
        log(trace_id, "chat/turn", trace_id=trace_id, kind="flow", base=base, **fields),
        log(
            f"{trace_id}-llm",
            "chat/llm",
            trace_id=trace_id,
            parent=trace_id,
            start=0.1,
            base=base,
            **fields,
        ),
    ]


@pytest.fixture(name="chats")
def fixture_chats(store: Store) -> Store:
    """Two sessions of two users, tagged, and one trace with none of these."""
    store.insert(turn("a1", 30, session_id="s-a", user="ann", tags=["web", "beta"]))
    store.insert(turn("b1", 20, session_id="s-b", user="bob", tags=["web"]))
    store.insert(turn("a2", 10, session_id="s-a", user="ann", tags=["web"]))
    store.insert(turn("plain", 5))
    return store


class TestFilters:
    """recent_trace_ids() and logs() narrow by session, user and every tag given."""

    def test_traces_by_session_user_and_tags(self, chats: Store) -> None:
        """Each filter lists the matching traces, newest first; filters combine."""
        assert chats.recent_trace_ids(10, session_id="s-a") == ["a2", "a1"]
        assert chats.recent_trace_ids(10, user="bob") == ["b1"]
        assert chats.recent_trace_ids(10, tags=["web"]) == ["a2", "b1", "a1"]
        assert chats.recent_trace_ids(10, tags=["web", "beta"]) == ["a1"]
        assert chats.recent_trace_ids(10, session_id="s-a", tags=["beta"]) == ["a1"]
        assert chats.recent_trace_ids(10, user="ann", session_id="s-b") == []
        assert chats.recent_trace_ids(10, tags=["nope"]) == []
        assert chats.recent_trace_ids(10) == ["plain", "a2", "b1", "a1"]

    def test_logs_by_session_user_and_tags(self, chats: Store) -> None:
        """logs() filters the same way."""
        assert {r.log_id for r in chats.logs(session_id="s-b")} == {"b1", "b1-llm"}
        assert {r.trace_id for r in chats.logs(user="ann", tags=["beta"])} == {"a1"}

    def test_update_rewrites_the_columns(self, chats: Store) -> None:
        """An updated log is found by its new session, user and tags, not its old ones."""
        old = chats.get("plain")
        assert old is not None
        chats.update(old.model_copy(update={"session_id": "s-c", "user": "cy", "tags": ["late"]}))
        assert chats.recent_trace_ids(10, session_id="s-c") == ["plain"]
        assert chats.recent_trace_ids(10, tags=["late"]) == ["plain"]
        chats.update(old.model_copy(update={"tags": ["other"]}))
        assert chats.recent_trace_ids(10, tags=["late"]) == []
        assert chats.recent_trace_ids(10, session_id="s-c") == []

    def test_prune_removes_tags_too(self, chats: Store) -> None:
        """A pruned trace is no longer found by its tags."""
        assert chats.prune((ago(15)).isoformat()) == 4
        assert chats.recent_trace_ids(10, tags=["web"]) == ["a2"]


def test_summaries_carry_session_user_and_preview(store: Store) -> None:
    """A trace's summary has its head's session, user, input preview and reply preview."""
    long_text = "word " * 100
    store.insert(
        [
            log(
                "m",
                "chat/reply",
                trace_id="m",
                session_id="s",
                user="u",
                messages=[
                    ChatMessage(role="system", content="be brief"),
                    ChatMessage(role="user", content="first question"),
                    ChatMessage(role="assistant", content="an answer"),
                    ChatMessage(
                        role="user", content=[{"type": "text", "text": "second\nquestion"}]
                    ),
                    ChatMessage(role="assistant", content="thinking"),
                ],
                output_message=ChatMessage(role="assistant", content="the\nanswer"),
            ),
            log(
                "i",
                "chat/tool",
                trace_id="i",
                inputs={"query": long_text, "k": 3},
                output="out",
                base=ago(1),
            ),
            log("n", "chat/none", trace_id="n", inputs={}, base=ago(2)),
            log("q", "chat/flow", trace_id="q", inputs={"question": "Why?\n"}, base=ago(3)),
        ]
    )
    by_id = {s.trace_id: s for s in store.trace_summaries(["m", "i", "n", "q"])}
    assert (by_id["m"].session_id, by_id["m"].user, by_id["m"].preview) == (
        "s",
        "u",
        "second question",
    )
    preview = by_id["i"].preview
    assert preview is not None
    assert preview.startswith("{")  # several inputs: their JSON (key order is the store's)
    assert '"query":' in preview
    assert "word word" in preview
    assert len(preview) == PREVIEW_CHARS
    assert preview.endswith("…")
    assert (by_id["m"].reply, by_id["i"].reply) == ("the answer", "out")
    assert (by_id["n"].preview, by_id["n"].reply) == (None, None)
    assert by_id["q"].preview == "Why?"  # one text argument: its text
    assert by_id["n"].session_id is None


# -- existing databases upgrade --------------------------------------------------------------

_SQLITE_V1 = """
CREATE TABLE promptrail_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE logs (
    log_id TEXT PRIMARY KEY, trace_id TEXT NOT NULL, trace_parent_id TEXT, path TEXT NOT NULL,
    kind TEXT NOT NULL, start_time TEXT NOT NULL, end_time TEXT, latency REAL, error TEXT,
    prompt_tokens INTEGER, output_tokens INTEGER, cost REAL, body TEXT NOT NULL
);
INSERT INTO promptrail_meta VALUES ('schema', '1');
"""


def _v1_sqlite(path: Path, records: list[LogRecord]) -> str:
    conn = sqlite3.connect(path)
    conn.executescript(_SQLITE_V1)
    conn.executemany(
        "INSERT INTO logs (log_id, trace_id, path, kind, start_time, body) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            (r.log_id, r.trace_id, r.path, r.kind, r.start_time.isoformat(), dump_json(r).decode())
            for r in records
        ],
    )
    conn.commit()
    conn.close()
    return str(path)


def _v1_postgres(url: str, records: list[LogRecord]) -> str:
    import psycopg

    from promptrail.stores._postgres_schema import MIGRATIONS

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(MIGRATIONS[0][1].encode())
        conn.execute(
            "CREATE TABLE promptrail_schema (version integer PRIMARY KEY, applied_at timestamptz)"
        )
        conn.execute("INSERT INTO promptrail_schema (version) VALUES (1)")
        for r in records:
            conn.execute(
                "INSERT INTO promptrail_logs (log_id, trace_id, path, kind, start_time, body) "
                "VALUES (%s, %s, %s, %s, %s, %s::jsonb)",
                (
                    r.log_id,
                    r.trace_id,
                    r.path,
                    r.kind,
                    r.start_time.isoformat(),
                    dump_json(r).decode(),
                ),
            )
    return url


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.parametrize("create", [True, False])
def test_a_version_1_database_upgrades_and_filters_old_logs(
    kind: str, create: bool, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Opening a store made before sessions adds the columns and fills them from stored bodies."""
    records = [*turn("old-a", 9, session_id="s", user="ann", tags=["x", "y"]), *turn("old-b", 8)]
    if kind == "postgres":
        target = _v1_postgres(str(request.getfixturevalue("postgres_url")), records)
    else:
        target = _v1_sqlite(tmp_path / "v1.db", records)
    store = open_store(target, create=create)
    try:
        assert store.schema_version() == 3
        assert store.recent_trace_ids(10, session_id="s") == ["old-a"]
        assert store.recent_trace_ids(10, user="ann", tags=["y"]) == ["old-a"]
        assert store.recent_trace_ids(10) == ["old-b", "old-a"]
        store.insert(turn("new", 1, session_id="s", tags=["x"]))
        assert store.recent_trace_ids(10, tags=["x"]) == ["new", "old-a"]
    finally:
        store.close()


def test_schema_version_is_current(open_any: Opener) -> None:
    """A new store is at version 3."""
    assert open_any().schema_version() == 3


def test_summaries_carry_the_traces_scores(store: Store) -> None:
    """A summary lists its trace's scores in order: name, value, source, comment, judged log."""
    store.insert(turn("t", 5, session_id="s"))
    store.insert(
        [
            log(
                "score-1",
                "thumbs_up",
                trace_id="t",
                parent="t-llm",
                kind="evaluator",
                parent_id="t-llm",
                judgment=True,
                source="user",
                metadata={"comment": "exactly right"},
                base=ago(4),
            ),
            log(
                "score-2",
                "rating",
                trace_id="t",
                parent="t",
                kind="evaluator",
                judgment=4.5,
                base=ago(3),
            ),
        ]
    )
    (summary,) = store.trace_summaries(["t"])
    assert summary.scores == (
        {
            "name": "thumbs_up",
            "value": True,
            "source": "user",
            "comment": "exactly right",
            "log_id": "t-llm",
        },
        {"name": "rating", "value": 4.5, "source": None, "comment": None, "log_id": "t"},
    )


@pytest.mark.parametrize(
    ("problem", "error"),
    [
        ("attempt to write a readonly database", NotAStoreError),
        ("database is locked", StoreUnavailableError),
    ],
)
def test_an_upgrade_that_cannot_write_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problem: str, error: type[Exception]
) -> None:
    """A file that may not be written says how to upgrade it; a locked one is unavailable."""
    path = _v1_sqlite(tmp_path / "old.db", turn("t", 1))

    def cannot(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError(problem)

    monkeypatch.setattr(_sqlite_schema, "upgrade", cannot)
    with pytest.raises(error, match="could not be upgraded") as raised:
        open_store(path, create=False)
    if error is NotAStoreError:
        assert "promptrail db upgrade --db" in str(raised.value)
