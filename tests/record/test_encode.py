"""The worker's shortcuts build and write exactly what the general path does."""

from __future__ import annotations

import enum
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

import promptrail
from promptrail._record import encode as _fastrecord
from promptrail._record.models import ChatMessage, LogRecord, PromptKernel, ToolCall
from promptrail._runtime.limits import Limits
from promptrail._runtime.redaction import Redactor
from promptrail._runtime.secrets import REDACTED
from promptrail._runtime.state import STATE
from promptrail._tracing import reuse as _reuse
from promptrail._tracing.active import ActiveLog
from promptrail._tracing.build import INVALID_KEY

API_KEY = "sk-proj-" + "Zq8" * 16  # masked wherever it appears in a string

MESSAGES: list[Any] = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": f"my key is {API_KEY}"},
    {"role": "assistant", "content": "noted", "api_key": "hunter2"},
    {"role": "user", "content": "x" * 100},
    {"role": "tool", "content": None, "tool_call_id": "call_1"},
]

COMPLETION = {
    "object": "chat.completion",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": f"here: {API_KEY}"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 31, "completion_tokens": 7},
}


class Role(str, enum.Enum):  # noqa: UP042 - the str-mixin shape is what is tested
    """A str-mixin enum, as some code types message roles."""

    USER = "user"


class Text(str):
    """A str subclass."""


class Collect(promptrail.BaseProcessor):
    """Keeps ended logs, so that one log can be turned into a record twice."""

    def __init__(self) -> None:
        self.logs: list[ActiveLog] = []

    def on_end(self, log: ActiveLog) -> None:
        """Keep the log."""
        self.logs.append(log)


def both_ways(log: ActiveLog, monkeypatch: pytest.MonkeyPatch) -> tuple[LogRecord, LogRecord]:
    """The record of ``log`` with the memo (filled, then used) and without it."""
    settings = STATE.settings
    log.to_record(settings)  # messages seen once: noted
    log.to_record(settings)  # seen again: remembered
    fast = log.to_record(settings)
    return fast, general_path(log, monkeypatch)


def general_path(log: ActiveLog, monkeypatch: pytest.MonkeyPatch) -> LogRecord:
    """The record of ``log`` built without the memo."""
    with monkeypatch.context() as patch:
        patch.setattr(_reuse, "memo_for", lambda limits, redactor: None)
        return log.to_record(STATE.settings)


def assert_same(fast: LogRecord, slow: LogRecord) -> None:
    """Equal records: fields, fields set (nested too) and the JSON written."""
    assert repr(fast) == repr(slow)  # not ==: NaN is not equal to itself
    assert fast.model_fields_set == slow.model_fields_set
    for a, b in zip(fast.messages or [], slow.messages or [], strict=True):
        assert a.model_fields_set == b.model_fields_set
    if fast.prompt is not None and slow.prompt is not None:
        assert fast.prompt.model_fields_set == slow.prompt.model_fields_set
    assert _fastrecord.dump_json(fast) == slow.model_dump_json(exclude_none=True).encode()


def calls(collect: Collect, **prompt: Any) -> Any:
    """A decorated LLM-shaped function; ``prompt`` goes to the decorator."""
    promptrail.configure(processors=[collect])

    @promptrail.log_prompt(path="chat", **prompt)
    def chat(*, model: Any, messages: Any, temperature: Any = 1.0, result: Any = None) -> Any:
        return COMPLETION if result is None else result

    return chat


