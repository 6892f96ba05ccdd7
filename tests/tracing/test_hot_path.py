"""The synchronous wrapper's inline fast path agrees with the general path it spells out."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

import promptrail
from promptrail import BaseProcessor, log_flow, log_prompt
from promptrail._runtime.state import STATE
from promptrail._tracing.active import ActiveLog
from promptrail._tracing.lifecycle import start_log
from promptrail.exporters import InMemoryExporter

SLOTS = [name for name in ActiveLog.__slots__ if name != "__dict__"]


class Keep(BaseProcessor):
    """Keeps every ended ActiveLog (not its record)."""

    def __init__(self) -> None:
        self.logs: list[ActiveLog] = []

    def on_end(self, log: ActiveLog) -> None:
        self.logs.append(log)


@pytest.fixture(name="kept")
def fixture_kept() -> Keep:
    keep = Keep()
    promptrail.configure(processors=[keep, promptrail.SimpleProcessor(InMemoryExporter())])
    return keep


def slots(log: ActiveLog) -> dict[str, Any]:
    return {name: getattr(log, name) for name in SLOTS}


class TestInlineConstruction:
    """The sync wrapper builds ActiveLog without calling the class."""

    def test_every_slot_is_set_as_init_would(self, kept: Keep) -> None:
        """A log made by the sync wrapper has the slots ActiveLog(...) gives, with equal values."""

        @log_prompt(path="hot/sync")
        def sync(x: int, *, y: list[int]) -> int:
            return x + len(y)

        @log_prompt(path="hot/gen")
        def gen(x: int, *, y: list[int]) -> Iterator[int]:
            yield x + len(y)

        assert sync(1, y=[2]) == 2
        assert list(gen(1, y=[2])) == [2]
        inline, general = kept.logs
        assert type(inline) is ActiveLog
        assert inline.__dict__ == {}  # nothing beyond the slots was set on the way
        own = slots(inline)
        other = slots(general)
        different = {"spec", "seq", "start_ns", "perf_start", "perf_end", "result", "_id"}
        assert {k: v for k, v in own.items() if k not in different} == {
            k: v for k, v in other.items() if k not in different
        }
        assert own["result"] == 2
        assert own["args"] == (1,)
        assert own["kwargs"] == {"y": [2]}

    def test_children_take_root_and_sampling_from_the_parent(self, kept: Keep) -> None:
        """Nested inline logs point at the root, like start_log's."""

        @log_prompt(path="hot/leaf")
        def leaf() -> int:
            return 1

        @log_flow(path="hot/mid")
        def mid() -> int:
            return leaf()

        @log_flow(path="hot/top")
        def top() -> int:
            return mid()

        assert top() == 1
        leaf_log, mid_log, top_log = kept.logs
        assert top_log.root is top_log
        assert mid_log.root is top_log
        assert leaf_log.root is top_log
        assert leaf_log.parent is mid_log
        assert all(log.sampled for log in kept.logs)

    def test_start_log_and_init_agree(self, kept: Keep) -> None:
        """start_log (the general path) and ActiveLog.__init__ set the same slots."""
        from promptrail._runtime.state import STATE

        @log_prompt(path="hot/spec")
        def spec_owner() -> None:
            return None

        spec_owner()
        (made,) = kept.logs
        log = start_log(STATE, made.spec, None, (), {})
        direct = ActiveLog(made.spec, None, log.seq, log.start_ns, log.perf_start, STATE.ids)
        assert slots(log) == slots(direct)


class TestArgumentSnapshot:
    """snapshot_kwargs's inline list copy equals snapshot() at the argument depth."""

    @pytest.mark.parametrize(
        "value",
        [
            [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"t": 1}]}],
            [1, "two", None, 3.0, b"four"],
            [[1, [2, [3]]], (4, [5]), {6}, {"k": {"deep": [7]}}],
            [{str(i): i for i in range(30)}],  # a dict over the limit inside the list
            list(range(30)),  # a list over the limit
            [],
        ],
    )
    def test_inline_copy_equals_snapshot(self, value: list[Any]) -> None:
        """Same values, same Truncated cuts, same sharing below the copied levels."""
        from promptrail._record.serialize import ARGUMENT_DEPTH, Truncated, snapshot
        from promptrail._runtime.limits import Limits
        from promptrail._runtime.state import STATE
        from promptrail._tracing.lifecycle import snapshot_kwargs

        promptrail.configure(processors=[], limits=Limits(max_items=20))
        inline = snapshot_kwargs(STATE, {"v": value})["v"]
        general = snapshot(value, ARGUMENT_DEPTH, 20)

        def shape(x: Any) -> Any:
            if type(x) is Truncated:
                return ("cut", shape(x.head), x.total)
            if type(x) in (list, tuple):
                return (type(x).__name__, [shape(i) for i in x])
            if type(x) is dict:
                return {k: shape(i) for k, i in x.items()}
            return x

        assert shape(inline) == shape(general)
        if type(general) is list:
            assert inline is not value
            for a, b, original in zip(inline, general, value, strict=True):
                # copied where snapshot copies, shared where it shares
                assert (a is original) == (b is original)


