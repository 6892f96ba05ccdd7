"""The built-in exporters: in-memory, JSONL, SQLite, console."""

from __future__ import annotations

import io
import json
import multiprocessing
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from promptrail import ConfigurationError, LogRecord
from promptrail.exporters import (
    ConsoleExporter,
    ExportResult,
    InMemoryExporter,
    JsonlExporter,
    NotAStoreError,
    SqliteExporter,
    SqliteStore,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make(
    log_id: str, *, trace_id: str | None = None, parent: str | None = None, **kw: object
) -> LogRecord:
    """A record with the given ids."""
    return LogRecord.model_validate(
        {
            "log_id": log_id,
            "path": kw.pop("path", "p"),
            "trace_id": trace_id or log_id,
            "trace_parent_id": parent,
            "start_time": kw.pop("start_time", T0),
            "created_at": T0,
            **kw,
        }
    )


class TestInMemoryExporter:
    """InMemoryExporter keeps records in order, bounded if asked."""

    def test_records_clear_and_maxlen(self) -> None:
        """Records are kept in order; maxlen keeps the newest; clear() empties."""
        exporter = InMemoryExporter(maxlen=2)
        assert exporter.export([make("a"), make("b"), make("c")]) is ExportResult.SUCCESS
        assert [r.log_id for r in exporter.records] == ["b", "c"]
        exporter.clear()
        assert exporter.records == []

    def test_refuses_after_shutdown(self) -> None:
        """Exports after shutdown fail."""
        exporter = InMemoryExporter()
        exporter.shutdown()
        assert exporter.export([make("a")]) is ExportResult.FAILURE
        assert exporter.force_flush() is True


class TestJsonlExporter:
    """JsonlExporter appends one JSON body per line."""

    def test_round_trip(self, tmp_path: Path) -> None:
        """Each line parses back into the same record."""
        path = tmp_path / "deep" / "logs.jsonl"
        exporter = JsonlExporter(path)
        records = [make("a", output="x"), make("b", trace_id="a", parent="a")]
        assert exporter.export(records) is ExportResult.SUCCESS
        lines = path.read_text().splitlines()
        assert [LogRecord.model_validate_json(line) for line in lines] == records
        assert "prompt_tokens" not in json.loads(lines[0])  # None fields left out
        assert exporter.path == path
        exporter.shutdown()
        assert exporter.export(records) is ExportResult.FAILURE

    def test_concurrent_writers_never_interleave(self, tmp_path: Path) -> None:
        """Eight threads with their own exporters on one file produce only whole lines."""
        path = tmp_path / "shared.jsonl"
        big = "y" * 50_000

        def write(k: int) -> None:
            exporter = JsonlExporter(path)
            for i in range(20):
                exporter.export([make(f"{k}-{i}", output=big)])

        threads = [threading.Thread(target=write, args=(k,)) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ids = [json.loads(line)["log_id"] for line in path.read_text().splitlines()]
        assert sorted(ids) == sorted(f"{k}-{i}" for k in range(8) for i in range(20))


def _write_many(path: str, k: int) -> None:
    exporter = SqliteExporter(path)
    for i in range(50):
        exporter.export([make(f"p{k}-{i}")])


class TestSqlite:
    """The embedded store."""

    def test_round_trip_and_queries(self, tmp_path: Path) -> None:
        """Records come back equal; trace(), logs() filters and recent_trace_ids() work."""
        exporter = SqliteExporter(tmp_path / "t.db")
        root = make("r", path="support/flow", start_time=T0)
        child = make(
            "c",
            trace_id="r",
            parent="r",
            path="support/answer",
            error="E: x",
            start_time=T0.replace(second=1),
        )
        other = make("o", path="other", start_time=T0.replace(second=2))
        assert exporter.export([child, root, other]) is ExportResult.SUCCESS  # child first
        store = exporter.store
        assert store.trace("r") == [root, child]
        assert [r.log_id for r in store.logs(path="support")] == ["c", "r"]
        assert [r.log_id for r in store.logs(errors_only=True)] == ["c"]
        assert [r.log_id for r in store.logs(trace_id="r", limit=1)] == ["c"]
        assert store.recent_trace_ids(1) == ["o"]
        assert store.recent_trace_ids(5, path="support/") == ["r"]
        assert store.count() == 3

    def test_idempotent_on_log_id(self, tmp_path: Path) -> None:
        """Writing the same record twice stores it once."""
        store = SqliteStore(tmp_path / "t.db")
        assert store.write([make("a")]) == 1
        assert store.write([make("a"), make("b")]) == 1
        assert store.count() == 2

    def test_path_filter_escapes_wildcards(self, tmp_path: Path) -> None:
        """A path with % or _ matches literally, not as a LIKE pattern."""
        store = SqliteStore(tmp_path / "t.db")
        store.write([make("a", path="a_b/x"), make("b", path="aXb/x")])
        assert [r.log_id for r in store.logs(path="a_b")] == ["a"]

    @pytest.mark.parametrize("opened", [1, 2])
    def test_wal_mode_and_indexes(self, tmp_path: Path, opened: int) -> None:
        """The file is in WAL mode with the documented indexes, however often it is opened."""
        for n in range(opened):
            store = SqliteStore(tmp_path / "t.db")
            store.write([make(f"a{n}")])
            store.close()
        conn = sqlite3.connect(tmp_path / "t.db")
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
        }
        assert {
            "logs_trace_id",
            "logs_path",
            "logs_start_time",
            "logs_session_id",
            "logs_user_id",
        } <= names
        assert "logs_trace_parent_id" not in names  # no query needs it; every insert paid for it

    def test_write_counts_new_logs_despite_a_trigger(self, tmp_path: Path) -> None:
        """write() counts the logs it stored, not rows a user's trigger changed as well."""
        store = SqliteStore(tmp_path / "t.db")
        store.write([])
        conn = sqlite3.connect(tmp_path / "t.db")
        conn.executescript(
            "CREATE TABLE audit (log_id TEXT);"
            "CREATE TRIGGER audited AFTER INSERT ON logs "
            "BEGIN INSERT INTO audit VALUES (new.log_id); END;"
        )
        conn.close()
        assert store.write([make("a"), make("b"), make("a")]) == 2
        store.close()

    @pytest.mark.parametrize(
        ("where", "index"),
        [("session_id = ?", "logs_session_id"), ("user_id = ?", "logs_user_id")],
    )
    def test_session_and_user_filters_use_their_index(
        self, tmp_path: Path, where: str, index: str
    ) -> None:
        """The session and user filters are index searches (their indexes hold set values only)."""
        SqliteStore(tmp_path / "t.db").write([make("a")])
        conn = sqlite3.connect(tmp_path / "t.db")
        plan = conn.execute(
            f"EXPLAIN QUERY PLAN SELECT body FROM logs WHERE {where} ORDER BY start_time DESC",
            ("x",),
        ).fetchall()
        assert any(f"USING INDEX {index}" in row[-1] for row in plan)

    def test_several_processes_write_one_file(self, tmp_path: Path) -> None:
        """Four processes writing one file concurrently lose nothing."""
        path = str(tmp_path / "multi.db")
        SqliteStore(path).write([])
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_write_many, args=(path, k)) for k in range(4)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
            assert proc.exitcode == 0
        assert SqliteStore(path).count() == 200

    def test_reader_rejects_missing_and_foreign_files(self, tmp_path: Path) -> None:
        """Readers get NotAStoreError for a missing file or a non-promptrail database."""
        with pytest.raises(NotAStoreError, match="no such"):
            SqliteStore(tmp_path / "missing.db", create=False)
        foreign = tmp_path / "foreign.db"
        sqlite3.connect(foreign).execute("CREATE TABLE x (y)").connection.commit()
        with pytest.raises(NotAStoreError, match="not a promptrail database"):
            SqliteStore(foreign, create=False)
        junk = tmp_path / "junk.db"
        junk.write_text("not sqlite at all " * 100)
        with pytest.raises(NotAStoreError):
            SqliteStore(junk, create=False)

    def test_shutdown_refuses_exports(self, tmp_path: Path) -> None:
        """After shutdown the exporter fails instead of writing."""
        exporter = SqliteExporter(tmp_path / "t.db")
        exporter.shutdown()
        assert exporter.export([make("a")]) is ExportResult.FAILURE
        assert exporter.force_flush() is True


