"""The store contract: SQLite and PostgreSQL answer every operation alike."""

from __future__ import annotations

import datetime
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tests.fixtures.traces import NOW, failing_trace, log, support_trace

from promptrail import LogRecord
from promptrail.stores._base import InsertResult, NotAStoreError, Store
from promptrail.stores._open import open_store

Opener = Callable[..., Store]


@pytest.fixture(name="open_any", params=["sqlite", "postgres"])
def fixture_open_any(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Open a store of each kind: ``open_any(create=...)``, all closed at teardown."""
    if request.param == "postgres":
        target = str(request.getfixturevalue("postgres_url"))
    else:
        target = str(tmp_path / "contract.db")
    opened: list[Store] = []

    def open_(*, create: bool = True) -> Store:
        store = open_store(target, create=create)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture(name="store")
def fixture_store(open_any: Opener) -> Store:
    """An empty store of each kind."""
    return open_any()


def ago(**delta: float) -> datetime.datetime:
    return NOW - datetime.timedelta(**delta)


class TestWrites:
    """Inserts are idempotent on log_id, with one result per record; updates replace."""

    def test_insert_reports_each_record(self, store: Store) -> None:
        """New ids are created; a stored id or one repeated in the batch is a duplicate."""
        a, b = support_trace("t1")[:2]
        assert store.insert([a]) == [InsertResult(a.log_id, "created")]
        assert store.insert([a, b, b]) == [
            InsertResult(a.log_id, "duplicate"),
            InsertResult(b.log_id, "created"),
            InsertResult(b.log_id, "duplicate"),
        ]
        assert store.count() == 2
        assert store.insert([]) == []

    def test_first_write_of_an_id_wins(self, store: Store) -> None:
        """A retried log with other content leaves the stored one as it was."""
        first = log("x", "a/b", trace_id="x", output="first")
        store.insert([first])
        store.insert([first.model_copy(update={"output": "second"})])
        stored = store.get("x")
        assert stored is not None
        assert stored.output == "first"

    def test_a_forked_child_writes_and_the_parent_keeps_its_connection(self, store: Store) -> None:
        """After fork() both processes use the store: neither breaks the other's connection."""
        store.insert([log("before", "a/b", trace_id="before")])
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code
            code = 1
            try:
                for i in range(30):  # while the parent writes too
                    store.insert([log(f"child{i}", "a/b", trace_id="child")])
                code = 0 if store.get("before") is not None else 1
            finally:
                os._exit(code)
        for i in range(30):
            store.insert([log(f"parent{i}", "a/b", trace_id="parent")])
        deadline = time.monotonic() + 20
        while not (ended := os.waitpid(pid, os.WNOHANG))[0] and time.monotonic() < deadline:
            time.sleep(0.02)
        if not ended[0]:  # pragma: no cover - a hung child
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on the store")
        assert os.waitstatus_to_exitcode(ended[1]) == 0
        store.insert([log("after", "a/b", trace_id="after")])
        stored = {r.log_id for r in store.logs(limit=None)}
        assert {"before", "child29", "parent29", "after"} <= stored
        assert len(stored) == 62

    def test_update_replaces_a_stored_log(self, store: Store) -> None:
        """update() rewrites a stored log and its columns; an unknown id is False."""
        first = log("x", "a/b", trace_id="x", output="first")
        store.insert([first])
        assert store.update(first.model_copy(update={"output": "done", "error": "boom"}))
        stored = store.get("x")
        assert stored is not None
        assert (stored.output, stored.error) == ("done", "boom")
        assert store.logs(errors_only=True)[0].log_id == "x"
        assert not store.update(log("nope", "a/b", trace_id="nope"))
        assert store.get("nope") is None

    def test_write_counts_new_logs(self, store: Store) -> None:
        """write() returns how many records were new."""
        assert store.write(support_trace("t1")) == 3
        assert store.write(support_trace("t1")) == 0

    def test_write_keeps_the_first_of_a_repeated_id(self, store: Store) -> None:
        """A batch repeating an id, stored or not, keeps the first and counts it once."""
        first = log("x", "a/b", trace_id="x", output="first")
        again = log("x", "a/b", trace_id="x", output="again")
        assert store.write([first, again, log("y", "a/b", trace_id="y")]) == 2
        assert store.write([log("y", "a/b", trace_id="y", output="later")]) == 0
        stored_x, stored_y = store.get("x"), store.get("y")
        assert stored_x is not None
        assert stored_y is not None
        assert (stored_x.output, stored_y.output) == ("first", None)

    def test_write_stores_tags_of_new_logs_only(self, store: Store) -> None:
        """Tags written with a batch filter its new logs; a duplicate's tags are not added."""
        assert store.write([log("t", "a/b", trace_id="t", tags=["red"])]) == 1
        assert store.write([log("t", "a/b", trace_id="t", tags=["blue"])]) == 0
        assert [r.log_id for r in store.logs(tags=["red"])] == ["t"]
        assert store.logs(tags=["blue"]) == []

    def test_text_with_nul_and_unicode_is_stored(self, store: Store) -> None:
        """Odd text (NUL, emoji, quotes, backslashes) does not fail a batch."""
        odd = log("odd", "a/b", trace_id="odd", output='nul\x00 \\u0000 "q" 😀 \\', error="e\x00")
        assert store.insert([odd]) == [InsertResult("odd", "created")]
        stored = store.get("odd")
        assert stored is not None
        assert isinstance(stored.output, str)
        assert stored.output.endswith('"q" 😀 \\')


class TestReads:
    """Filters, ordering, trees and summaries."""

    @pytest.fixture(autouse=True)
    def _filled(self, store: Store) -> None:
        store.insert(support_trace("trace-old", base=ago(hours=3)))
        store.insert(failing_trace("trace-err", base=ago(minutes=20)))
        store.insert(support_trace("trace-new", base=ago(minutes=5)))
        store.insert([log("sib", "support/answerx", trace_id="sib", base=ago(hours=4))])

    def test_trace_is_in_start_order(self, store: Store) -> None:
        """trace() returns every log of one trace, earliest first."""
        logs = store.trace("trace-new")
        assert [r.log_id for r in logs] == [r.log_id for r in support_trace("trace-new")]
        assert logs == sorted(logs, key=lambda r: r.start_time)
        assert store.trace("nope") == []

    def test_logs_filter_by_folder_trace_errors_and_time(self, store: Store) -> None:
        """A path matches itself and what is under it, not a sibling sharing its prefix."""
        paths = {r.path for r in store.logs(path="support")}
        assert paths == {r.path for r in store.logs(path="support/")}
        assert "support/answer" in paths
        assert all(p.startswith("support/") for p in paths)
        assert "support/answerx" not in {r.path for r in store.logs(path="support/answer")}
        assert {r.trace_id for r in store.logs(errors_only=True)} == {"trace-err"}
        assert {r.trace_id for r in store.logs(since=ago(hours=1).isoformat())} == {
            "trace-err",
            "trace-new",
        }
        newest = store.logs(limit=2)
        assert len(newest) == 2
        assert newest[0].start_time >= newest[1].start_time

    def test_recent_traces_newest_first_with_pages(self, store: Store) -> None:
        """Traces are listed by start, newest first; before= gives the next page."""
        assert store.recent_trace_ids(10) == ["trace-new", "trace-err", "trace-old", "sib"]
        first = store.recent_trace_ids(2)
        (last,) = store.trace_summaries(first[-1:])
        assert store.recent_trace_ids(2, before=last.start_time) == ["trace-old", "sib"]
        assert store.recent_trace_ids(10, errors_only=True) == ["trace-err"]
        assert store.recent_trace_ids(10, path="billing") == ["trace-err"]

    def test_summaries_total_each_trace(self, store: Store) -> None:
        """A summary has the root's path and the trace's totals; unknown ids are left out."""
        new, err = store.trace_summaries(["trace-new", "nope", "trace-err"])
        assert (new.trace_id, new.path, new.kind, new.logs, new.errors) == (
            "trace-new",
            "support/answer",
            "flow",
            3,
            0,
        )
        assert (new.prompt_tokens, new.output_tokens, new.complete) == (420, 38, True)
        assert new.cost == pytest.approx(0.0000858)
        assert (err.errors, err.error, err.cost) == (2, "RateLimitError: slow down", None)

    def test_summary_spans_the_trace_not_its_scores(self, store: Store) -> None:
        """A child that ends after its root sets the trace's end; a score given later does not."""
        store.insert(
            [
                log("span", "chat/turn", trace_id="span", duration=1.0),
                log(
                    "span-s", "chat/stream", trace_id="span", parent="span", start=0.5, duration=2.0
                ),
                log(
                    "span-fb",
                    "feedback",
                    trace_id="span",
                    parent="span",
                    kind="evaluator",
                    start=3600.0,
                    parent_id="span",
                    judgment=True,
                ),
            ]
        )
        (summary,) = store.trace_summaries(["span"])
        assert summary.end_time is not None
        end = datetime.datetime.fromisoformat(summary.end_time)
        start = datetime.datetime.fromisoformat(summary.start_time)
        assert (end - start).total_seconds() == pytest.approx(2.5)

    def test_trace_without_root_is_incomplete(self, store: Store) -> None:
        """Until the root is stored, the earliest log names the trace."""
        store.insert(support_trace("partial")[1:])
        (summary,) = store.trace_summaries(["partial"])
        assert (summary.path, summary.complete, summary.latency) == (
            "support/search-docs",
            False,
            None,
        )

    def test_match_and_stats(self, store: Store) -> None:
        """Shortened ids match by start or end; log summaries feed the stats."""
        assert store.match_trace_ids("trace-n") == ["trace-new"]
        assert store.match_trace_ids("-err") == ["trace-err"]
        assert store.match_trace_ids("50%_") == []
        rows = store.log_summaries(path="billing")
        assert len(rows) == len(failing_trace("x"))
        assert all(r.path.startswith("billing/") for r in rows)
        assert len(store.log_summaries()) == store.count()


def test_trace_list_orders_by_first_start_across_many_logs(store: Store) -> None:
    """Pages follow each trace's earliest log, even when a trace has a much later log."""
    rng = random.Random(20)
    records, firsts = [], {}
    for t in range(120):
        starts = sorted(rng.uniform(0, 10_000) for _ in range(rng.randint(1, 6)))
        firsts[f"t{t:03d}"] = starts[-1]  # the most seconds ago: the first log
        for n, at in enumerate(starts):
            records.append(log(f"t{t:03d}-{n}", "a/b", trace_id=f"t{t:03d}", base=ago(seconds=at)))
    store.insert(records)
    expected = sorted(firsts, key=lambda t: firsts[t])  # newest first = least ago
    for last in (1, 7, 50, 500):
        assert store.recent_trace_ids(last) == expected[:last]
    pages, before = [], None
    while page := store.recent_trace_ids(25, before=before):
        pages += page
        (tail,) = store.trace_summaries(page[-1:])
        before = tail.start_time
    assert pages == expected


class TestLiveAndRetention:
    """The insert cursor for the live page, and pruning whole traces."""

    def test_cursor_follows_inserts(self, store: Store) -> None:
        """logs_after() returns logs in insert order and a cursor that only grows."""
        assert store.cursor() == 0
        store.insert(support_trace("a"))
        start = store.cursor()
        store.insert(support_trace("b"))
        store.insert(support_trace("b"))  # duplicates do not move the cursor's logs
        position, records = store.logs_after(start)
        assert [r.trace_id for r in records] == ["b", "b", "b"]
        assert position == store.cursor() > start
        assert store.logs_after(position) == (position, [])
        first, some = store.logs_after(0, limit=2)
        assert len(some) == 2
        assert 0 < first < position

    def test_prune_deletes_whole_old_traces(self, store: Store) -> None:
        """Traces whose every log is older than the cut go; a trace with a newer log stays."""
        store.insert(support_trace("old", base=ago(days=40)))
        mixed = support_trace("mixed", base=ago(days=40))
        mixed[-1] = mixed[-1].model_copy(update={"start_time": ago(days=1)})
        store.insert(mixed)
        store.insert(support_trace("new", base=ago(days=1)))
        cut = ago(days=30).isoformat()
        assert store.prune(cut) == 3
        assert store.trace("old") == []
        assert len(store.trace("mixed")) == 3
        assert store.try_prune(cut) == 0
        assert store.count() == 6


class TestOpening:
    """Readers never create a store; a missing one is an error they can report."""

    def test_reader_on_a_missing_store_fails(self, open_any: Opener) -> None:
        """create=False on a store that was never created raises NotAStoreError."""
        with pytest.raises(NotAStoreError):
            open_any(create=False)

    def test_schema_version_after_create(self, open_any: Opener) -> None:
        """A created store reports its schema version, and a reader then opens it."""
        assert open_any().schema_version() >= 1
        assert open_any(create=False).count() == 0


def test_records_round_trip(store: Store) -> None:
    """A stored record reads back equal (JSON body kept whole)."""
    records: list[LogRecord] = support_trace("rt")
    store.insert(records)
    assert store.trace("rt") == sorted(records, key=lambda r: r.start_time)
