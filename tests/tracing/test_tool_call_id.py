"""Tool logs carry the id of the model's tool call they answer, when it is known."""

from __future__ import annotations

import json
from typing import Any

import promptrail
from promptrail import ChatMessage, FunctionCall, ToolCall
from promptrail._tracing.tool_calls import TOOL_CALL_ID_KEY, ToolCalls
from promptrail.testing import capture_logs


def call(call_id: str, name: str, **arguments: Any) -> ToolCall:
    return ToolCall(id=call_id, function=FunctionCall(name=name, arguments=json.dumps(arguments)))


@promptrail.log_prompt(path="agent/llm")
def llm(*calls: ToolCall) -> str:
    """A model reply asking for ``calls``."""
    promptrail.update_current(
        output_message=ChatMessage(role="assistant", content=None, tool_calls=list(calls))
    )
    return ""


@promptrail.log_tool(path="agent/tools/weather")
def get_weather(city: str) -> str:
    """Today's weather."""
    return f"sunny in {city}"


@promptrail.log_tool(path="agent/tools/lookup")
def lookup(key: str, tool_call_id: str) -> str:
    """A tool that is handed its call id (as LangChain's InjectedToolCallId)."""
    return key


def by_path(logs: list[Any], path: str) -> list[Any]:
    return [r for r in logs if r.path == path]


def test_tool_logs_answer_the_previous_replys_calls() -> None:
    """Each tool log gets the id of the call with its name and arguments, each call once."""
    with capture_logs() as logs, promptrail.trace(path="agent/turn"):
        llm(call("call_a", "get_weather", city="Oslo"), call("call_b", "get_weather", city="Rome"))
        get_weather("Rome")
        get_weather("Oslo")
    weather = by_path(logs, "agent/tools/weather")
    assert [(r.inputs["city"], r.metadata[TOOL_CALL_ID_KEY]) for r in weather] == [
        ("Rome", "call_b"),
        ("Oslo", "call_a"),
    ]


def test_a_passed_in_id_wins_and_unknown_calls_get_none() -> None:
    """A ``tool_call_id`` argument is used as is; a tool no reply asked for gets no id."""
    with capture_logs() as logs, promptrail.trace(path="agent/turn"):
        llm(call("call_x", "other_tool"))
        lookup("k", tool_call_id="call_given")
        get_weather("Oslo")
    (looked_up,) = by_path(logs, "agent/tools/lookup")
    assert looked_up.metadata[TOOL_CALL_ID_KEY] == "call_given"
    (weather,) = by_path(logs, "agent/tools/weather")
    assert TOOL_CALL_ID_KEY not in weather.metadata


def test_calls_of_another_trace_or_a_later_reply_are_not_used() -> None:
    """Only an earlier reply of the same trace counts."""
    with capture_logs() as logs:
        with promptrail.trace(path="agent/one"):
            llm(call("call_1", "get_weather", city="Oslo"))
        with promptrail.trace(path="agent/two"):
            get_weather("Oslo")
    (weather,) = by_path(logs, "agent/tools/weather")
    assert TOOL_CALL_ID_KEY not in weather.metadata


def test_the_memory_is_bounded_and_a_rebuild_finds_the_same_call() -> None:
    """Old traces are forgotten; asking again for the same tool log gives the same id."""
    calls = ToolCalls(max_traces=2)
    for n in range(3):
        calls.offered(f"t{n}", 10, [call(f"c{n}", "f")])
    assert calls.answer("t0", "log", 20, "f", {}) is None
    assert calls.answer("t2", "log", 20, "f", {}) == "c2"
    assert calls.answer("t2", "log", 20, "f", {}) == "c2"
    assert calls.answer("t2", "other", 20, "f", {}) is None  # c2 is answered
    assert calls.answer("t1", "early", 5, "f", {}) is None  # started before the reply ended