class TestRepr:
    """A printed configuration shows where each file exporter writes."""

    def test_file_exporters_show_their_path(self, tmp_path: Path) -> None:
        """repr() of the JSONL and SQLite exporters is a constructor call with the path."""
        jsonl, db = tmp_path / "t.jsonl", tmp_path / "t.db"
        assert repr(JsonlExporter(jsonl)) == f"JsonlExporter({str(jsonl)!r})"
        assert repr(SqliteExporter(db)) == f"SqliteExporter({str(db)!r})"


class TestConsoleExporter:
    """One readable line per record."""

    def test_a_path_is_not_a_stream(self) -> None:
        """A path given as the stream raises ConfigurationError where the exporter is made."""
        with pytest.raises(ConfigurationError, match="stream"):
            ConsoleExporter("traces.log")  # type: ignore[arg-type]

    def test_lines(self) -> None:
        """Path, kind, duration, tokens and error appear on the line."""
        stream = io.StringIO()
        exporter = ConsoleExporter(stream)
        exporter.export(
            [
                make(
                    "abc",
                    path="support/answer",
                    provider_latency=0.0123,
                    prompt_tokens=3,
                    output_tokens=4,
                    error="ValueError: x",
                )
            ]
        )
        line = stream.getvalue()
        assert line.startswith("[prompt] support/answer 12.3ms tokens=3+4 ERROR ValueError: x")
        assert exporter.force_flush() is True
        exporter.shutdown()
