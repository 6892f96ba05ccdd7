"""Stream accumulation from plain-dict items: a streamed answer rebuilds the whole response."""

from __future__ import annotations

from typing import Any

from promptrail.providers._accumulate import StreamAccumulator
from promptrail.providers._registry import extract


def _chunk(choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "chat.completion.chunk", "model": "gpt-4o-2024-08-06", "choices": choices}


def _delta(index: int, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    return {"index": index, "delta": delta, "finish_reason": finish}


def _fields(items: list[Any]) -> dict[str, Any]:
    acc = StreamAccumulator()
    for item in items:
        assert acc.add(item)
    return acc.fields()


class TestChatChunks:
    """OpenAI Chat Completions chunks as dicts."""

    def test_tool_call_fragments_are_joined(self) -> None:
        """Tool call ids, names and argument pieces are reassembled per index."""
        call0 = {"index": 0, "id": "call_1", "type": "function"}
        call1 = {"index": 1, "id": "call_2", "type": "function"}
        items = [
            _chunk([_delta(0, role="assistant", content=None)]),
            _chunk([_delta(0, tool_calls=[{**call0, "function": {"name": "f", "arguments": ""}}])]),
            _chunk([_delta(0, tool_calls=[{"index": 0, "function": {"arguments": '{"a":'}}])]),
            _chunk([_delta(0, tool_calls=[{"index": 0, "function": {"arguments": " 1}"}}])]),
            _chunk(
                [_delta(0, tool_calls=[{**call1, "function": {"name": "g", "arguments": "{}"}}])]
            ),
            _chunk([_delta(0, "tool_calls")]),
        ]
        fields = _fields(items)
        assert fields["output_message"] == {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"a": 1}'},
                },
                {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
            ],
        }
        assert fields["finish_reason"] == "tool_calls"
        assert fields["metadata"] == {"usage_unknown": True}
        assert fields["prompt"] == {"model": "gpt-4o-2024-08-06", "endpoint": "chat"}

    def test_several_choices_and_reasoning(self) -> None:
        """Interleaved choices are kept apart; reasoning text becomes ``thinking``."""
        items = [
            _chunk([_delta(0, reasoning_content="Think."), _delta(1, content="B")]),
            _chunk([_delta(0, content="A"), _delta(1, "stop")]),
            _chunk([_delta(0, "length")]),
            {**_chunk([]), "usage": {"prompt_tokens": 3, "completion_tokens": 4}},
        ]
        fields = _fields(items)
        assert fields["output"] == "A"
        assert fields["output_message"]["thinking"] == "Think."
        assert fields["finish_reason"] == "length"
        assert fields["metadata"]["extra_choices"][0]["output_message"]["content"] == "B"
        assert (fields["prompt_tokens"], fields["output_tokens"]) == (3, 4)

    def test_refusal_is_streamed_too(self) -> None:
        """Refusal pieces give the same output as a non-streamed refusal."""
        fields = _fields([_chunk([_delta(0, refusal="No.")]), _chunk([_delta(0, "stop")])])
        assert fields["output"] == "No."
        assert fields["metadata"]["refusal"] == "No."


class TestAnthropicEvents:
    """Anthropic events as dicts, including a partial stream."""

    def test_dict_events_match_the_message(self) -> None:
        """Dict events rebuild the message the non-streamed call returns."""
        start = {"model": "claude-haiku-4-5", "usage": {"input_tokens": 5, "output_tokens": 1}}
        items = [
            {"type": "message_start", "message": start},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hi"},
            },
            {"type": "ping"},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 2},
            },
        ]
        message = {
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5",
            "content": [{"type": "text", "text": "Hi"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "output_tokens": 2},
        }
        assert _fields(items) == extract(message)

    def test_tool_input_that_is_not_json_is_kept_as_text(self) -> None:
        """Unfinished tool input JSON is logged as the text received."""
        block = {"type": "tool_use", "id": "t1", "name": "f", "input": {}}
        items = [
            {"type": "content_block_start", "index": 0, "content_block": block},
            {"type": "content_block_delta", "index": 0, "delta": {"partial_json": '{"a": '}},
        ]
        call = _fields(items)["output_message"]["tool_calls"][0]
        assert call["function"] == {"name": "f", "arguments": '{"a": '}


class TestMixedItems:
    """Items of no known family."""

    def test_unknown_item_makes_extract_keep_the_raw_items(self) -> None:
        """A generator yielding text and then something else is logged item by item."""
        assert extract(["a", 1], is_stream=True) == {"output": ["a", 1]}

    def test_content_part_dicts_are_not_anthropic_events(self) -> None:
        """``{"type": "text", ...}`` dicts are unknown items, not Anthropic stream events."""
        acc = StreamAccumulator()
        assert not acc.add({"type": "text", "text": "hi"})
        assert acc.unknown

    def test_empty_generator_logs_empty_text(self) -> None:
        """A generator that yields nothing logs ``""``."""
        assert extract([], is_stream=True) == {"output": ""}
