"""Per-trace sampling keeps or drops whole trees."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest

import promptrail
from promptrail import ActiveLog, BaseProcessor, SimpleProcessor, log_prompt, log_tool, trace
from promptrail.exporters import InMemoryExporter


@log_tool(path="leaf")
def leaf(fail: bool = False) -> int:
    """A child that may fail."""
    if fail:
        raise RuntimeError("leaf failed")
    return 1


@log_prompt(path="root")
def root(n: int, fail_at: int = -1) -> int:
    """A root with n children."""
    total = 0
    for i in range(n):
        with contextlib.suppress(RuntimeError):
            total += leaf(fail=i == fail_at)
    return total


def configure(rate: float, *, keep_errors: bool = True) -> InMemoryExporter:
    """Synchronous in-memory pipeline with the given sample rate."""
    memory = InMemoryExporter()
    promptrail.configure(
        processors=[SimpleProcessor(memory)], sample_rate=rate, keep_errors=keep_errors
    )
    return memory


class TestSampling:
    """configure(sample_rate=...) decides per trace."""

    def test_whole_trees_kept_or_dropped(self) -> None:
        """With rate 0.5 every trace is complete or absent, and the counts add up."""
        memory = configure(0.5)
        for _ in range(200):
            root(4)
        trees: dict[str, int] = {}
        for record in memory.records:
            trees[record.trace_id] = trees.get(record.trace_id, 0) + 1
        assert set(trees.values()) == {5}
        assert 40 < len(trees) < 160
        assert len(memory.records) + promptrail.stats().sampled_out == 200 * 5

    def test_rate_zero_drops_everything_and_counts_it(self) -> None:
        """Rate 0 exports nothing; every log is counted as sampled out."""
        memory = configure(0.0)
        with trace(path="flow"):
            root(3)
        assert memory.records == []
        assert promptrail.stats().sampled_out == 5

    def test_error_keeps_the_whole_tree(self) -> None:
        """A dropped trace with a failing child is kept after all, in full, parents intact."""
        memory = configure(0.0)
        root(3, fail_at=1)
        records = memory.records
        assert sorted(r.path for r in records) == ["leaf", "leaf", "leaf", "root"]
        (top,) = [r for r in records if r.path == "root"]
        assert {r.trace_parent_id for r in records if r.path == "leaf"} == {top.log_id}
        assert [r.error for r in records if r.error] == ["RuntimeError: leaf failed"]

    def test_error_dropped_when_keep_errors_is_off(self) -> None:
        """keep_errors=False drops failing traces like any other."""
        memory = configure(0.0, keep_errors=False)
        root(3, fail_at=1)
        assert memory.records == []

    def test_late_child_follows_the_root(self) -> None:
        """A generator finishing after its unsampled root ended is dropped with its tree."""
        memory = configure(0.0)

        @log_prompt(path="gen")
        def gen() -> Iterator[int]:
            yield 1

        with trace(path="flow"):
            body = gen()
        assert list(body) == [1]
        assert memory.records == []
        assert promptrail.stats().sampled_out == 2

    def test_unsampled_logs_skip_processor_hooks(self) -> None:
        """Processors see neither on_start nor attach for logs of dropped traces."""
        seen: list[str] = []

        class Spy(BaseProcessor):
            def on_start(self, log: ActiveLog) -> None:
                seen.append("start")

            def attach(self, log: ActiveLog) -> object:
                seen.append("attach")
                return None

            def detach(self, log: ActiveLog, token: object) -> None:
                seen.append("detach")

        promptrail.configure(processors=[Spy()], sample_rate=0.0)
        root(2)
        assert seen == []

    def test_threads_share_the_decision(self) -> None:
        """Children in bound threads follow their root's decision."""
        memory = configure(0.0)

        def failing_leaf() -> None:
            with pytest.raises(RuntimeError):
                leaf(fail=True)

        with trace(path="flow"):
            thread = threading.Thread(target=promptrail.bind_context(failing_leaf))
            thread.start()
            thread.join()
        assert sorted(r.path for r in memory.records) == ["flow", "leaf"]

    @pytest.mark.parametrize("rate", [-0.1, 1.5])
    def test_invalid_rate(self, rate: float) -> None:
        """A rate outside [0, 1] is rejected."""
        with pytest.raises(promptrail.ConfigurationError, match="sample_rate"):
            promptrail.configure(sample_rate=rate)
