"""Google Gemini (``google-genai``): responses, stream chunks and requests.

A ``GenerateContentResponse`` (object or dict) is translated to the Chat Completions shape and
read by the OpenAI reader. Tokens: ``prompt_token_count`` (cached included, cached ones in
``metadata.cached_prompt_tokens``), output = ``candidates_token_count`` + ``thoughts_token_count``
(thinking is billed as output; ``reasoning_tokens`` says how much); audio and image tokens
of the prompt and the answer (``prompt_tokens_details``/``candidates_tokens_details``) are
counted in ``metadata`` and priced at their own rates. The model is
``model_version``. A request's ``contents`` become messages, ``config.system_instruction`` the
system message, and the config's sampling fields the prompt's parameters; a content's function
calls are the message's tool calls and its function responses are tool messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from promptrail.providers._common import get, int_or_none
from promptrail.providers._openai import read_chat_completion

__all__ = ["as_chat_chunk", "gemini_request", "is_gemini", "read_gemini"]

_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "BLOCKLIST": "content_filter",
    "SPII": "content_filter",
}
_CONFIG = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_output_tokens": "max_tokens",
    "seed": "seed",
    "stop_sequences": "stop",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}


def is_gemini(value: Any) -> bool:
    """Whether ``value`` is a Gemini ``GenerateContentResponse`` (or a chunk of one)."""
    if type(value).__name__ == "GenerateContentResponse":
        return True
    return (
        isinstance(value, Mapping)
        and "candidates" in value
        and ("usage_metadata" in value or "model_version" in value or "usageMetadata" in value)
    )


def _text_of(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _delta(value: Any) -> tuple[dict[str, Any], str | None]:
    candidates = get(value, "candidates") or ()
    candidate = candidates[0] if candidates else None
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in get(get(candidate, "content"), "parts") or ():
        call = get(part, "function_call")
        if call is not None:
            arguments = get(call, "args") or {}
            calls.append(
                {
                    "index": len(calls),
                    "id": get(call, "id") or f"call_{len(calls)}",
                    "type": "function",
                    "function": {
                        "name": get(call, "name", ""),
                        "arguments": json.dumps(dict(arguments), ensure_ascii=False, default=str),
                    },
                }
            )
            continue
        text = get(part, "text")
        if isinstance(text, str):
            (thoughts if get(part, "thought") else texts).append(text)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    if calls:
        message["tool_calls"] = calls
    reason = get(candidate, "finish_reason")
    name = getattr(reason, "name", reason)
    finish = None
    if isinstance(name, str) and name:
        finish = "tool_calls" if calls else _FINISH.get(name, name.lower())
    return message, finish


def _usage(value: Any) -> dict[str, Any] | None:
    usage = get(value, "usage_metadata")
    prompt = int_or_none(get(usage, "prompt_token_count"))
    if usage is None or prompt is None:
        return None
    candidates = int_or_none(get(usage, "candidates_token_count")) or 0
    thoughts = int_or_none(get(usage, "thoughts_token_count")) or 0
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": candidates + thoughts,
        "total_tokens": prompt + candidates + thoughts,
    }
    if thoughts:
        out["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    prompt_details = _by_modality(get(usage, "prompt_tokens_details"))
    cached = int_or_none(get(usage, "cached_content_token_count"))
    if cached:
        prompt_details["cached_tokens"] = cached
    if prompt_details:
        out["prompt_tokens_details"] = prompt_details
    output_details = _by_modality(get(usage, "candidates_tokens_details"))
    if output_details:
        out.setdefault("completion_tokens_details", {}).update(output_details)
    return out


def _by_modality(details: Any) -> dict[str, int]:
    """Audio and image token counts of a ``ModalityTokenCount`` list (``audio_tokens`` ...)."""
    counts: dict[str, int] = {}
    for entry in details or ():
        modality = get(entry, "modality")
        name = str(getattr(modality, "value", modality) or "").lower()
        count = int_or_none(get(entry, "token_count"))
        if name in ("audio", "image") and count:
            key = f"{name}_tokens"
            counts[key] = counts.get(key, 0) + count
    return counts


def read_gemini(value: Any) -> dict[str, Any]:
    """Return the log fields of a complete Gemini response."""
    message, finish = _delta(value)
    fields = read_chat_completion(
        {
            "object": "chat.completion",
            "model": get(value, "model_version"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": _usage(value),
        }
    )
    prompt = fields.setdefault("prompt", {})
    prompt["provider"] = "google"
    return fields


def as_chat_chunk(value: Any) -> dict[str, Any]:
    """A Gemini stream chunk as a Chat Completions chunk (for the stream accumulator)."""
    message, finish = _delta(value)
    if message["content"] is None:
        del message["content"]
    chunk: dict[str, Any] = {
        "object": "chat.completion.chunk",
        "model": get(value, "model_version"),
        "choices": [{"index": 0, "delta": message, "finish_reason": finish}],
    }
    usage = _usage(value)
    if usage is not None:
        chunk["usage"] = usage
    return chunk


def _parts_text(parts: Any) -> str:
    return "".join(_text_of(get(p, "text")) for p in parts or () if get(p, "text") is not None)


def _part(part: Any, snake: str) -> Any:
    """A part's field, as the SDK (``function_call``) or a JSON dict (``functionCall``) names it."""
    value = get(part, snake)
    if value is None and isinstance(part, Mapping):
        head, *rest = snake.split("_")
        value = part.get(head + "".join(word.title() for word in rest))
    return value


