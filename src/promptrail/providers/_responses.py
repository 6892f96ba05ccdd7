"""Reading complete LLM responses: OpenAI Chat Completions and Responses, Anthropic Messages.

Each reader takes the SDK object *or* the same shape as a plain dict (an HTTP body, a recorded
fixture) and returns log fields: ``output``, ``output_message``, ``finish_reason``, token counts,
``metadata`` (cached prompt tokens, extra choices) and ``prompt`` (the model that answered, the
provider when the object came from its SDK). Nothing here imports ``openai`` or ``anthropic``:
values are read by key or attribute, and the SDK is recognised by ``type(value).__module__``.

Token conventions, the same for every provider: ``prompt_tokens`` counts every prompt token,
cached or not (Anthropic reports cache reads and writes apart from ``input_tokens``; they are
added back), and ``metadata`` says how many of them were read from the cache
(``cached_prompt_tokens``) or written to it (``cache_creation_prompt_tokens``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "CACHED_KEY",
    "CACHE_CREATION_KEY",
    "get",
    "json_or_text",
    "provider_of",
    "read_anthropic_message",
    "read_chat_completion",
    "read_response",
    "read_response_object",
]

CACHED_KEY = "cached_prompt_tokens"
"""Metadata key: prompt tokens read from the provider's prompt cache."""

CACHE_CREATION_KEY = "cache_creation_prompt_tokens"
"""Metadata key: prompt tokens written to the provider's prompt cache (Anthropic)."""

_SDKS = frozenset({"openai", "anthropic"})


def get(obj: Any, key: str, default: Any = None) -> Any:
    """Read ``key`` from a mapping or an attribute of an object; ``default`` when absent.

    Fast on the objects streams are made of (this runs per chunk on the caller's thread): dicts
    and the instance dict of objects first; a missing attribute of a pydantic model (the SDKs'
    types) is answered from its extras, never by raising and catching an ``AttributeError``.
    """
    if type(obj) is dict:
        value = obj.get(key)
    elif obj is None and key[:2] != "__":  # None has no attribute but dunders
        return default
    else:
        fields = getattr(obj, "__dict__", None)
        if fields is not None and key in fields:
            value = fields[key]
        elif hasattr(type(obj), "__pydantic_fields__"):
            extra = getattr(obj, "__pydantic_extra__", None)
            value = extra.get(key) if extra else None
        elif isinstance(obj, Mapping):
            value = obj.get(key)
        else:
            value = getattr(obj, key, None)
    return default if value is None else value


def provider_of(value: Any) -> str | None:
    """Return ``"openai"``/``"anthropic"`` when ``value``'s type comes from that SDK."""
    root = type(value).__module__.partition(".")[0]
    return root if root in _SDKS else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def json_or_text(text: str) -> Any:
    """``text`` parsed as JSON (tool-call arguments), or ``text`` itself when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _prompt(value: Any, model: Any) -> dict[str, Any]:
    prompt: dict[str, Any] = {}
    if isinstance(model, str) and model:
        prompt["model"] = model
    provider = provider_of(value)
    if provider is not None:
        prompt["provider"] = provider
    prompt["endpoint"] = "chat"
    return prompt


def read_response(value: Any) -> dict[str, Any] | None:
    """Return the log fields of a complete response of a known shape, or ``None``."""
    kind = get(value, "object")
    if kind == "chat.completion":
        return read_chat_completion(value)
    if kind == "response":
        return read_response_object(value)
    if get(value, "type") == "message" and get(value, "role") == "assistant":
        return read_anthropic_message(value)
    return None


# -- OpenAI Chat Completions ------------------------------------------------------------------


def _tool_calls(raw: Any) -> list[dict[str, Any]] | None:
    if not raw:
        return None
    calls: list[dict[str, Any]] = []
    for call in raw:
        function = get(call, "function")
        if function is None:  # custom tools have no "function"; keep their name and input
            custom = get(call, "custom")
            name, arguments = get(custom, "name", ""), get(custom, "input")
        else:
            name, arguments = get(function, "name", ""), get(function, "arguments")
        calls.append(
            {
                "id": get(call, "id", ""),
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
        )
    return calls


def _chat_message(message: Any) -> tuple[dict[str, Any], str | None, str | None]:
    """Return (output_message, output text, refusal) of one Chat Completions message."""
    content = get(message, "content")
    refusal = get(message, "refusal")
    text = content if isinstance(content, str) else None
    out: dict[str, Any] = {"role": "assistant", "content": content}
    if text is None and isinstance(refusal, str):
        out["content"] = refusal
        text = refusal
    calls = _tool_calls(get(message, "tool_calls"))
    if calls:
        out["tool_calls"] = calls
    # OpenAI-compatible servers (vLLM, DeepSeek, OpenRouter) return reasoning text this way.
    thinking = get(message, "reasoning_content") or get(message, "reasoning")
    if isinstance(thinking, str) and thinking:
        out["thinking"] = thinking
    return out, text, refusal if isinstance(refusal, str) else None


def _copy_usage(
    usage: Any, fields: dict[str, Any], metadata: dict[str, Any], names: tuple[str, str, str, str]
) -> None:
    """Copy token counts named ``(prompt, output, output details, prompt details)``."""
    if usage is None:
        return
    prompt, output, output_details, prompt_details = names
    fields["prompt_tokens"] = _int(get(usage, prompt))
    fields["output_tokens"] = _int(get(usage, output))
    reasoning = _int(get(get(usage, output_details), "reasoning_tokens"))
    if reasoning is not None:
        fields["reasoning_tokens"] = reasoning
    cached = _int(get(get(usage, prompt_details), "cached_tokens"))
    if cached is not None:
        metadata[CACHED_KEY] = cached


_CHAT_USAGE = (
    "prompt_tokens",
    "completion_tokens",
    "completion_tokens_details",
    "prompt_tokens_details",
)
_RESPONSE_USAGE = ("input_tokens", "output_tokens", "output_tokens_details", "input_tokens_details")


def chat_usage(usage: Any, fields: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Copy a Chat Completions ``usage`` object into ``fields``/``metadata``."""
    _copy_usage(usage, fields, metadata, _CHAT_USAGE)


