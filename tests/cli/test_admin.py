"""``promptrail prune`` and ``promptrail db upgrade``, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.traces import NOW, support_trace

from promptrail.cli._main import main
from promptrail.stores._open import open_store


@pytest.fixture(name="target", params=["sqlite", "postgres"])
def fixture_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store of each kind holding a 40-day-old trace and a new one."""
    if request.param == "postgres":
        target = str(request.getfixturevalue("postgres_url"))
    else:
        target = str(tmp_path / "admin.db")
    store = open_store(target)
    store.insert(support_trace("old", base=NOW - datetime.timedelta(days=40)))
    store.insert(support_trace("new"))
    store.close()
    return target


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_prune_deletes_traces_older_than_the_age(target: str) -> None:
    """prune --older-than 30d deletes the old trace and keeps the new one."""
    status, out = run("prune", "--older-than", "30d", "--db", target)
    assert (status, "pruned 3 logs") == (0, out.split(": ", 1)[1][:13])
    store = open_store(target, create=False)
    try:
        assert (store.trace("old"), len(store.trace("new"))) == ([], 3)
    finally:
        store.close()


def test_db_upgrade_reports_the_schema_version(target: str) -> None:
    """db upgrade on a current store says its version and changes nothing."""
    status, out = run("db", "upgrade", "--db", target)
    assert status == 0
    assert "schema version 3" in out
    assert "promptrail:***@" in out or "postgresql" not in out  # no password printed


def test_db_upgrade_creates_a_postgres_schema(postgres_url: str) -> None:
    """db upgrade on an empty database applies the migrations; readers then open it."""
    with pytest.raises(Exception, match="no promptrail schema"):
        open_store(postgres_url, create=False)
    assert run("db", "upgrade", "--db", postgres_url)[0] == 0
    store = open_store(postgres_url, create=False)
    try:
        assert store.count() == 0
    finally:
        store.close()


def test_bad_age_is_a_usage_error() -> None:
    """An age that is not a number and a unit is refused by the parser."""
    with pytest.raises(SystemExit):
        run("prune", "--older-than", "soon", "--db", "x.db")


def test_show_on_an_unreachable_database_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    """A PostgreSQL URL nobody answers is reported (exit 3), not a traceback."""
    status, _ = run("show", "--db", "postgresql://u:secret@127.0.0.1:1/db")
    assert status == 3
    err = capsys.readouterr().err
    assert "unavailable" in err
    assert "secret" not in err


def test_serve_retain_prunes_old_traces(
    tmp_path: Path, serve_command: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """serve --retain 30d deletes a 40-day-old trace by itself and keeps the new one."""
    db = tmp_path / "retain.db"
    store = open_store(str(db))
    store.insert(support_trace("old", base=NOW - datetime.timedelta(days=40)))
    store.insert(support_trace("new"))
    monkeypatch.setenv("PROMPTRAIL_RETAIN_INTERVAL", "0.2")
    served = serve_command("--db", str(db), "--retain", "30d", "--no-viewer", keys="k" * 20)
    deadline = time.monotonic() + 10
    while store.trace("old") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert store.trace("old") == []
    assert len(store.trace("new")) == 3
    assert "deleting traces older than 30 days" in served.stop()
    store.close()
