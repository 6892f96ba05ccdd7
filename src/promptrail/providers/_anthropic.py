"""Anthropic: Messages (``type == "message"``) read into log fields.

Values are the SDK's objects or the same shapes as dicts; ``anthropic`` is never imported.
"""

from __future__ import annotations

from typing import Any

from promptrail.providers._common import (
    assistant_message,
    cached_usage,
    function_call,
    get,
    prompt_of,
)

__all__ = ["anthropic_blocks", "anthropic_usage", "read_anthropic_message"]


def anthropic_usage(usage: Any, fields: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Copy an Anthropic ``usage`` object into ``fields``/``metadata`` (cache tokens added)."""
    if usage is None:
        return
    cached_usage(
        fields,
        metadata,
        uncached=get(usage, "input_tokens"),
        read=get(usage, "cache_read_input_tokens"),
        written=get(usage, "cache_creation_input_tokens"),
        output=get(usage, "output_tokens"),
    )


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
            calls.append(
                function_call(get(block, "id"), get(block, "name"), get(block, "input", {}))
            )
    return assistant_message(texts, thinking, calls)


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
