"""Bad input: each gets its documented result, never an exception, in bounded memory.

The documented results are in the docstring of ``promptrail._record.serialize``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import promptrail
from promptrail import ActiveLog, BaseProcessor, Limits, log_prompt, log_tool, trace
from promptrail._runtime.limits import TRUNCATED_MARK
from promptrail.exporters import InMemoryExporter, JsonlExporter, SqliteExporter

MAX_STRING = Limits().max_string
MAX_ITEMS = Limits().max_items


@log_tool(path="echo")
def echo(value: Any) -> Any:
    """Return what it was given (so the value is logged as input and as output)."""
    return value


def logged(memory: InMemoryExporter) -> tuple[Any, Any]:
    """The (input, output) of the single exported ``echo`` record, output parsed from JSON."""
    (record,) = memory.records
    output = record.output
    if output is not None:
        with contextlib.suppress(json.JSONDecodeError):
            output = json.loads(output)
    return record.inputs["value"], output


class Unprintable:
    """An object whose repr raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


class Opaque:
    """An object with nothing but a repr."""

    def __repr__(self) -> str:
        return "<Opaque>"


class TestUnserialisable:
    """Objects JSON cannot hold."""

    def test_plain_object_becomes_its_repr(self, memory: InMemoryExporter) -> None:
        """An arbitrary object is logged as its repr."""
        assert echo(Opaque()).__class__ is Opaque
        assert logged(memory) == ("<Opaque>", "<Opaque>")

    def test_failing_repr_gives_a_placeholder(self, memory: InMemoryExporter) -> None:
        """An object whose repr raises is logged as <unrepresentable T>; the call is unaffected."""
        value = Unprintable()
        assert echo(value) is value
        assert logged(memory) == ("<unrepresentable Unprintable>",) * 2

    def test_exotic_values(self, memory: InMemoryExporter) -> None:
        """Sets, complex numbers, types and functions become JSON lists or reprs."""
        echo({"s": {1}, "c": 1j, "t": int, "f": len})
        value, _ = logged(memory)
        assert value == {"s": [1], "c": "1j", "t": "<class 'int'>", "f": "<built-in function len>"}


class TestCycles:
    """Self-referencing containers."""

    def test_cycles_in_arguments(self, memory: InMemoryExporter) -> None:
        """An argument cycle shows the turns the caller-side snapshot copied (2), then the mark."""
        items: list[Any] = [1]
        items.append(items)
        mapping: dict[str, Any] = {"a": 1}
        mapping["self"] = mapping
        echo(items)
        echo(mapping)
        (list_value, _), (dict_value, _) = [(r.inputs["value"], None) for r in memory.records]
        assert list_value == [1, [1, [1, "<cycle>"]]]
        assert dict_value == {"a": 1, "self": {"a": 1, "self": {"a": 1, "self": "<cycle>"}}}

    def test_cycles_set_after_the_call_starts(self, memory: InMemoryExporter) -> None:
        """A cycle given through update_current is unrolled like an argument's, then cut."""

        @log_tool(path="tool")
        def tool() -> None:
            items: list[Any] = [1]
            items.append(items)
            promptrail.update_current(output={"items": items})

        tool()
        (record,) = memory.records
        assert record.output is not None
        assert json.loads(record.output) == {"items": [1, [1, [1, "<cycle>"]]]}

    def test_cycles_in_a_return_value(self, memory: InMemoryExporter) -> None:
        """A return value is not copied: its cycle is cut at the first repeat."""

        @log_tool(path="tool")
        def tool() -> list[Any]:
            items: list[Any] = [1]
            items.append(items)
            return items

        tool()
        (record,) = memory.records
        assert record.output is not None
        assert json.loads(record.output) == [1, "<cycle>"]


