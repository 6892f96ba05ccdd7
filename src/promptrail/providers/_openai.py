"""OpenAI: Chat Completions (``chat.completion``) and Responses API (``response``) objects.

Values are the SDK's objects or the same shapes as dicts; ``openai`` is never imported.
"""

from __future__ import annotations

from typing import Any

from promptrail.providers._common import (
    CACHED_KEY,
    MODALITY_KEYS,
    get,
    int_or_none,
    prompt_of,
)

__all__ = [
    "chat_usage",
    "read_chat_completion",
    "read_embeddings",
    "read_response_object",
    "response_usage",
]


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
    fields["prompt_tokens"] = int_or_none(get(usage, prompt))
    fields["output_tokens"] = int_or_none(get(usage, output))
    audio_in, audio_out, image_in, image_out = MODALITY_KEYS
    out_details = get(usage, output_details)
    if out_details is not None:
        reasoning = int_or_none(get(out_details, "reasoning_tokens"))
        if reasoning is not None:
            fields["reasoning_tokens"] = reasoning
        _copy_counts(out_details, metadata, audio_out, image_out)
    in_details = get(usage, prompt_details)
    if in_details is not None:
        cached = int_or_none(get(in_details, "cached_tokens"))
        if cached is not None:
            metadata[CACHED_KEY] = cached
        _copy_counts(in_details, metadata, audio_in, image_in)


def _copy_counts(details: Any, metadata: dict[str, Any], audio_key: str, image_key: str) -> None:
    """Copy a usage details object's non-zero audio and image token counts into ``metadata``."""
    for kind, key in (("audio_tokens", audio_key), ("image_tokens", image_key)):
        count = int_or_none(get(details, kind))
        if count:
            metadata[key] = count


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
    fields: dict[str, Any] = {"prompt": prompt_of(value, get(value, "model"))}
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
    fields: dict[str, Any] = {"prompt": prompt_of(value, get(value, "model"))}
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


def read_embeddings(value: Any) -> dict[str, Any]:
    """Return the log fields of an embeddings response: model, tokens, a summary, no vectors."""
    data = get(value, "data", ())
    first = get(data[0], "embedding") if data else None
    size = len(first) if isinstance(first, (list, tuple)) else None
    prompt = prompt_of(value, get(value, "model"))
    prompt.pop("endpoint", None)  # not a chat or completion call
    fields: dict[str, Any] = {
        "prompt": prompt,
        "output": f"{len(data)} embeddings" + (f" of {size} dimensions" if size else ""),
    }
    tokens = int_or_none(get(get(value, "usage"), "prompt_tokens"))
    if tokens is not None:
        fields["prompt_tokens"] = tokens
    return fields