class TestRememberedRecords:
    """Records built with remembered messages and kernels equal the general path's."""

    def test_llm_call_with_secrets(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Secrets in contents and under secret keys are redacted the same way."""
        collect = Collect()
        calls(collect, provider="openai", endpoint="chat")(
            model="gpt-4o-mini", messages=MESSAGES, temperature=0.2
        )
        fast, slow = both_ways(collect.logs[0], monkeypatch)
        assert_same(fast, slow)
        assert fast.messages is not None
        assert API_KEY not in fast.model_dump_json()
        assert fast.messages[1].content == f"my key is {REDACTED}"
        assert fast.output_message is not None
        assert fast.output_message.content == f"here: {REDACTED}"

    def test_models_are_shared_between_records(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A message seen again and a repeated prompt are one immutable model per record."""
        monkeypatch.setattr(_reuse, "MEMOS", [])  # a fresh memo: nothing seen yet
        collect = Collect()
        chat = calls(collect, provider="openai")
        for _ in range(3):
            chat(model="gpt-4o-mini", messages=MESSAGES[:2], temperature=0.2)
        first, second, third = (log.to_record(STATE.settings) for log in collect.logs)
        assert first.messages is not None
        assert second.messages is not None
        assert third.messages is not None
        assert first.messages[0] is not second.messages[0]  # seen once: not remembered yet
        assert second.messages[0] is third.messages[0]
        assert first.messages == second.messages
        assert first.prompt is second.prompt is third.prompt
        assert first.version_id == second.version_id

    def test_messages_seen_once_are_not_remembered(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Each call's new question is validated with its record, never kept in the memo."""
        monkeypatch.setattr(_reuse, "MEMOS", [])
        collect = Collect()
        chat = calls(collect, provider="openai")
        for i in range(50):
            question = {"role": "user", "content": f"question {i}"}
            chat(model="gpt-4o-mini", messages=[MESSAGES[0], question], temperature=0.2)
        records = [log.to_record(STATE.settings) for log in collect.logs]
        memo = _reuse.MEMOS[-1]
        remembered = [key for key in memo._entries if key and key[0] == ("role", "user")]
        assert remembered == []
        assert records[-1].messages is not None
        assert records[-1].messages[0] is records[1].messages[0]  # the system message is
        assert records[-1].messages[1].content == "question 49"
        assert_same(*both_ways(collect.logs[-1], monkeypatch))

    @pytest.mark.parametrize(
        "messages",
        [
            [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],  # content parts
            [{"role": "bogus", "content": "x"}],  # not a message: kept as text
            [{"role": "user"}, "plain text", 5, None],
            [{"role": "user", "content": "a"}] * 5,  # more than max_items (3 below)
            ({"role": "user", "content": "a"},),  # a tuple
            [{"role": "user", "content": "a", 1: "x"}],  # a non-string key
            [{"role": "assistant", "content": "a", "tool_calls": "nope"}],
            [{"role": "user", "content": "a"}, {"role": Role.USER, "content": "a"}],
            [{"role": "user", "content": "a"}, {"role": "user", "content": Text("a")}],
        ],
    )
    def test_unusual_messages(self, messages: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        """Anything but a dict of strings takes the general path, leniency included."""
        collect = Collect()
        promptrail.configure(processors=[collect], limits=Limits(max_items=3))
        chat = calls(collect)
        promptrail.configure(processors=[collect], limits=Limits(max_items=3))
        chat(model="m", messages=messages)
        assert_same(*both_ways(collect.logs[0], monkeypatch))

    def test_limits_apply(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Long strings are cut the same way (the memo belongs to one set of limits)."""
        collect = Collect()
        chat = calls(collect)
        chat(model="gpt-4o", messages=MESSAGES)
        fast_default, _ = both_ways(collect.logs[0], monkeypatch)
        promptrail.configure(processors=[collect], limits=Limits(max_string=10))
        fast, slow = both_ways(collect.logs[0], monkeypatch)
        assert_same(fast, slow)
        assert fast.messages is not None
        assert fast_default.messages is not None
        assert fast.messages[3].content != fast_default.messages[3].content
        assert fast.messages[3].content is not None
        assert fast.messages[3].content.startswith("x" * 10)

    def test_depth_limit_turns_messages_into_text(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Limits too tight for message dicts take the general path."""
        collect = Collect()
        chat = calls(collect)
        chat(model="gpt-4o", messages=MESSAGES)
        promptrail.configure(processors=[collect], limits=Limits(max_depth=1))
        fast, slow = both_ways(collect.logs[0], monkeypatch)
        assert_same(fast, slow)
        assert fast.messages is not None
        first = fast.messages[0].content
        assert isinstance(first, str)
        assert first.startswith("{")  # the message dict, kept as its text

    def test_redaction_callback_sees_every_entry(self) -> None:
        """With a callback, every message entry is judged on every record (no memo)."""
        seen: list[str] = []

        def judge(key: str, value: Any) -> bool:
            seen.append(key)
            return key == "role"

        collect = Collect()
        chat = calls(collect)
        chat(model="gpt-4o", messages=MESSAGES[:1])
        promptrail.configure(processors=[collect], redact=Redactor(callback=judge))
        record = collect.logs[0].to_record(STATE.settings)
        once = seen.count("content")
        assert once >= 1
        assert record.messages is not None  # role hidden: not a message, kept as its text
        assert record.messages[0].content == '{"role": "[REDACTED]", "content": "You are terse."}'
        collect.logs[0].to_record(STATE.settings)
        assert seen.count("content") == 2 * once

    @pytest.mark.parametrize(
        "prompt",
        [
            {"provider": "openai", "endpoint": "chat"},
            {"temperature": 1, "max_tokens": 10},  # ints for floats
            {"temperature": True},  # a bool where a number goes
            {"seed": 1.0},
            {"seed": 1.5},  # does not validate
            {"foo": "bar", "top_k": 3},  # unknown keys go to prompt.other
            {"template": "Hi {{name}}", "stop": "END"},
            {"model": API_KEY},  # masked, and then priced as no model
        ],
    )
    def test_prompt_details(self, prompt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        """Prompt kernels, version ids and costs are the general path's."""
        collect = Collect()
        chat = calls(collect)
        chat(model="gpt-4o", messages=MESSAGES[:2], temperature=0.5)
        chat(model="gpt-4o", messages=MESSAGES[:2], temperature=1)
        chat(model="gpt-4o", messages=MESSAGES[:2], temperature=True)
        chat(model=5, messages=MESSAGES[:2])
        chat(model=None, messages=MESSAGES[:2], temperature=float("nan"))
        settings = STATE.settings
        for log in collect.logs:
            log.spec.prompt = dict(prompt)  # the decorator's details
            try:
                slow = general_path(log, monkeypatch)
            except Exception as exc:  # the memo path must fail the same way, filled or not
                for _ in range(2):
                    with pytest.raises(type(exc)):
                        log.to_record(settings)
                continue
            log.to_record(settings)  # fills the memo
            assert_same(log.to_record(settings), slow)

    def test_model_from_the_response_gives_the_version(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without a model in the call, the response's model is part of the version."""
        collect = Collect()
        chat = calls(collect)
        other = {**COMPLETION, "model": "gpt-4.1"}
        chat(model=None, messages=MESSAGES[:1])
        chat(model=None, messages=MESSAGES[:1], result=other)
        first, second = (both_ways(log, monkeypatch) for log in collect.logs)
        assert_same(*first)
        assert_same(*second)
        assert first[0].version_id != second[0].version_id

    def test_user_fields_win(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """update_current() fields override extracted ones, wrong types move to metadata."""
        collect = Collect()
        promptrail.configure(processors=[collect])

        @promptrail.log_prompt(path="chat")
        def chat(*, model: str, messages: Any) -> Any:
            promptrail.update_current(
                output_message={"role": "assistant", "content": "mine"},
                messages=[{"role": "user", "content": "replaced"}],
                version_id="v1",
                prompt_tokens="many",
            )
            return COMPLETION

        chat(model="gpt-4o", messages=MESSAGES)
        fast, slow = both_ways(collect.logs[0], monkeypatch)
        assert_same(fast, slow)
        assert fast.version_id == "v1"
        assert fast.output_message is not None
        assert fast.output_message.content == "mine"
        assert fast.metadata[INVALID_KEY] == {"prompt_tokens": "many"}

    def test_request_details(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """System messages, tool choice and merged inputs come out as the general path's."""
        collect = Collect()
        promptrail.configure(processors=[collect])

        @promptrail.log_prompt(path="chat", model="claude-sonnet-4")
        def create(*, messages: Any, system: Any = None, tool_choice: Any = None, **kw: Any) -> Any:
            if kw.get("merge"):
                promptrail.update_current(inputs={"extra": API_KEY})
            return COMPLETION

        for _ in range(2):
            create(messages=MESSAGES[:2], system="Be brief.", max_tokens=5)
            create(messages=MESSAGES[:2], tool_choice="auto", stop_sequences="END")
            create(messages=MESSAGES[:2], merge=True, api_key=API_KEY)
            create(messages=MESSAGES[:2], tool_choice={"type": "any"})
        for log in collect.logs:
            assert_same(*both_ways(log, monkeypatch))
        records = [log.to_record(STATE.settings) for log in collect.logs]
        assert records[0].messages is not None
        assert records[0].messages[0].content == "Be brief."
        assert records[1].tool_choice == "auto"
        assert records[2].inputs is not None
        assert records[2].inputs["api_key"] == records[2].inputs["extra"] == REDACTED

    def test_system_message_with_and_without_messages(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The same arguments without, then with, messages still add the system message."""
        collect = Collect()
        promptrail.configure(processors=[collect])

        @promptrail.log_prompt(path="chat")
        def create(*, system: str, messages: Any = None) -> Any:
            return COMPLETION

        create(system="Be brief.")
        create(system="Be brief.", messages=MESSAGES[1:2])
        for log in collect.logs:
            assert_same(*both_ways(log, monkeypatch))
        record = collect.logs[1].to_record(STATE.settings)
        assert record.messages is not None
        assert [m.role for m in record.messages] == ["system", "user"]


class TestMemo:
    """The memo is bounded and starts over for new settings."""

    def test_bounded_by_entries(self) -> None:
        """Past max_entries everything is forgotten, dumps included."""
        memo = _fastrecord.Memo(None, None, max_entries=2)
        models = [ChatMessage(role="user", content=str(i)) for i in range(3)]
        for i, model in enumerate(models):
            memo.put(i, model, 1)
        assert memo.get(0) is None
        assert memo.get(2) is models[2]
        assert id(models[0]) not in _fastrecord._dumps
        assert id(models[2]) in _fastrecord._dumps
        memo.clear()
        assert id(models[2]) not in _fastrecord._dumps

    def test_gives_up_on_uses_that_keep_missing(self) -> None:
        """A tag missing more often than hitting, after 64 misses, is not worth it any more."""
        memo = _fastrecord.Memo(None, None)
        for _ in range(63):
            memo.note("unique", False)
        assert memo.worth("unique")
        memo.note("unique", False)
        assert not memo.worth("unique")
        for _ in range(200):
            memo.note("repeated", True)
        for _ in range(100):
            memo.note("repeated", False)
        assert memo.worth("repeated")

    def test_unique_outputs_and_arguments_take_the_general_path(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Varying arguments and outputs stop being remembered; records stay the same."""
        collect = Collect()
        chat = calls(collect)
        for i in range(100):  # arguments that never repeat
            chat(model="gpt-4o", messages=MESSAGES[:1], temperature=i / 100)
        for i in range(150):  # outputs that never repeat
            message = {"role": "assistant", "content": str(i)}
            chat(
                model="gpt-4o",
                messages=MESSAGES[:1],
                result={**COMPLETION, "choices": [{"message": message}]},
            )
        records = [log.to_record(STATE.settings) for log in collect.logs]
        memo = _reuse.MEMOS[-1]
        spec = collect.logs[0].spec
        assert not memo.worth(spec)
        assert memo.requests is not None
        assert not memo.requests.worth(spec)
        assert records[-1].messages is not None
        assert records[-1].messages[0] is records[0].messages[0]  # still remembered
        assert_same(*both_ways(collect.logs[-1], monkeypatch))
        assert_same(*both_ways(collect.logs[99], monkeypatch))
        assert_same(*both_ways(collect.logs[150], monkeypatch))

    def test_first_sight(self) -> None:
        """A key is new once; the set of keys seen is bounded and cleared with the memo."""
        memo = _fastrecord.Memo(None, None, max_entries=2)
        assert memo.first_sight(("a",))
        assert not memo.first_sight(("a",))
        for i in range(8):  # 4 x max_entries hashes at most: then it starts over
            memo.first_sight(("b", i))
        assert memo.first_sight(("a",))
        memo.clear()
        assert memo.first_sight(("a",))

    def test_huge_keys_are_not_kept(self) -> None:
        """A key over 1/64 of the character budget is built but never remembered."""
        memo = _fastrecord.Memo(None, None, max_chars=6400)
        memo.put("big", "v", 101)
        memo.put("small", "v", 100)
        assert memo.get("big") is None
        assert memo.get("small") == "v"

    def test_new_settings_new_memo(self) -> None:
        """configure() with other limits or redactor starts a new memo."""
        first = _reuse.memo_for(Limits(), Redactor())
        assert first is not None
        assert _reuse.memo_for(first.limits, first.redactor) is first  # type: ignore[arg-type]
        assert _reuse.memo_for(Limits(), Redactor()) is not first

    def test_keys(self) -> None:
        """Only dicts of strings (messages) and of atomic values (kernels) have keys."""
        assert _fastrecord.message_key({"role": "user", "content": None}) is not None
        assert _fastrecord.message_key({"role": "user", "content": ["x"]}) is None
        assert _fastrecord.message_key({"role": "user", 1: "x"}) is None
        assert _fastrecord.message_key(["role"]) is None
        one, real, true = ({"t": v} for v in (1, 1.0, True))
        keys = {_fastrecord.atomic_key(one), _fastrecord.atomic_key(real)}
        keys.add(_fastrecord.atomic_key(true))
        assert len(keys) == 3
        assert _fastrecord.atomic_key({"t": [1]}) is None


class TestDumpJson:
    """dump_json writes model_dump_json(exclude_none=True), byte for byte."""

    @pytest.mark.parametrize(
        "extra",
        [
            {},
            {"prompt_cost": float("nan"), "output_cost": math.inf, "provider_latency": 1e-7},
            {"metadata": {"a": None, "b": [None, {"c": None}], "é": "ü 日本 🎉", "n": math.nan}},
            {"inputs": {"x": None, "when": datetime(2020, 1, 1, tzinfo=UTC)}},
            {"inputs": {"d": timedelta(seconds=90), "b": b"raw", "t": (1, 2), "s": {3}}},
            {"inputs": {"b": b"raw\xff"}},  # not UTF-8: an error either way
            {"metadata": {"o": object()}},  # not serialisable: an error either way
            {"end_time": datetime(2020, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))},
            {"start_time": datetime(2020, 1, 1)},  # naive
            {"save": False, "prompt_tokens": 0, "output": "", "tool": {}},
            {
                "output_message": ChatMessage(
                    role="assistant",
                    tool_calls=[ToolCall(id="c", function={"name": "f"})],  # type: ignore[arg-type]
                ),
                "messages": [{"role": "user", "content": [{"type": "text", "text": None}]}],
                "prompt": PromptKernel(temperature=1, other={"k": None}),
                "tool_choice": {"type": "function"},
            },
        ],
    )
    @pytest.mark.parametrize("fast", [False, True], ids=["pydantic", "orjson"])
    def test_equal_to_model_dump_json(
        self, extra: dict[str, Any], fast: bool, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Floats, non-finite numbers, unicode, datetimes, nested models, None inside dicts."""
        if fast:
            pytest.importorskip("orjson")
        else:
            monkeypatch.setattr(_fastrecord, "_orjson_dumps", None)
        now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
        record = LogRecord.model_validate(
            {"log_id": "l", "path": "p", "trace_id": "t", "start_time": now, "created_at": now}
            | {"messages": [{"role": "user", "content": "hi"}], "prompt_cost": 4.65e-6}
            | extra
        )
        try:
            expected = record.model_dump_json(exclude_none=True).encode()
        except Exception as exc:  # unwritable either way, with the same error
            with pytest.raises(type(exc)):
                _fastrecord.dump_json(record)
            return
        assert _fastrecord.dump_json(record) == expected

    def test_orjson_writes_the_same_json_value(self) -> None:
        """With orjson, floats differ at most in their exponent's sign; the value is the same."""
        pytest.importorskip("orjson")
        now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
        record = LogRecord(
            log_id="l",
            path="p",
            trace_id="t",
            start_time=now,
            created_at=now,
            metadata={"big": 1e300, "int": 2**70, "small": 4.65e-6},
        )
        expected = record.model_dump_json(exclude_none=True)
        assert json.loads(_fastrecord.dump_json(record)) == json.loads(expected)

    def test_subclass_fields_are_written(self) -> None:
        """A LogRecord subclass is written by its own serializer, its own fields included."""

        class Extended(LogRecord):
            extra_field: str = "x"

        now = datetime(2026, 1, 1, tzinfo=UTC)
        record = Extended(log_id="l", path="p", trace_id="t", start_time=now, created_at=now)
        assert b'"extra_field":"x"' in _fastrecord.dump_json(record)

    def test_remembered_models_use_their_dump(self) -> None:
        """A remembered message is written from its dump, which is its own serializer's."""
        memo = _fastrecord.Memo(None, None)
        message = ChatMessage(role="user", content="hi", name=None)
        memo.put("k", message, 2)
        now = datetime(2026, 1, 1, tzinfo=UTC)
        record = LogRecord(
            log_id="l",
            path="p",
            trace_id="t",
            start_time=now,
            created_at=now,
            messages=[message, ChatMessage(role="user", content="other")],
            output_message=message,
        )
        assert _fastrecord.dump_json(record) == record.model_dump_json(exclude_none=True).encode()
        memo.clear()