class TestLargeValues:
    """10 MB values and 100k-element containers: truncated with a marker, memory bounded.

    The worker only materialises what it keeps. An argument is also copied on the caller's
    thread, shallowly (its pointer table, not its elements): that copy is the one cost that
    grows with the container.
    """

    def _peak_while_logging(self, memory: InMemoryExporter, value: Any, *, returned: bool) -> int:
        @log_tool(path="echo")
        def produce() -> Any:
            return value

        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            if returned:
                produce()
            else:
                echo(value)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert len(memory.records) == 1
        return peak - base

    @pytest.mark.parametrize("returned", [False, True], ids=["argument", "result"])
    def test_ten_megabyte_string(self, memory: InMemoryExporter, returned: bool) -> None:
        """Kept as its first max_string characters plus the marker; never copied whole."""
        big = "a" * 10_000_000
        peak = self._peak_while_logging(memory, big, returned=returned)
        (record,) = memory.records
        expected = "a" * MAX_STRING + TRUNCATED_MARK
        assert (record.output if returned else record.inputs["value"]) == expected
        assert peak < 1_000_000
        assert len(record.model_dump_json()) < 4 * MAX_STRING

    @pytest.mark.parametrize("returned", [False, True], ids=["argument", "result"])
    def test_ten_megabyte_bytes(self, memory: InMemoryExporter, returned: bool) -> None:
        """Bytes are cut before decoding: no 10 MB text is ever built."""
        big = b"b" * 10_000_000
        peak = self._peak_while_logging(memory, big, returned=returned)
        (record,) = memory.records
        expected = "b" * MAX_STRING + TRUNCATED_MARK
        assert (record.output if returned else record.inputs["value"]) == expected
        assert peak < 1_000_000

    def test_hundred_thousand_element_list(self, memory: InMemoryExporter) -> None:
        """Kept as its first max_items elements plus a marker element saying how many were cut."""
        big = [f"item-{i:06d}" for i in range(100_000)]
        peak = self._peak_while_logging(memory, big, returned=False)
        value, _ = logged(memory)
        assert value[:MAX_ITEMS] == big[:MAX_ITEMS]
        assert value[MAX_ITEMS:] == [f"{TRUNCATED_MARK} {100_000 - MAX_ITEMS} more items"]
        # The list and its strings are about 6.5 MB; at most one pointer-table copy is made.
        assert peak < 1.5 * sys.getsizeof(big)
        assert len(memory.records[0].model_dump_json()) < 200_000

    @pytest.mark.parametrize(
        "make",
        [
            lambda: [f"item-{i:06d}" for i in range(100_000)],
            lambda: {f"k{i}": i for i in range(100_000)},
            lambda: set(range(100_000)),
        ],
        ids=["list", "dict", "set"],
    )
    def test_hundred_thousand_elements_returned(
        self, memory: InMemoryExporter, make: Callable[[], Any]
    ) -> None:
        """A returned container is not copied at all: only the kept head is materialised."""
        big = make()
        peak = self._peak_while_logging(memory, big, returned=True)
        assert peak < 500_000
        (record,) = memory.records
        assert record.output is not None
        assert f"{100_000 - MAX_ITEMS} more items" in record.output

    def test_hundred_thousand_key_dict(self, memory: InMemoryExporter) -> None:
        """A huge dict argument keeps max_items keys plus a marker key; one shallow copy at most."""
        big = {f"k{i}": i for i in range(100_000)}
        peak = self._peak_while_logging(memory, big, returned=False)
        value, _ = logged(memory)
        assert len(value) == MAX_ITEMS + 1
        assert value[TRUNCATED_MARK] == f"{100_000 - MAX_ITEMS} more items"
        assert peak < 1.5 * sys.getsizeof(big)

    def test_queued_calls_hold_a_big_sets_head_only(self) -> None:
        """Calls waiting in the queue hold a 100k-element set argument's kept head, not copies."""
        exporter = InMemoryExporter()
        promptrail.configure(processors=[promptrail.BatchProcessor(exporter, schedule_delay=60)])
        big = set(range(100_000))
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            for _ in range(10):
                echo(big)
            held = tracemalloc.get_traced_memory()[0] - base
        finally:
            tracemalloc.stop()
        assert held < sys.getsizeof(big)  # ten full copies would be ten times that
        assert promptrail.flush(10.0) is True
        value = exporter.records[0].inputs["value"]
        assert len(value) == MAX_ITEMS + 1
        assert value[-1] == f"{TRUNCATED_MARK} {100_000 - MAX_ITEMS} more items"

    def test_deep_nesting(self, memory: InMemoryExporter) -> None:
        """Nesting deeper than max_depth ends in a bounded repr, not a RecursionError."""
        deep: list[Any] = []
        node = deep
        for _ in range(10_000):
            child: list[Any] = []
            node.append(child)
            node = child
        echo(deep)
        value, _ = logged(memory)
        depth = 0
        while isinstance(value, list):
            (value,) = value
            depth += 1
        assert isinstance(value, str)
        assert len(value) <= MAX_STRING + len(TRUNCATED_MARK)
        assert depth <= Limits().max_depth


