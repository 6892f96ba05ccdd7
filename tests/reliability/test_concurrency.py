"""fork(), threads and asyncio tasks: exact counts and correct parenting under concurrency."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

import promptrail
from promptrail import BatchProcessor, LogRecord, log_flow, log_prompt, log_tool, trace
from promptrail.exporters import ExportResult, InMemoryExporter, JsonlExporter


@log_tool(path="leaf")
def leaf(i: int) -> int:
    """A small decorated call."""
    return i


class SlimExporter:
    """Keeps only (log_id, trace_id, parent, path) of each record: cheap for 80k records."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str | None, str]] = []

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        self.rows.extend((r.log_id, r.trace_id, r.trace_parent_id, r.path) for r in records)
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float = 30.0) -> bool:
        return True

    def shutdown(self) -> None:
        pass


def read_jsonl(path: Path) -> list[dict[str, object]]:
    """Parse every line of a JSONL file."""
    return [json.loads(line) for line in path.read_text().splitlines()]


class TestFork:
    """os.fork() with records pending in the parent's queue."""

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
    def test_child_exports_its_own_and_parent_records_are_not_duplicated(
        self, tmp_path: Path
    ) -> None:
        """The child exports only its logs; the parent's pending logs are exported once."""
        out = tmp_path / "logs.jsonl"
        processor = BatchProcessor(JsonlExporter(out), schedule_delay=30.0)
        promptrail.configure(processors=[processor])
        with trace(path="parent"):
            for i in range(5):
                leaf(i)
        assert processor.stats()["queued"] == 6  # the worker sleeps: all pending at fork time
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork of a threaded process
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                with trace(path="child"):
                    for i in range(3):
                        leaf(i)
                promptrail.shutdown(5.0)
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert promptrail.flush(5.0) is True
        rows = read_jsonl(out)
        paths = Counter(str(r["path"]) for r in rows)
        assert paths == {"parent": 1, "child": 1, "leaf": 8}
        assert len({r["log_id"] for r in rows}) == len(rows) == 10
        by_id = {r["log_id"]: r for r in rows}
        for row in rows:
            if row["path"] == "leaf":
                assert by_id[row.get("trace_parent_id")]["path"] in ("parent", "child")
        child_root = next(r for r in rows if r["path"] == "child")
        assert sum(1 for r in rows if r.get("trace_parent_id") == child_root["log_id"]) == 3
        # The parent exported exactly its own 6; the child's 4 were the child's export.
        assert processor.stats()["exported"] == 6


@log_tool(path="leaf", capture_inputs=False, capture_output=False)
def bare_leaf(i: int) -> int:
    """A decorated call that captures nothing (the record is cheap to build)."""
    return i


class TestThreads:
    """8 threads x 10k calls."""

    def test_exact_counts_and_parenting(self) -> None:
        """Every log is exported once (or counted as dropped) and nests under its thread's root."""
        exporter = SlimExporter()
        processor = BatchProcessor(
            exporter, max_queue_size=100_000, max_batch_size=4096, schedule_delay=0.05
        )
        promptrail.configure(processors=[processor])
        threads_n, calls = 8, 10_000
        roots: dict[int, str] = {}
        barrier = threading.Barrier(threads_n)

        def run(t: int) -> None:
            barrier.wait()
            with trace(path=f"thread-{t}") as flow:
                assert flow.log_id is not None
                roots[t] = flow.log_id
                for i in range(calls):
                    bare_leaf(i)

        threads = [threading.Thread(target=run, args=(t,)) for t in range(threads_n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert promptrail.flush(30.0) is True
        stats = promptrail.stats()
        total = threads_n * calls + threads_n
        assert stats.exported + stats.dropped == total
        assert stats.failed == 0
        assert len(exporter.rows) == stats.exported
        assert stats.dropped == 0  # the queue is large enough: then parenting must be exact
        assert len({row[0] for row in exporter.rows}) == total
        root_of = {log_id: t for t, log_id in roots.items()}
        per_root = Counter(parent for _, _, parent, path in exporter.rows if path == "leaf")
        assert per_root == {log_id: calls for log_id in roots.values()}
        for _, trace_id, parent, path in exporter.rows:
            if path == "leaf":
                assert trace_id == parent
                assert parent in root_of
            else:
                assert parent is None
                assert path == f"thread-{root_of[trace_id]}"


class Replacer(promptrail.BaseProcessor):
    """Replaces the pipeline from inside ``on_end``, once: as another thread's configure() would."""

    def __init__(self) -> None:
        self.replaced = False

    def on_end(self, log: promptrail.ActiveLog) -> None:
        if not self.replaced:
            self.replaced = True
            promptrail.configure(processors=[promptrail.SimpleProcessor(InMemoryExporter())])


class TestReplacedPipeline:
    """A log handed to a processor just retired by configure() is still counted."""

    @pytest.mark.parametrize("kind", [BatchProcessor, promptrail.SimpleProcessor])
    def test_late_log_of_a_retired_processor_is_counted_as_dropped(self, kind: type) -> None:
        """The call ends into a pipeline being replaced: stats() counts its log as dropped."""
        memory = InMemoryExporter()
        promptrail.configure(processors=[Replacer(), kind(memory)])
        assert leaf(1) == 1  # Replacer retires both; the log then reaches the retired one
        assert promptrail.flush(5.0) is True
        stats = promptrail.stats()
        assert memory.records == []
        assert (stats.exported, stats.dropped, stats.failed) == (0, 1, 0)


class TestAsyncio:
    """1k concurrent asyncio tasks."""

    async def test_parenting_is_per_task(self) -> None:
        """Each task's children nest under that task's own root, however the tasks interleave."""
        memory = InMemoryExporter()
        promptrail.configure(processors=[promptrail.SimpleProcessor(memory)])

        @log_prompt(path="llm")
        async def llm(task: int, step: int) -> str:
            await asyncio.sleep(0)
            return f"{task}:{step}"

        @log_flow(path="agent")
        async def agent(task: int) -> list[str]:
            out = [await llm(task, 0)]
            await asyncio.sleep(0)
            out.append(await llm(task, 1))
            return out

        results = await asyncio.gather(*(agent(t) for t in range(1000)))
        assert results == [[f"{t}:0", f"{t}:1"] for t in range(1000)]
        records = memory.records
        assert len(records) == 3000
        roots = {r.log_id: r for r in records if r.path == "agent"}
        assert len(roots) == 1000
        task_of_root = {log_id: r.inputs["task"] for log_id, r in roots.items()}
        children = [r for r in records if r.path == "llm"]
        assert Counter(r.trace_parent_id for r in children) == {k: 2 for k in roots}
        for child in children:
            assert child.trace_parent_id is not None
            assert child.inputs["task"] == task_of_root[child.trace_parent_id]
            assert child.trace_id == child.trace_parent_id
        assert promptrail.get_current_log_id() is None