def _content_messages(role: str, parts: Any) -> list[dict[str, Any]]:
    """One content's messages: function calls are tool calls, function responses tool results."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for part in parts or ():
        call = _part(part, "function_call")
        answer = _part(part, "function_response")
        if call is not None:
            calls.append(
                {
                    "id": get(call, "id") or get(call, "name", ""),
                    "type": "function",
                    "function": {
                        "name": get(call, "name", ""),
                        "arguments": json.dumps(
                            dict(get(call, "args") or {}), ensure_ascii=False, default=str
                        ),
                    },
                }
            )
        elif answer is not None:
            response = get(answer, "response")
            results.append(
                {
                    "role": "tool",
                    "tool_call_id": get(answer, "id") or get(answer, "name", ""),
                    "content": json.dumps(response, ensure_ascii=False, default=str)
                    if response is not None
                    else "",
                }
            )
        elif get(part, "text") is not None:
            texts.append(_text_of(get(part, "text")))
    messages = list(results)
    if texts or calls or not results:
        message: dict[str, Any] = {"role": role, "content": "".join(texts)}
        if calls:
            message["tool_calls"] = calls
        messages.append(message)
    return messages


def _messages(contents: Any) -> list[dict[str, Any]] | None:
    if isinstance(contents, str):
        return [{"role": "user", "content": contents}]
    if not isinstance(contents, (list, tuple)):
        contents = [contents] if contents is not None else []
    messages = []
    for item in contents:
        if isinstance(item, str):
            messages.append({"role": "user", "content": item})
            continue
        role = get(item, "role") or "user"
        messages.extend(
            _content_messages("assistant" if role == "model" else role, get(item, "parts"))
        )
    return messages or None


def _tools(tools: Any) -> list[dict[str, Any]]:
    out = []
    for tool in tools or ():
        for declaration in get(tool, "function_declarations") or ():
            entry: dict[str, Any] = {"name": get(declaration, "name", "")}
            if get(declaration, "description") is not None:
                entry["description"] = get(declaration, "description")
            schema = get(declaration, "parameters_json_schema") or get(declaration, "parameters")
            if schema is not None:
                dump = getattr(schema, "model_dump", None)
                entry["parameters"] = dump(exclude_none=True) if callable(dump) else schema
            out.append(entry)
    return out


def gemini_request(inputs: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    """A Gemini call's arguments as (OpenAI-style arguments, messages) for ``request_fields``."""
    flat: dict[str, Any] = {k: v for k, v in inputs.items() if k not in ("contents", "config")}
    messages = _messages(inputs.get("contents"))
    config = inputs.get("config")
    if config is not None:
        for field, name in _CONFIG.items():
            value = get(config, field)
            if value is not None:
                flat[name] = value
        system = get(config, "system_instruction")
        if system is not None:
            text = system if isinstance(system, str) else _parts_text(get(system, "parts"))
            if text:
                flat["system"] = text
        tools = _tools(get(config, "tools"))
        if tools:
            flat["_normalized_tools"] = tools
    return flat, messages
