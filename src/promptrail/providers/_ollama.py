"""Ollama: ``chat``/``generate`` responses and stream chunks, read as Chat Completions.

An Ollama response (the SDK's ``ChatResponse``/``GenerateResponse`` or the same shape as a dict)
is translated to the Chat Completions shape and read by the OpenAI reader: one set of rules for
messages, tool calls, thinking and tokens. Token counts are ``prompt_eval_count`` and
``eval_count``; ``done_reason`` is the finish reason.
"""

from __future__ import annotations

import json
from typing import Any

from promptrail.providers._common import get, int_or_none, provider_of
from promptrail.providers._openai import read_chat_completion

__all__ = ["as_chat_chunk", "is_ollama", "read_ollama"]


def is_ollama(value: Any) -> bool:
    """Whether ``value`` is an Ollama response or stream chunk (object or dict)."""
    if provider_of(value) == "ollama":
        return get(value, "done") is not None
    return (
        isinstance(value, dict)
        and "done" in value
        and ("message" in value or "response" in value)
        and ("eval_count" in value or "prompt_eval_count" in value or "created_at" in value)
    )


def _message(value: Any) -> dict[str, Any]:
    message = get(value, "message")
    out: dict[str, Any] = {"role": get(message, "role") or "assistant"}
    content = get(message, "content") if message is not None else get(value, "response")
    out["content"] = content if isinstance(content, str) else None
    thinking = get(message, "thinking") if message is not None else get(value, "thinking")
    if isinstance(thinking, str) and thinking:
        out["reasoning_content"] = thinking
    calls = []
    for index, call in enumerate(get(message, "tool_calls") or ()):
        function = get(call, "function")
        arguments = get(function, "arguments")
        calls.append(
            {
                "index": index,
                "id": get(call, "id") or f"call_{index}",
                "type": "function",
                "function": {
                    "name": get(function, "name", ""),
                    "arguments": arguments
                    if isinstance(arguments, str)
                    else json.dumps(arguments, ensure_ascii=False, default=str),
                },
            }
        )
    if calls:
        out["tool_calls"] = calls
    return out


def _usage(value: Any) -> dict[str, int] | None:
    prompt = int_or_none(get(value, "prompt_eval_count"))
    output = int_or_none(get(value, "eval_count"))
    if prompt is None and output is None:
        return None
    usage = {"prompt_tokens": prompt or 0, "completion_tokens": output or 0}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return usage


def _finish_reason(value: Any, message: dict[str, Any]) -> str | None:
    if not get(value, "done"):
        return None
    if message.get("tool_calls"):
        return "tool_calls"
    reason = get(value, "done_reason")
    return reason if isinstance(reason, str) and reason else "stop"


def read_ollama(value: Any) -> dict[str, Any]:
    """Return the log fields of a complete Ollama response."""
    message = _message(value)
    fields = read_chat_completion(
        {
            "object": "chat.completion",
            "model": get(value, "model"),
            "choices": [
                {"index": 0, "message": message, "finish_reason": _finish_reason(value, message)}
            ],
            "usage": _usage(value),
        }
    )
    fields.setdefault("prompt", {})["provider"] = "ollama"
    return fields


def as_chat_chunk(value: Any) -> dict[str, Any]:
    """An Ollama stream chunk as a Chat Completions chunk (for the stream accumulator)."""
    message = _message(value)
    chunk: dict[str, Any] = {
        "object": "chat.completion.chunk",
        "model": get(value, "model"),
        "choices": [
            {"index": 0, "delta": message, "finish_reason": _finish_reason(value, message)}
        ],
    }
    usage = _usage(value) if get(value, "done") else None
    if usage is not None:
        chunk["usage"] = usage
    return chunk