class TestSharedMessageCopies:
    """Unchanged message dicts share one copy between calls; changed ones get a new copy."""

    def test_unchanged_dict_shares_its_copy(self) -> None:
        """The same dict of strings, unchanged, gives the same copy (never the original)."""
        from promptrail._record.serialize import dict_copy

        message = {"role": "system", "content": "be brief"}
        first = dict_copy(message)
        assert first == message
        assert first is not message
        assert dict_copy(message) is first

    def test_changed_dict_gets_a_new_copy(self) -> None:
        """After a change the copy is new, and the earlier copy keeps the earlier value."""
        from promptrail._record.serialize import dict_copy

        message = {"role": "user", "content": "one"}
        first = dict_copy(message)
        message["content"] = "two"
        second = dict_copy(message)
        assert second is not first
        assert first["content"] == "one"
        assert second["content"] == "two"

    def test_dicts_with_other_values_are_always_copied(self) -> None:
        """Only dicts of strings are remembered: 1 == 1.0 == True must not share a copy."""
        from promptrail._record.serialize import dict_copy

        value: dict[str, Any] = {"n": 1}
        first = dict_copy(value)
        value["n"] = True
        second = dict_copy(value)
        assert second is not first
        assert second["n"] is True

    def test_a_raising_eq_never_reaches_the_caller(self) -> None:
        """A value whose __eq__ raises only means "copy again"."""
        from promptrail._record.serialize import dict_copy

        class Angry:
            def __eq__(self, other: object) -> bool:
                raise RuntimeError("no comparisons")

            __hash__ = object.__hash__

        message: dict[str, Any] = {"role": "user", "content": "hi"}
        dict_copy(message)
        message["content"] = Angry()
        copy = dict_copy(message)
        assert copy["content"] is message["content"]

    def test_logs_keep_what_each_call_sent(self, kept: Keep) -> None:
        """Two calls with the same dict, changed in between: each log has its own version."""

        @log_prompt(path="hot/chat")
        def chat(messages: list[dict[str, Any]]) -> str:
            return "ok"

        system = {"role": "system", "content": "v1"}
        chat([system])
        chat([system])
        system["content"] = "v2"
        chat([system])
        first, second, third = (log.args[0][0] for log in kept.logs)
        assert first is second  # unchanged: shared
        assert first["content"] == "v1"
        assert third["content"] == "v2"


class Blocking(InMemoryExporter):
    """Holds its first export until released (the worker is stuck meanwhile)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def export(self, records: Any) -> Any:
        self.entered.set()
        self.release.wait(5)
        return super().export(records)


class MethodPath(promptrail.BatchProcessor):
    """A BatchProcessor the wrapper does not inline (not exactly the class)."""


class TestInlineQueueing:
    """With the default pipeline the wrapper queues into the BatchProcessor inline."""

    def test_default_pipeline_skips_on_end(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Once the worker runs, calls queue without on_end, and every log is exported."""
        memory = InMemoryExporter()
        promptrail.configure(exporters=[memory])
        assert type(STATE.sink) is promptrail.BatchProcessor
        calls: list[ActiveLog] = []
        on_end = promptrail.BatchProcessor.on_end

        def spy(self: promptrail.BatchProcessor, log: ActiveLog) -> None:
            calls.append(log)
            on_end(self, log)

        monkeypatch.setattr(promptrail.BatchProcessor, "on_end", spy)

        @log_prompt(path="inline")
        def f(x: int) -> int:
            return x + 1

        for i in range(1200):  # more than two batches: the worker is woken inline
            f(i)
        assert promptrail.flush(5)
        assert len(calls) == 1  # the first call, which starts the worker
        assert [r.inputs for r in memory.records] == [{"x": i} for i in range(1200)]
        assert promptrail.stats().exported == 1200

    def test_other_pipelines_are_not_inlined(self) -> None:
        """Two processors, or a subclass, go through on_end."""
        promptrail.configure(processors=[MethodPath(InMemoryExporter())])
        assert STATE.sink is None
        promptrail.configure(processors=[promptrail.BatchProcessor(InMemoryExporter()), Keep()])
        assert STATE.sink is None
        promptrail.configure(exporters=[InMemoryExporter(), InMemoryExporter()])
        assert type(STATE.sink) is promptrail.BatchProcessor

    @pytest.mark.parametrize("kind", [promptrail.BatchProcessor, MethodPath])
    def test_a_full_batch_wakes_the_worker_both_ways(
        self, kind: type[promptrail.BatchProcessor]
    ) -> None:
        """The fifth log of a 5-log batch wakes the worker at once: no flush, no timer."""
        exporter = Blocking()
        exporter.release.set()  # exports go straight through
        processor = kind(exporter, max_queue_size=50, max_batch_size=5, schedule_delay=60.0)
        promptrail.configure(processors=[processor])

        @log_prompt(path="wake")
        def f(x: int) -> int:
            return x

        f(0)  # starts the worker, which sleeps for up to 60 s waiting for a batch
        for i in range(1, 5):
            f(i)
        assert exporter.entered.wait(5)

    @pytest.mark.parametrize("kind", [promptrail.BatchProcessor, MethodPath])
    def test_drops_are_counted_the_same_both_ways(
        self, kind: type[promptrail.BatchProcessor]
    ) -> None:
        """With the worker stuck, both paths queue, drop the oldest and count alike."""
        exporter = Blocking()
        processor = kind(exporter, max_queue_size=20, max_batch_size=5, schedule_delay=0.01)
        promptrail.configure(processors=[processor])

        @log_prompt(path="drops")
        def f(x: int) -> int:
            return x

        f(0)
        assert exporter.entered.wait(5)  # the worker holds log 0 in the stuck export
        for i in range(1, 100):
            f(i)
        stats = processor.stats()
        assert (stats["queued"], stats["dropped"]) == (20, 79)
        exporter.release.set()
        assert promptrail.flush(5)
        assert [r.inputs for r in exporter.records] == [{"x": i} for i in [0, *range(80, 100)]]
        assert processor.stats()["exported"] == 21
