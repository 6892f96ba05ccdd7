"""The worker's records equal what validating their bodies gives: types, field order, JSON."""

from __future__ import annotations

from typing import Any

import pytest

import promptrail
from promptrail import LogRecord, log_flow, log_prompt, log_tool
from promptrail.testing import capture_logs

COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 31, "completion_tokens": 7, "total_tokens": 38},
}


@log_prompt(path="t/chat", provider="openai")
def chat(*, model: str, messages: list[Any], temperature: float = 1.0) -> Any:
    """An OpenAI-shaped call."""
    return COMPLETION


@log_tool(path="t/tool")
def tool(x: int) -> dict[str, Any]:
    """A tool returning a dict."""
    promptrail.update_current(metadata={"k": [1, 2.5, None]}, user="u1")
    return {"x": x}


@log_flow(path="t/flow")
def flow(x: int) -> int:
    """A flow with typed and mistyped fields set by user code."""
    promptrail.update_current(prompt_tokens=3, prompt_cost=1, run_id="r1")
    tool(x)
    return x


@log_prompt(path="t/fails", model="m")
def fails() -> None:
    """A call that raises."""
    raise ValueError("no")


def _calls() -> None:
    system = {"role": "system", "content": "Be terse."}
    for i in range(3):  # repeated messages take the remembered path from the second call on
        question = {"role": "user", "content": f"q{i}"}
        chat(model="gpt-4o-mini", messages=[system, question], temperature=0.2)
    chat(model="gpt-4o-mini", messages=[system, {"role": "user", "content": [{"type": "text"}]}])
    chat(model="gpt-4o-mini", messages=[system, {"role": "nobody", "content": "x"}])
    flow(1)
    with pytest.raises(ValueError, match="no"):
        fails()


def test_every_record_equals_its_validated_copy() -> None:
    """Each record has exactly the fields, types and JSON that validating its body gives."""
    with capture_logs() as logs:
        _calls()
    assert len(logs) == 8
    for record in logs:
        validated = LogRecord.model_validate(record.model_dump())
        assert record == validated
        assert record.model_dump_json() == validated.model_dump_json()
        assert list(record.__dict__) == list(LogRecord.model_fields)


def test_mistyped_values_are_still_validated() -> None:
    """An int given for a float field is converted as validation does, not taken as is."""
    with capture_logs() as logs:
        flow(2)
    record = next(r for r in logs if r.path == "t/flow")
    assert type(record.prompt_cost) is float
    assert record.prompt_tokens == 3
    assert record.run_id == "r1"


def test_a_message_that_is_not_one_is_kept_as_text() -> None:
    """A message with an unknown role is kept as the JSON text of a user message."""
    with capture_logs() as logs:
        chat(model="gpt-4o-mini", messages=[{"role": "nobody", "content": "x"}])
    messages = logs[0].messages
    assert messages is not None
    assert messages[0].role == "user"
    assert "nobody" in str(messages[0].content)


def test_records_do_not_share_dicts() -> None:
    """Changing one record's inputs leaves the next record of the same call unchanged."""
    with capture_logs() as logs:
        tool(1)
        tool(1)
    first, second = logs
    assert first.inputs is not second.inputs
    assert first.inputs is not None
    first.inputs["x"] = 99
    assert second.inputs == {"x": 1}
