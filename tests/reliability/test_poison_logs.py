"""One bad log never loses the other logs of its batch (SQLite and JSONL)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import promptrail
from promptrail import trace, update_current
from promptrail.exporters import JsonlExporter, SqliteExporter


def _batch(bad_index: int, total: int) -> None:
    for i in range(total):
        with trace(path=f"ok-{i}"):
            if i == bad_index:
                update_current(prompt_tokens=2**64)


def test_token_count_beyond_64_bits_keeps_the_batch(tmp_path: Path) -> None:
    """A prompt_tokens of 2**64 neither fails its batch in SQLite nor reaches a column."""
    sqlite = SqliteExporter(tmp_path / "out.db")
    promptrail.configure(exporters=[sqlite])
    _batch(100, 201)
    assert promptrail.flush(10.0) is True
    assert sqlite.store.count() == 201
    assert promptrail.stats().failed == 0
    bad = next(r for r in sqlite.store.logs(limit=500) if r.path == "ok-100")
    assert bad.prompt_tokens is None
    assert bad.metadata["promptrail.invalid_fields"] == {"prompt_tokens": 2**64}


def test_negative_token_count_is_not_a_token_count(tmp_path: Path) -> None:
    """A negative token count is moved out of the token column."""
    sqlite = SqliteExporter(tmp_path / "out.db")
    promptrail.configure(exporters=[sqlite])
    with trace(path="neg"):
        update_current(output_tokens=-3)
    assert promptrail.flush(10.0) is True
    (record,) = sqlite.store.logs()
    assert record.output_tokens is None


def test_lone_surrogate_in_path_keeps_the_batch(tmp_path: Path) -> None:
    """A path holding a lone surrogate is cleaned; all 202 logs reach SQLite and JSONL."""
    sqlite = SqliteExporter(tmp_path / "out.db")
    jsonl = tmp_path / "out.jsonl"
    promptrail.configure(exporters=[sqlite, JsonlExporter(jsonl)])
    for i in range(201):
        with trace(path=f"ok-{i}"):
            pass
    with trace(path=os.fsdecode(b"report-\xff.txt")):
        pass
    assert promptrail.flush(10.0) is True
    assert sqlite.store.count() == 202
    lines = jsonl.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 202
    assert json.loads(lines[-1])["path"] == "report-\ufffd.txt"


def test_failed_sqlite_batch_is_retried_record_by_record(tmp_path: Path) -> None:
    """A record the database rejects fails alone, counted once; the rest of its batch is stored."""
    db = tmp_path / "out.db"
    sqlite = SqliteExporter(db)
    sqlite.store.count()  # creates the schema
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TRIGGER reject BEFORE INSERT ON logs WHEN NEW.path = 'poison' "
        "BEGIN SELECT RAISE(ABORT, 'rejected'); END"
    )
    conn.commit()
    conn.close()
    promptrail.configure(exporters=[sqlite])
    for i in range(50):
        with trace(path="poison" if i == 25 else f"ok-{i}"):
            pass
    assert promptrail.flush(10.0) is True
    stats = promptrail.stats()
    assert sqlite.store.count() == 49
    assert (stats.exported, stats.failed) == (49, 1)
