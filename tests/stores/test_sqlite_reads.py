"""The SqliteStore read methods the viewer adds: summaries, stats rows and the insert cursor."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import pytest

from promptrail import LogRecord
from promptrail.exporters import SqliteStore

Factory = Callable[..., list[LogRecord]]
NOW = datetime.datetime.now(datetime.UTC)


class TestSqliteStoreReads:
    """Reads made for the viewer, on a real SQLite file."""

    def test_trace_summaries_total_each_trace(self, store: SqliteStore) -> None:
        """A summary carries the root's path, kind, latency and error plus the trace's totals."""
        new, err = store.trace_summaries(["trace-new", "trace-err"])
        assert (new.trace_id, new.path, new.kind, new.logs, new.errors) == (
            "trace-new",
            "support/answer",
            "flow",
            3,
            0,
        )
        assert (new.latency, new.prompt_tokens, new.output_tokens, new.complete) == (
            1.2,
            420,
            38,
            True,
        )
        assert new.cost == pytest.approx(0.0000858)
        assert new.end_time is not None
        assert new.end_time > new.start_time
        assert (err.path, err.errors, err.error, err.cost) == (
            "billing/refund",
            2,
            "RateLimitError: slow down",
            None,
        )

    def test_trace_summaries_skip_unknown_ids(self, store: SqliteStore) -> None:
        """Unknown ids are left out; no ids give no summaries."""
        assert [s.trace_id for s in store.trace_summaries(["nope", "trace-old"])] == ["trace-old"]
        assert store.trace_summaries([]) == []

    def test_trace_without_root_is_summarised_by_its_earliest_log(
        self, tmp_path: Path, support_trace: Factory
    ) -> None:
        """Until the root is stored, the earliest log names the trace and it is incomplete."""
        store = SqliteStore(tmp_path / "partial.db")
        store.write(support_trace("t")[1:])
        (summary,) = store.trace_summaries(["t"])
        assert (summary.path, summary.kind, summary.logs) == ("support/search-docs", "tool", 2)
        assert (summary.complete, summary.latency) == (False, None)

    def test_recent_trace_ids_since(self, store: SqliteStore) -> None:
        """``since`` keeps the traces with a log started at or after that time."""
        since = (NOW - datetime.timedelta(hours=1)).isoformat()
        assert store.recent_trace_ids(10, since=since) == ["trace-new", "trace-err"]
        assert store.recent_trace_ids(10) == ["trace-new", "trace-err", "trace-old"]

    def test_log_summaries_filter_by_path_and_time(self, store: SqliteStore) -> None:
        """Stats rows are the indexed columns of the matching logs."""
        rows = store.log_summaries(path="support")
        assert len(rows) == 6
        assert {r.path for r in rows} == {
            "support/answer",
            "support/search-docs",
            "support/draft-reply",
        }
        recent = store.log_summaries(since=(NOW - datetime.timedelta(hours=1)).isoformat())
        assert len(recent) == 5
        reply = next(r for r in rows if r.path == "support/draft-reply")
        assert (reply.kind, reply.latency, reply.prompt_tokens, reply.output_tokens) == (
            "prompt",
            0.85,
            420,
            38,
        )

    def test_cursor_and_logs_after_follow_inserts(
        self, tmp_path: Path, support_trace: Factory
    ) -> None:
        """The cursor grows with inserts; logs_after returns only what came later, in order."""
        store = SqliteStore(tmp_path / "follow.db")
        assert store.cursor() == 0
        assert store.logs_after(0) == (0, [])
        records = support_trace("t")
        store.write(records[1:])
        start = store.cursor()
        assert start == 2
        store.write(records[:1] + records[1:])  # a duplicate is ignored, not re-inserted
        cursor, new = store.logs_after(start)
        assert (cursor, [r.log_id for r in new]) == (3, ["t"])
        cursor, all_logs = store.logs_after(0, limit=2)
        assert (cursor, [r.log_id for r in all_logs]) == (2, ["t-search", "t-reply"])