class TestText:
    """Non-UTF-8 bytes and strings that UTF-8 cannot encode."""

    def test_invalid_utf8_bytes_are_replaced(self, memory: InMemoryExporter) -> None:
        """Invalid bytes become U+FFFD; valid UTF-8 is decoded losslessly."""
        echo({"bad": b"\xff\xfe ok", "good": "héllo ✓".encode()})
        value, _ = logged(memory)
        assert value == {"bad": "\ufffd\ufffd ok", "good": "héllo ✓"}

    def test_lone_surrogates_are_replaced_and_export_works(self, tmp_path: Path) -> None:
        """A string with lone surrogates (e.g. from surrogateescape) is logged with U+FFFD.

        Without this, the record cannot be written as UTF-8 JSON and its whole batch fails.
        """
        jsonl = tmp_path / "out.jsonl"
        sqlite = SqliteExporter(tmp_path / "out.db")
        promptrail.configure(exporters=[JsonlExporter(jsonl), sqlite])
        bad = b"caf\xe9".decode("utf-8", "surrogateescape")
        echo({"name": bad, bad: "key", "list": [bad]})
        echo("fine")
        assert promptrail.flush(5.0) is True
        stats = promptrail.stats()
        assert (stats.exported, stats.failed) == (2, 0)
        rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
        assert rows[0]["inputs"]["value"] == {
            "name": "caf\ufffd",
            "caf\ufffd": "key",
            "list": ["caf\ufffd"],
        }
        assert sqlite.store.count() == 2

    def test_surrogate_pairs_are_joined(self, memory: InMemoryExporter) -> None:
        """A correctly paired surrogate sequence becomes the character it encodes."""
        echo("\ud83d\ude00")
        assert logged(memory)[0] == "😀"


class TestNonFiniteNumbers:
    """NaN and the infinities."""

    def test_become_strings(self, memory: InMemoryExporter) -> None:
        """JSON has no literal for them: they are logged as "NaN", "Infinity", "-Infinity"."""
        echo([math.nan, math.inf, -math.inf, 1.5])
        value, output = logged(memory)
        assert value == ["NaN", "Infinity", "-Infinity", 1.5]
        assert output == value
        json.loads(memory.records[0].model_dump_json())  # strict JSON

    def test_numeric_fields_stay_numbers(self, memory: InMemoryExporter) -> None:
        """A NaN cost given through update_current does not break the record; JSON writes null."""

        @log_prompt(path="llm")
        def llm() -> str:
            promptrail.update_current(prompt_cost=math.nan, metadata={"score": math.inf})
            return "ok"

        assert llm() == "ok"
        (record,) = memory.records
        assert record.metadata == {"score": "Infinity"}
        # A numeric field keeps the float; its JSON form is null (JSON has no NaN).
        assert record.prompt_cost is not None
        assert math.isnan(record.prompt_cost)
        assert json.loads(record.model_dump_json())["prompt_cost"] is None


class TestHugeTrace:
    """Very many logs in one trace."""

    def test_fifty_thousand_children(self) -> None:
        """50k children of one root all reach the processors, parented to the root, in order."""

        class Collect(BaseProcessor):
            def __init__(self) -> None:
                self.ended: list[tuple[str, str | None, str]] = []

            def on_end(self, log: ActiveLog) -> None:
                self.ended.append((log.log_id, log.trace_parent_id, log.trace_id))

        collect = Collect()
        promptrail.configure(processors=[collect])
        with trace(path="root") as root:
            for i in range(50_000):
                echo(i)
        ended = collect.ended
        assert len(ended) == 50_001
        assert ended[-1] == (root.log_id, None, root.log_id)
        assert {parent for _, parent, _ in ended[:-1]} == {root.log_id}
        assert {trace_id for _, _, trace_id in ended} == {root.log_id}
        assert len({log_id for log_id, _, _ in ended}) == 50_001

    def test_ten_thousand_children_exported(self, tmp_path: Path) -> None:
        """10k children go through the default batch pipeline to a file, none lost."""
        out = tmp_path / "big.jsonl"
        promptrail.configure(exporters=[JsonlExporter(out)])
        with trace(path="root") as root:
            for i in range(10_000):
                echo(i)
        assert promptrail.flush(9.0) is True
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(rows) == 10_001
        assert sum(1 for r in rows if r.get("trace_parent_id") == root.log_id) == 10_000
        assert promptrail.stats().dropped == 0

    @pytest.mark.parametrize("kind", ["list", "dict"])
    def test_items_of_a_long_stream_are_bounded(self, memory: InMemoryExporter, kind: str) -> None:
        """A stream of 20k items keeps at most 10k and says it cut the rest."""

        @log_prompt(path="stream")
        def stream() -> Any:
            for i in range(20_000):
                yield {"i": i} if kind == "dict" else [i]

        assert sum(1 for _ in stream()) == 20_000
        (record,) = memory.records
        assert record.metadata.get("items_truncated") is True