def read_chat_completion(value: Any) -> dict[str, Any]:
    """Return the log fields of an OpenAI ``ChatCompletion`` (object or dict).

    The first choice gives ``output``/``output_message``/``finish_reason``; further choices
    (``n > 1``) go to ``metadata["extra_choices"]``.
    """
    fields: dict[str, Any] = {"prompt": _prompt(value, get(value, "model"))}
    metadata: dict[str, Any] = {}
    choices = list(get(value, "choices", ()))
    if len(choices) > 1:
        choices.sort(key=lambda c: get(c, "index", 0))
    for position, choice in enumerate(choices):
        message, text, refusal = _chat_message(get(choice, "message", {}))
        if position == 0:
            fields["output_message"] = message
            fields["output"] = text
            fields["finish_reason"] = get(choice, "finish_reason")
            if refusal is not None:
                metadata["refusal"] = refusal
        else:
            extra = metadata.setdefault("extra_choices", [])
            extra.append(
                {
                    "index": get(choice, "index", position),
                    "output_message": message,
                    "finish_reason": get(choice, "finish_reason"),
                }
            )
    chat_usage(get(value, "usage"), fields, metadata)
    if metadata:
        fields["metadata"] = metadata
    return fields


# -- OpenAI Responses API ---------------------------------------------------------------------

_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def response_usage(usage: Any, fields: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Copy a Responses API ``usage`` object into ``fields``/``metadata``."""
    _copy_usage(usage, fields, metadata, _RESPONSE_USAGE)


def response_finish_reason(value: Any, has_tool_calls: bool) -> str | None:
    """Map a Responses API ``status`` to a Chat Completions style finish reason."""
    status = get(value, "status")
    if status == "completed":
        return "tool_calls" if has_tool_calls else "stop"
    if status == "incomplete":
        reason = get(get(value, "incomplete_details"), "reason")
        return _INCOMPLETE_REASONS.get(reason, reason or "incomplete")
    if status == "failed":
        return "error"
    return status if isinstance(status, str) else None


def read_response_object(value: Any) -> dict[str, Any]:
    """Return the log fields of an OpenAI Responses API ``Response`` (object or dict)."""
    fields: dict[str, Any] = {"prompt": _prompt(value, get(value, "model"))}
    metadata: dict[str, Any] = {}
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    refusals: list[str] = []
    for item in get(value, "output", ()):
        kind = get(item, "type")
        if kind == "message":
            for part in get(item, "content", ()):
                if get(part, "type") == "output_text":
                    texts.append(get(part, "text", ""))
                elif get(part, "type") == "refusal":
                    refusals.append(get(part, "refusal", ""))
        elif kind == "function_call":
            calls.append(
                {
                    "id": get(item, "call_id") or get(item, "id", ""),
                    "type": "function",
                    "function": {
                        "name": get(item, "name", ""),
                        "arguments": get(item, "arguments"),
                    },
                }
            )
        elif kind == "reasoning":
            thinking.extend(get(s, "text", "") for s in get(item, "summary", ()))
    text = "".join(texts) if texts else ("".join(refusals) if refusals else None)
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["thinking"] = "\n".join(thinking)
    if refusals:
        metadata["refusal"] = "".join(refusals)
    fields["output"] = text
    fields["output_message"] = message
    fields["finish_reason"] = response_finish_reason(value, bool(calls))
    response_usage(get(value, "usage"), fields, metadata)
    if metadata:
        fields["metadata"] = metadata
    return fields


# -- Anthropic Messages -----------------------------------------------------------------------


def anthropic_usage(usage: Any, fields: dict[str, Any], metadata: dict[str, Any]) -> None:
    """Copy an Anthropic ``usage`` object into ``fields``/``metadata`` (cache tokens added)."""
    if usage is None:
        return
    uncached = _int(get(usage, "input_tokens"))
    read = _int(get(usage, "cache_read_input_tokens"))
    written = _int(get(usage, "cache_creation_input_tokens"))
    if uncached is not None or read is not None or written is not None:
        fields["prompt_tokens"] = (uncached or 0) + (read or 0) + (written or 0)
    output = _int(get(usage, "output_tokens"))
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
    fields: dict[str, Any] = {"prompt": _prompt(value, get(value, "model"))}
    metadata: dict[str, Any] = {}
    message, text = anthropic_blocks(get(value, "content", ()))
    fields["output_message"] = message
    fields["output"] = text
    fields["finish_reason"] = get(value, "stop_reason")
    anthropic_usage(get(value, "usage"), fields, metadata)
    if metadata:
        fields["metadata"] = metadata
    return fields
