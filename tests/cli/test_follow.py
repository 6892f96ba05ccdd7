"""Following a store: traces come out once their root is stored."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from promptrail import LogRecord
from promptrail.cli._follow import Follower
from promptrail.exporters import SqliteStore

Factory = Callable[..., list[LogRecord]]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class TestFollower:
    """``Follower.poll`` groups new logs into finished traces."""

    def test_trace_comes_out_when_its_root_is_stored(
        self, tmp_path: Path, support_trace: Factory
    ) -> None:
        """Children wait for their root; then the whole trace comes out once."""
        store = SqliteStore(tmp_path / "f.db")
        follower = Follower(store)
        root, *children = support_trace("t")
        store.write(children)
        assert follower.poll() == []
        store.write([root])
        (new,) = follower.poll()
        assert (new.trace_id, new.late) == ("t", False)
        assert [r.log_id for r in new.records] == ["t", "t-search", "t-reply"]
        assert follower.poll() == []

    def test_only_logs_stored_after_it_started(
        self, store: SqliteStore, support_trace: Factory
    ) -> None:
        """What was stored before the follower began is not new (unless from_start)."""
        assert Follower(store).poll() == []
        traces = Follower(store, from_start=True).poll()
        assert [t.trace_id for t in traces] == ["trace-old", "trace-err", "trace-new"]

    def test_late_logs_come_out_alone(self, tmp_path: Path, support_trace: Factory) -> None:
        """A log stored after its trace was shown comes out marked late."""
        store = SqliteStore(tmp_path / "f.db")
        follower = Follower(store)
        root, search, reply = support_trace("t")
        store.write([root, search])
        assert [t.trace_id for t in follower.poll()] == ["t"]
        store.write([reply])
        (late,) = follower.poll()
        assert (late.trace_id, late.late, [r.log_id for r in late.records]) == (
            "t",
            True,
            ["t-reply"],
        )

    def test_filters_by_path_and_errors(
        self, tmp_path: Path, support_trace: Factory, failing_trace: Factory
    ) -> None:
        """Only traces with a log at the path (or folder), or with an error, come out."""
        store = SqliteStore(tmp_path / "f.db")
        by_path = Follower(store, path="support/")
        exact = Follower(store, path="billing/classify")
        errors = Follower(store, errors_only=True)
        store.write(support_trace("s") + failing_trace("b"))
        assert [t.trace_id for t in by_path.poll()] == ["s"]
        assert [t.trace_id for t in exact.poll()] == ["b"]
        assert [t.trace_id for t in errors.poll()] == ["b"]
        # late logs of a trace that was filtered out stay hidden
        store.write([support_trace("b")[2].model_copy(update={"log_id": "b-late"})])
        assert by_path.poll() == []

    def test_rootless_trace_comes_out_after_settling(
        self, tmp_path: Path, support_trace: Factory
    ) -> None:
        """A trace whose root never arrives is shown as it is after ``settle`` seconds."""
        store = SqliteStore(tmp_path / "f.db")
        clock = _Clock()
        follower = Follower(store, settle=5.0, clock=clock)
        store.write(support_trace("t")[1:])
        assert follower.poll() == []
        clock.now = 4.9
        assert follower.poll() == []
        clock.now = 5.0
        (new,) = follower.poll()
        assert [r.log_id for r in new.records] == ["t-search", "t-reply"]

    def test_backlog_lists_recent_traces_oldest_first(self, store: SqliteStore) -> None:
        """The backlog is the last N traces, oldest first; their late logs are recognised."""
        follower = Follower(store)
        assert [t.trace_id for t in follower.backlog(2)] == ["trace-err", "trace-new"]
        assert follower.backlog(0) == []

    def test_reads_many_new_logs_in_pages(self, tmp_path: Path, support_trace: Factory) -> None:
        """More new logs than one page still all come out in one poll."""
        store = SqliteStore(tmp_path / "f.db")
        follower = Follower(store)
        for i in range(400):  # 1200 logs, more than one page of 1000
            store.write(support_trace(f"t{i:03d}"))
        assert len(follower.poll()) == 400

    def test_remembers_a_bounded_number_of_traces(
        self, tmp_path: Path, support_trace: Factory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Only the most recent shown traces are remembered; older late logs start afresh."""
        monkeypatch.setattr("promptrail.cli._follow._REMEMBER", 2)
        store = SqliteStore(tmp_path / "f.db")
        follower = Follower(store)
        for name in ("a", "b", "c"):
            store.write(support_trace(name)[:2])
        assert len(follower.poll()) == 3
        store.write([support_trace("c")[2], support_trace("a")[2]])
        late = follower.poll()
        assert [(t.trace_id, t.late) for t in late] == [("c", True)]  # "a" was forgotten
