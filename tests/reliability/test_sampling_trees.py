"""Sampling keeps or drops whole trees, under concurrency and with errors anywhere in the tree."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Iterator

import promptrail
from promptrail import BatchProcessor, log_flow, log_prompt, log_tool, trace
from promptrail.exporters import InMemoryExporter


@log_tool(path="tool")
def tool(fail: bool = False) -> int:
    """A leaf that may fail."""
    if fail:
        raise RuntimeError("tool failed")
    return 1


@log_prompt(path="llm")
def llm(fail_tool: bool = False) -> int:
    """A middle log with two tool calls."""
    total = tool()
    with contextlib.suppress(RuntimeError):
        total += tool(fail=fail_tool)
    return total


@log_flow(path="agent")
def agent(fail_tool: bool = False) -> int:
    """A root: 1 agent + 2 llm + 4 tool = 7 logs per tree."""
    return llm() + llm(fail_tool=fail_tool)


TREE = 7


def tree_sizes(memory: InMemoryExporter) -> Counter[int]:
    """How many traces have each number of exported logs."""
    per_trace = Counter(r.trace_id for r in memory.records)
    return Counter(per_trace.values())


def batch_memory(**options: object) -> InMemoryExporter:
    """Configure a batch pipeline into memory with the given sampling options."""
    memory = InMemoryExporter()
    processor = BatchProcessor(memory, max_queue_size=50_000, max_batch_size=1024)
    promptrail.configure(processors=[processor], **options)  # type: ignore[arg-type]
    return memory


class TestWholeTrees:
    """A trace is exported complete or not at all."""

    def test_threads(self) -> None:
        """4 threads x 200 trees at rate 0.5: every exported trace has all 7 logs."""
        memory = batch_memory(sample_rate=0.5)

        def run() -> None:
            for _ in range(200):
                agent()

        threads = [threading.Thread(target=run) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert promptrail.flush(5.0) is True
        sizes = tree_sizes(memory)
        assert set(sizes) == {TREE}
        assert 200 < sizes[TREE] < 600
        stats = promptrail.stats()
        assert stats.exported + stats.sampled_out == 800 * TREE
        assert stats.dropped == 0

    async def test_asyncio_tasks(self) -> None:
        """500 concurrent async trees at rate 0.3: complete or absent, counts add up."""
        memory = batch_memory(sample_rate=0.3)

        @log_tool(path="atool")
        async def atool() -> int:
            await asyncio.sleep(0)
            return 1

        @log_flow(path="aflow")
        async def aflow() -> int:
            parts = await asyncio.gather(atool(), atool(), atool())
            return sum(parts)

        assert await asyncio.gather(*(aflow() for _ in range(500))) == [3] * 500
        assert promptrail.flush(5.0) is True
        sizes = tree_sizes(memory)
        assert set(sizes) == {4}
        assert 50 < sizes[4] < 300
        assert promptrail.stats().exported + promptrail.stats().sampled_out == 500 * 4

    def test_deep_error_keeps_the_whole_tree(self) -> None:
        """At rate 0 with keep_errors, a failing grandchild keeps all 7 logs of its tree."""
        memory = batch_memory(sample_rate=0.0, keep_errors=True)
        for _ in range(20):
            agent()
        agent(fail_tool=True)
        assert promptrail.flush(5.0) is True
        records = memory.records
        assert len(records) == TREE
        (root,) = [r for r in records if r.path == "agent"]
        assert {r.trace_id for r in records} == {root.log_id}
        assert [r.error for r in records if r.error] == ["RuntimeError: tool failed"]
        assert promptrail.stats().sampled_out == 20 * TREE

    def test_keep_errors_off_drops_failing_trees(self) -> None:
        """keep_errors=False drops failing trees too; nothing is exported at rate 0."""
        memory = batch_memory(sample_rate=0.0, keep_errors=False)
        agent(fail_tool=True)
        with trace(path="flow"):
            agent()
        assert promptrail.flush(5.0) is True
        assert memory.records == []
        assert promptrail.stats().sampled_out == TREE + TREE + 1

    def test_rate_one_keeps_everything(self) -> None:
        """The default rate keeps every tree and samples nothing out."""
        memory = batch_memory()
        for _ in range(10):
            agent()
        assert promptrail.flush(5.0) is True
        assert tree_sizes(memory) == {TREE: 10}
        assert promptrail.stats().sampled_out == 0

    def test_log_ending_after_its_root_follows_the_root(self) -> None:
        """A stream consumed after its (dropped or kept) root ended follows the root's decision."""

        @log_prompt(path="stream")
        def stream() -> Iterator[int]:
            yield 1
            yield 2

        kept = batch_memory(sample_rate=0.0, keep_errors=True)
        with trace(path="dropped-root"):
            dropped_stream = stream()
            next(dropped_stream)
        assert list(dropped_stream) == [2]
        errors: list[Iterator[int]] = []
        with contextlib.suppress(ValueError), trace(path="failed-root"):
            errors.append(stream())
            next(errors[0])
            raise ValueError("root failed")
        assert list(errors[0]) == [2]
        assert promptrail.flush(5.0) is True
        paths = Counter(r.path for r in kept.records)
        assert paths == {"failed-root": 1, "stream": 1}
        assert promptrail.stats().sampled_out == 2
