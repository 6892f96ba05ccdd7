"""Bedrock Converse responses and ConverseStream events read as plain dicts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import promptrail
from promptrail.providers._registry import extract
from promptrail.testing import capture_logs

CONVERSE = {
    "output": {
        "message": {
            "role": "assistant",
            "content": [
                {"reasoningContent": {"reasoningText": {"text": "Think.", "signature": "s"}}},
                {"text": "Paris."},
            ],
        }
    },
    "stopReason": "end_turn",
    "usage": {"inputTokens": 10, "outputTokens": 4, "cacheReadInputTokens": 6},
}


def test_a_converse_response_is_read() -> None:
    """Text, reasoning as thinking, tokens with the cache read added back, the provider."""
    fields = extract(CONVERSE)
    assert fields["output"] == "Paris."
    assert fields["output_message"]["thinking"] == "Think."
    assert (fields["prompt_tokens"], fields["output_tokens"]) == (16, 4)
    assert fields["metadata"] == {"cached_prompt_tokens": 6}
    assert fields["prompt"]["provider"] == "bedrock"


def test_a_dict_that_only_looks_alike_is_kept() -> None:
    """A user's dict with an ``output`` but no Converse shape stays the output."""
    value = {"output": {"message": "hi"}, "usage": {"inputTokens": 1}}
    assert extract(value) == {"output": value}


def test_a_generator_of_converse_stream_events_is_one_answer() -> None:
    """A decorated generator yielding ConverseStream events gives the streamed answer."""

    @promptrail.log_prompt(path="g")
    def events() -> Iterator[dict[str, Any]]:
        yield {"messageStart": {"role": "assistant"}}
        yield {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Par"}}}
        yield {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "is."}}}
        yield {"messageStop": {"stopReason": "end_turn"}}
        yield {"metadata": {"usage": {"inputTokens": 3, "outputTokens": 2}}}

    with capture_logs() as logs:
        list(events())
    (record,) = logs
    assert (record.output, record.prompt_tokens, record.output_tokens) == ("Paris.", 3, 2)
    assert record.finish_reason == "end_turn"


def test_a_stream_without_usage_says_so() -> None:
    """ConverseStream events that end before the metadata event leave the usage unknown."""
    fields = extract([{"contentBlockDelta": {"delta": {"text": "Hi"}}}], is_stream=True)
    assert fields["output"] == "Hi"
    assert fields["metadata"]["usage_unknown"] is True


def test_other_dicts_named_metadata_are_not_bedrock_events() -> None:
    """A dict ``{"metadata": ...}`` without Bedrock's usage or metrics is left alone."""
    items = [{"metadata": {"user": "u1"}}]
    assert extract(items, is_stream=True) == {"output": items}


def test_converse_request_fields() -> None:
    """Images are parts without bytes; toolChoice and additional fields are translated."""
    from promptrail.providers._request import request_fields

    messages = [
        {
            "role": "user",
            "content": [
                {"text": "What is this?"},
                {"image": {"format": "png", "source": {"bytes": b"\x89PNG"}}},
            ],
        },
        {
            "role": "assistant",
            "content": [{"reasoningContent": {"reasoningText": {"text": "A logo."}}}],
        },
    ]
    inputs = {
        "modelId": "amazon.nova-pro-v1:0",
        "toolConfig": {"tools": [{"cachePoint": {"type": "default"}}], "toolChoice": {"any": {}}},
        "additionalModelRequestFields": {"top_k": 5},
    }
    prompt, out, choice = request_fields(None, inputs, messages)
    assert out == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image", "format": "png"},
            ],
        },
        {"role": "assistant", "content": "", "thinking": "A logo."},
    ]
    assert prompt["model"] == "amazon.nova-pro-v1:0"
    assert prompt["other"] == {"top_k": 5}
    assert prompt["tools"] == [{"cachePoint": {"type": "default"}}]
    assert choice == "required"
    _, _, auto = request_fields(None, {**inputs, "toolConfig": {"toolChoice": {"auto": {}}}}, [])
    assert auto == "auto"


def test_invoke_model_request_fields() -> None:
    """An Anthropic body's tools and tool choice are read; a body that is not JSON is skipped."""
    import json

    from promptrail.providers._request import request_fields

    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [{"name": "lookup", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any"},
    }
    inputs = {"modelId": "anthropic.claude-3-haiku-20240307-v1:0", "body": json.dumps(body)}
    prompt, messages, choice = request_fields(None, inputs, None)
    assert messages == [{"role": "user", "content": "Hi"}]
    assert prompt["tools"] == [{"name": "lookup", "parameters": {"type": "object"}}]
    assert (prompt["max_tokens"], choice) == (10, "required")
    prompt, messages, _ = request_fields(None, {**inputs, "body": b"\xff not json"}, None)
    assert (prompt["model"], messages) == (inputs["modelId"], None)