class TestInvalidFields:
    """Record fields given values of the wrong type, by user code or by an extractor."""

    def test_wrong_types_move_to_metadata(
        self, memory: InMemoryExporter, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The log is kept; the bad fields are under metadata["promptrail.invalid_fields"]."""

        @log_prompt(path="llm")
        def llm() -> str:
            promptrail.update_current(
                prompt_tokens="many", finish_reason=["stop"], output_tokens=3, metadata={"a": 1}
            )
            return "ok"

        with caplog.at_level(logging.WARNING, logger="promptrail"):
            assert llm() == "ok"
        (record,) = memory.records
        assert record.output == "ok"
        assert record.output_tokens == 3
        assert record.prompt_tokens is None
        assert record.metadata == {
            "a": 1,
            "promptrail.invalid_fields": {"finish_reason": ["stop"], "prompt_tokens": "many"},
        }
        stats = promptrail.stats()
        assert (stats.exported, stats.failed, stats.errors["invalid_field"]) == (1, 0, 1)
        assert "finish_reason, prompt_tokens" in caplog.text
        assert "many" not in caplog.text  # names only, never values

    def test_extractor_returning_bad_types(self, memory: InMemoryExporter) -> None:
        """An extractor's wrong-typed field is set aside the same way; the rest is kept."""

        def extractor(value: Any) -> dict[str, Any] | None:
            return {"output": "text", "reasoning_tokens": {"n": 1}} if value == ("x",) else None

        promptrail.register_extractor(extractor)
        try:
            echo(("x",))
        finally:
            promptrail.unregister_extractor(extractor)
        (record,) = memory.records
        assert record.output == "text"
        assert record.metadata["promptrail.invalid_fields"] == {"reasoning_tokens": {"n": 1}}

    def test_raising_extractor_is_skipped(self, memory: InMemoryExporter) -> None:
        """An extractor that raises is skipped and counted; the built-in extraction applies."""

        def broken(value: Any) -> dict[str, Any] | None:
            raise KeyError("nope")

        promptrail.register_extractor(broken)
        try:
            assert echo("plain") == "plain"
            assert echo([1]) == [1]
        finally:
            promptrail.unregister_extractor(broken)
        assert [r.output for r in memory.records] == ["plain", "[1]"]
        assert promptrail.stats().errors == {
            "extract:TestInvalidFields.test_raising_extractor_is_skipped.<locals>.broken": 1
        }

    def test_unreadable_mapping_is_kept_aside(self, memory: InMemoryExporter) -> None:
        """A mapping whose iteration raises is set aside like a non-mapping; the call goes on."""

        class Unreadable(Mapping[str, Any]):
            def __getitem__(self, key: str) -> Any:
                raise RuntimeError("no item")

            def __iter__(self) -> Iterator[str]:
                raise RuntimeError("no iteration")

            def __len__(self) -> int:
                raise RuntimeError("no length")

        @log_prompt(path="llm")
        def llm() -> str:
            assert promptrail.update_current(metadata=Unreadable(), inputs=Unreadable())
            return "ok"

        assert llm() == "ok"
        (record,) = memory.records
        assert record.output == "ok"
        assert set(record.metadata["promptrail.invalid_fields"]) == {"metadata", "inputs"}

    @pytest.mark.parametrize("field", ["inputs", "metadata"])
    @pytest.mark.parametrize("value", ["text", [1, 2], 5])
    def test_trace_with_a_non_mapping(
        self, memory: InMemoryExporter, field: str, value: Any
    ) -> None:
        """``trace(inputs=...)`` or ``metadata=`` of the wrong type is set aside, never raised."""
        with trace(path="flow", **{field: value}) as block:
            block.metadata["inside"] = True
        (record,) = memory.records
        assert record.metadata == {"inside": True, "promptrail.invalid_fields": {field: value}}
