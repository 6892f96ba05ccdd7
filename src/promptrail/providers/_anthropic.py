"""Anthropic: Messages (``type == "message"``) read into log fields.

Values are the SDK's objects or the same shapes as dicts; ``anthropic`` is never imported.
"""

from __future__ import annotations

import json
from typing import Any

from promptrail.providers._common import (
    CACHE_CREATION_KEY,
    CACHED_KEY,
    get,
    int_or_none,
    prompt_of,
)

__all__ = ["anthropic_blocks", "anthropic_usage", "read_anthropic_message"]


def anthropic_usage(usage: Any, fields: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Copy an Anthropic ``usage`` object into ``fields``/``metadata`` (cache tokens added)."""
    if usage is None:
        return
    uncached = int_or_none(get(usage, "input_tokens"))
    read = int_or_none(get(usage, "cache_read_input_tokens"))
    written = int_or_none(get(usage, "cache_creation_input_tokens"))
    if uncached is not None or read is not None or written is not None:
        fields["prompt_tokens"] = (uncached or 0) + (read or 0) + (written or 0)
    output = int_or_none(get(usage, "output_tokens"))
    if output is not None:
        fields["output_tokens"] = output
    if read is not None:
        metadata[CACHED_KEY] = read
    if written is not None:
        metadata[CACHE_CREATION_KEY] = written


def anthropic_blocks(blocks: Any) -> tuple[dict[str, Any], str | None]:
    """Return (output_message, output text) built from Anthropic content blocks."""
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in blocks or ():
        kind = get(block, "type")
        if kind == "text":
            texts.append(get(block, "text", ""))
        elif kind == "thinking":
            thinking.append(get(block, "thinking", ""))
        elif kind in ("tool_use", "server_tool_use"):
            arguments = get(block, "input", {})
            calls.append(
                {
                    "id": get(block, "id", ""),
                    "type": "function",
                    "function": {
                        "name": get(block, "name", ""),
                        "arguments": arguments
                        if isinstance(arguments, str)
                        else json.dumps(arguments, ensure_ascii=False, default=str),
                    },
                }
            )
    text = "".join(texts) if texts else None
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["thinking"] = "".join(thinking)
    return message, text


def read_anthropic_message(value: Any) -> dict[str, Any]:
    """Return the log fields of an Anthropic ``Message`` (object or dict)."""
    fields: dict[str, Any] = {"prompt": prompt_of(value, get(value, "model"))}
    metadata: dict[str, Any] = {}
    message, text = anthropic_blocks(get(value, "content", ()))
    fields["output_message"] = message
    fields["output"] = text
    fields["finish_reason"] = get(value, "stop_reason")
    anthropic_usage(get(value, "usage"), fields, metadata)
    if metadata:
        fields["metadata"] = metadata
    return fields
