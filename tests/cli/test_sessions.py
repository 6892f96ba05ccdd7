"""``promptrail show --session/--user/--tag``: traces of one conversation, user or tag."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

from tests.fixtures.traces import NOW, log

from promptrail.cli._main import main
from promptrail.exporters import SqliteStore


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), out)
    return status, out.getvalue()


def _fill(db: Path) -> str:
    store = SqliteStore(db)
    for n, (session, user, tags) in enumerate(
        [("s-1", "ann", ["web"]), ("s-2", "bob", ["web", "beta"]), ("s-1", "ann", [])]
    ):
        base = NOW - datetime.timedelta(minutes=10 - n)
        trace_id = f"turn-{n}"
        store.write(
            [
                log(
                    trace_id,
                    "chat/turn",
                    trace_id=trace_id,
                    kind="flow",
                    base=base,
                    session_id=session,
                    user=user,
                    tags=tags,
                )
            ]
        )
    store.close()
    return str(db)


def _traces(text: str) -> list[str]:
    return [line.split()[1] for line in text.splitlines() if line.startswith("trace ")]


def test_show_filters_by_session_user_and_tag(tmp_path: Path) -> None:
    """Each option keeps the matching traces; --tag repeats as 'every tag'."""
    db = _fill(tmp_path / "p.db")
    assert _traces(run("show", "--db", db, "--session", "s-1")[1]) == ["turn-2", "turn-0"]
    assert _traces(run("show", "--db", db, "--user", "bob")[1]) == ["turn-1"]
    assert _traces(run("show", "--db", db, "--tag", "web")[1]) == ["turn-1", "turn-0"]
    assert _traces(run("show", "--db", db, "--tag", "web", "--tag", "beta")[1]) == ["turn-1"]
    status, text = run("show", "--db", db, "--session", "nope")
    assert status == 0
    assert "no matching traces" in text


def test_header_names_the_session_user_and_tags(tmp_path: Path) -> None:
    """A trace's header line shows its session, user and tags."""
    db = _fill(tmp_path / "p.db")
    header = run("show", "--db", db, "turn-1", "--color", "never")[1].splitlines()[0]
    assert "session s-2" in header
    assert "user bob" in header
    assert "tag web" in header
    assert "tag beta" in header


def test_full_details_show_the_traceback_once(tmp_path: Path) -> None:
    """show --full prints a failed log's traceback as its own field, not inside the metadata."""
    store = SqliteStore(tmp_path / "p.db")
    traceback = 'Traceback (most recent call last):\n  File "app.py", line 3\nKeyError: 1'
    store.write(
        [
            log(
                "bad",
                "app/fail",
                trace_id="bad",
                error="KeyError: 1",
                metadata={"error_traceback": traceback, "region": "eu"},
            )
        ]
    )
    store.close()
    text = run("show", "--db", str(tmp_path / "p.db"), "bad", "--full", "--color", "never")[1]
    assert text.count('File "app.py", line 3') == 1
    assert "traceback Traceback (most recent call last):" in text
    assert '{"region": "eu"}' in text
