"""Turning arbitrary values into bounded, JSON-safe, redacted data."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest
from pydantic import BaseModel

import promptrail
from promptrail import BatchProcessor, Limits, Redactor, log_prompt
from promptrail._record.serialize import snapshot, to_jsonable
from promptrail._runtime.limits import TRUNCATED_MARK
from promptrail._runtime.secrets import REDACTED
from promptrail.exporters import InMemoryExporter
from promptrail.testing import capture_logs


class TestToJsonable:
    """Each kind of value gets its documented result; nothing raises."""

    def test_plain_values_pass_through(self) -> None:
        """JSON values are unchanged."""
        value = {"a": [1, 2.5, "x", None, True], "b": {"c": []}}
        assert to_jsonable(value) == value

    def test_non_finite_floats(self) -> None:
        """NaN and infinities become strings, since JSON has no literal for them."""
        assert to_jsonable([math.nan, math.inf, -math.inf]) == ["NaN", "Infinity", "-Infinity"]

    def test_bytes_are_decoded_leniently(self) -> None:
        """Non-UTF-8 bytes become text with replacement characters."""
        assert to_jsonable(b"ok \xff") == "ok \ufffd"

    def test_cycles_terminate(self) -> None:
        """A list containing itself is cut with a marker."""
        loop: list[Any] = [1]
        loop.append(loop)
        assert to_jsonable(loop) == [1, "<cycle>"]

    def test_shared_references_are_not_cycles(self) -> None:
        """The same object twice (not nested in itself) is converted twice."""
        shared = {"k": 1}
        assert to_jsonable([shared, shared]) == [{"k": 1}, {"k": 1}]

    def test_long_strings_are_truncated_with_a_marker(self) -> None:
        """A 10 MB string is cut to the limit and ends with the marker."""
        out = to_jsonable("x" * 10_000_000, limits=Limits(max_string=100))
        assert out == "x" * 100 + TRUNCATED_MARK

    def test_long_lists_and_dicts_are_truncated(self) -> None:
        """A 100k-element list keeps max_items and says how many were left out."""
        out = to_jsonable(list(range(100_000)), limits=Limits(max_items=10))
        assert out[:10] == list(range(10))
        assert out[10] == f"{TRUNCATED_MARK} 99990 more items"
        big = to_jsonable({str(i): i for i in range(20)}, limits=Limits(max_items=5))
        assert len(big) == 6
        assert big[TRUNCATED_MARK] == "15 more items"

    def test_depth_is_bounded(self) -> None:
        """Nesting deeper than max_depth becomes a bounded repr."""
        deep: Any = "leaf"
        for _ in range(5):
            deep = [deep]
        assert to_jsonable(deep, limits=Limits(max_depth=3)) == [[["[['leaf']]"]]]

    def test_models_dataclasses_and_objects(self) -> None:
        """Pydantic models and dataclasses are converted; other objects become a repr."""

        class Model(BaseModel):
            name: str

        @dataclasses.dataclass
        class Point:
            x: int

        class Opaque:
            def __repr__(self) -> str:
                return "<Opaque>"

        assert to_jsonable([Model(name="m"), Point(1), Opaque()]) == [
            {"name": "m"},
            {"x": 1},
            "<Opaque>",
        ]

    def test_failing_repr(self) -> None:
        """An object whose repr raises is named, not raised."""

        class Broken:
            def __repr__(self) -> str:
                raise RuntimeError("no repr")

        assert (
            to_jsonable(Broken())
            == "<unrepresentable TestToJsonable.test_failing_repr.<locals>.Broken>"
        )

    def test_non_string_keys_and_subclasses(self) -> None:
        """Non-string keys become their repr; str/int subclasses become plain values."""
        import enum

        class Color(str, enum.Enum):  # noqa: UP042 - the str-mixin shape is what is tested
            RED = "red"

        assert to_jsonable({1: Color.RED, (1, 2): True}) == {"1": "red", "(1, 2)": True}

    def test_result_is_valid_json(self) -> None:
        """Whatever goes in, json.dumps accepts what comes out (strictly, no NaN)."""
        value = {"f": math.nan, "b": b"\x00\xff", "s": {1, 2}, "o": object(), "t": (1, [2])}
        out = to_jsonable(value)
        json.dumps(out, allow_nan=False)
        assert out["f"] == "NaN"
        assert out["b"] == "\x00\ufffd"
        assert sorted(out["s"]) == [1, 2]
        assert out["o"].startswith("<object object at ")
        assert out["t"] == [1, [2]]


class TestRedaction:
    """Secrets never reach a record."""

    @pytest.mark.parametrize(
        "key",
        [
            "api_key",
            "API_KEY",
            "apiKey",
            "Authorization",
            "x-api-key",
            "password",
            "db_password",
            "access_token",
            "client_secret",
            "Cookie",
            "private_key",
            "credentials",
        ],
    )
    def test_secret_keys_are_redacted_anywhere(self, key: str) -> None:
        """Values under secret-looking keys are replaced, nested in dicts and lists."""
        value = {"outer": [{"inner": {key: "hunter2"}}]}
        assert to_jsonable(value) == {"outer": [{"inner": {key: REDACTED}}]}

    @pytest.mark.parametrize(
        "key",
        [
            "max_tokens",
            "prompt_tokens",
            "output_tokens",
            "tokenizer",
            "cache_key",
            "author",
            "time_to_first_token",
        ],
    )
    def test_ordinary_keys_are_kept(self, key: str) -> None:
        """Keys that merely contain a secret-like word (token counts, ...) are not redacted."""
        assert to_jsonable({key: 5}) == {key: 5}

    def test_record_fields_are_not_redacted(self) -> None:
        """Token counts set on a log survive redaction."""

        @log_prompt(path="counts")
        def counts(max_tokens: int) -> str:
            promptrail.update_current(prompt_tokens=3, output_tokens=4, metadata={"tokens": 7})
            return "x"

        with capture_logs() as logs:
            counts(max_tokens=100)
        record = logs[0]
        assert (record.prompt_tokens, record.output_tokens) == (3, 4)
        assert record.inputs == {"max_tokens": 100}
        assert record.metadata == {"tokens": 7}

    def test_key_formats_inside_strings_are_masked(self) -> None:
        """sk-... keys and Bearer tokens inside free text are masked."""
        text = "use sk-proj-abcdefghijklmnop1234 or Bearer abcdefghijklmnopqrstuv please"
        assert to_jsonable(text) == f"use {REDACTED} or {REDACTED} please"

    def test_user_keys_and_patterns(self) -> None:
        """Extra keys and patterns can be added; redaction can be switched off."""
        redactor = Redactor(keys=["ssn"], patterns=[r"\d{3}-\d{2}-\d{4}"])
        assert to_jsonable({"ssn": "1", "note": "id 123-45-6789"}, redactor=redactor) == {
            "ssn": REDACTED,
            "note": f"id {REDACTED}",
        }
        off = Redactor(enabled=False)
        assert to_jsonable({"api_key": "sk-abcdefghijklmnopqrstu"}, redactor=off) == {
            "api_key": "sk-abcdefghijklmnopqrstu"
        }

    def test_api_key_argument_never_exported(self) -> None:
        """An api_key passed to a decorated call is redacted in inputs, output and metadata."""

        @log_prompt(path="client")
        def call(prompt: str, api_key: str, headers: dict[str, str]) -> str:
            return f"called with {api_key}"

        key = "sk-ant-" + "a" * 40
        with capture_logs() as logs:
            call("hi", key, {"Authorization": f"Bearer {key}"})
        body = json.dumps(logs[0].to_body())
        assert key not in body
        assert logs[0].inputs["api_key"] == REDACTED
        assert logs[0].inputs["headers"] == {"Authorization": REDACTED}


class TestSnapshot:
    """The caller-thread copy."""

    def test_long_containers_keep_only_their_head(self) -> None:
        """A 100k-element argument is cut on the caller's thread; the record says how much."""
        from promptrail._record.serialize import Truncated

        big = list(range(100_000))
        cut = snapshot(big, max_items=10)
        assert isinstance(cut, Truncated)
        assert cut.head == list(range(10))
        assert to_jsonable(cut) == [*range(10), f"{TRUNCATED_MARK} 99990 more items"]
        mapping = snapshot({str(i): i for i in range(50)}, max_items=5)
        assert to_jsonable(mapping) == {
            **{str(i): i for i in range(5)},
            TRUNCATED_MARK: "45 more items",
        }

    def test_containers_are_copied_and_leaves_kept(self) -> None:
        """Lists and dicts are copied (so later mutation does not leak); objects are kept."""
        obj = object()
        value = {"messages": [{"role": "user"}], "obj": obj}
        copy = snapshot(value)
        value["messages"].append({"role": "assistant"})  # type: ignore[attr-defined]
        value["messages"][0]["role"] = "changed"  # type: ignore[index]
        assert copy == {"messages": [{"role": "user"}], "obj": obj}
        assert copy["obj"] is obj

    def test_messages_are_copied_to_the_third_level(self) -> None:
        """A message list, its dicts and their content parts are copied; deeper values shared."""
        deep = {"url": "https://example.test/cat.png"}
        parts = [{"type": "image_url", "image_url": deep}]
        messages = [{"role": "user", "content": parts}, "not a dict", ("a", ["tuple"])]
        copy = snapshot(messages)
        messages[0]["content"].append({"type": "text", "text": "late"})  # type: ignore[index, union-attr]
        messages[0]["role"] = "changed"  # type: ignore[index]
        messages.append({"role": "assistant"})
        assert copy == [
            {"role": "user", "content": [{"type": "image_url", "image_url": deep}]},
            "not a dict",
            ("a", ["tuple"]),
        ]
        assert copy[0]["content"] is not parts
        assert copy[0]["content"][0] is parts[0]  # the fourth level is shared, not copied

    def test_nested_containers_are_cut_to_the_same_limit(self) -> None:
        """The size limit applies inside nested containers too, not only at the top."""
        from promptrail._record.serialize import Truncated

        value = {"outer": {"inner": list(range(50))}}
        kept = snapshot(value, max_items=5)
        inner = kept["outer"]["inner"]
        assert isinstance(inner, Truncated)
        assert inner.total == 50
        assert inner.head == list(range(5))
        listed = snapshot([[list(range(50))]], max_items=5)
        assert isinstance(listed[0][0], Truncated)

    def test_arguments_are_copied_two_container_levels_deep(self) -> None:
        """Changing the message list or a message after the call leaves the log as it was."""

        @log_prompt(path="snap/chat")
        def chat(messages: list[dict[str, Any]], options: dict[str, Any]) -> str:
            return "ok"

        memory = InMemoryExporter()
        # A batch pipeline whose worker waits: records are built only at flush(), after the
        # arguments changed.
        promptrail.configure(processors=[BatchProcessor(memory, schedule_delay=60)])
        messages: list[dict[str, Any]] = [{"role": "user", "content": "q"}, {"role": "user"}]
        options = {"stop": ["x"]}
        chat(messages, options)
        messages.append({"role": "assistant", "content": "late"})
        messages[0]["content"] = "changed"
        options["stop"].append("late")
        assert promptrail.flush(timeout=10)
        (record,) = memory.records
        assert record.messages is not None
        assert record.messages[0].content == "q"
        assert len(record.messages) == 2
        assert record.inputs == {"options": {"stop": ["x"]}}
