"""What every provider's reader uses: reading by key or attribute, the SDK's name, metadata keys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "CACHED_KEY",
    "CACHE_CREATION_KEY",
    "MODALITY_KEYS",
    "SDKS",
    "assistant_message",
    "cached_usage",
    "error_status",
    "function_call",
    "get",
    "int_or_none",
    "json_or_text",
    "prompt_of",
    "provider_of",
]

CACHED_KEY = "cached_prompt_tokens"
"""Metadata key: prompt tokens read from the provider's prompt cache."""

CACHE_CREATION_KEY = "cache_creation_prompt_tokens"
"""Metadata key: prompt tokens written to the provider's prompt cache (Anthropic)."""

MODALITY_KEYS = (
    "audio_prompt_tokens",
    "audio_output_tokens",
    "image_prompt_tokens",
    "image_output_tokens",
)
"""Metadata keys: prompt and output tokens that were audio or images (priced apart where the
provider charges them differently); they are part of ``prompt_tokens``/``output_tokens``."""

SDKS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "ollama": "ollama",
    "mistralai": "mistral",
    "litellm": "litellm",
    "google": "google",
    "botocore": "bedrock",
}
"""The SDKs whose types promptrail recognises: their top-level package → provider name."""


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
    """Return the provider (``"openai"``, ``"mistral"``, ...) when ``value``'s type is an SDK's.

    A LiteLLM response names the provider LiteLLM routed the call to.
    """
    provider = SDKS.get(type(value).__module__.partition(".")[0])
    if provider == "litellm":
        hidden = getattr(value, "_hidden_params", None)
        routed = hidden.get("custom_llm_provider") if isinstance(hidden, dict) else None
        if isinstance(routed, str) and routed:
            return routed
    return provider


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def json_or_text(text: str) -> Any:
    """``text`` parsed as JSON (tool-call arguments), or ``text`` itself when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def prompt_of(value: Any, model: Any) -> dict[str, Any]:
    prompt: dict[str, Any] = {}
    if isinstance(model, str) and model:
        prompt["model"] = model
    provider = provider_of(value)
    if provider is not None:
        prompt["provider"] = provider
    prompt["endpoint"] = "chat"
    return prompt


def function_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    """A tool call in the record's (OpenAI's) shape; ``arguments`` as given, or JSON text."""
    if not isinstance(arguments, str):
        arguments = json.dumps(
            arguments if arguments is not None else {}, ensure_ascii=False, default=str
        )
    return {
        "id": call_id or "",
        "type": "function",
        "function": {"name": name or "", "arguments": arguments},
    }


def assistant_message(
    texts: list[str], thinking: list[str], calls: list[dict[str, Any]]
) -> tuple[dict[str, Any], str | None]:
    """(output_message, output text) of a reply's text, thinking and tool calls."""
    text = "".join(texts) if texts else None
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = calls
    if thinking:
        message["thinking"] = "".join(thinking)
    return message, text


def cached_usage(
    fields: dict[str, Any],
    metadata: dict[str, Any],
    *,
    uncached: Any,
    read: Any,
    written: Any,
    output: Any,
) -> None:
    """Token counts of a provider that reports cache reads and writes apart from the rest.

    ``prompt_tokens`` is all three (what the prompt was); the cache reads and writes are also
    kept in ``metadata`` (:data:`CACHED_KEY`, :data:`CACHE_CREATION_KEY`) for pricing.
    """
    uncached, read, written = int_or_none(uncached), int_or_none(read), int_or_none(written)
    if uncached is not None or read is not None or written is not None:
        fields["prompt_tokens"] = (uncached or 0) + (read or 0) + (written or 0)
    output = int_or_none(output)
    if output is not None:
        fields["output_tokens"] = output
    if read is not None:
        metadata[CACHED_KEY] = read
    if written is not None:
        metadata[CACHE_CREATION_KEY] = written


def error_status(exc: BaseException) -> int | None:
    """The HTTP status of an SDK's error, else None (never raises).

    ``status_code`` (OpenAI's and Anthropic's ``APIStatusError``, Ollama, Mistral), google-genai's
    ``APIError.code``, or botocore's ``ClientError.response["ResponseMetadata"]``.
    """
    try:
        status = getattr(exc, "status_code", None)
        if status is None:
            module = type(exc).__module__
            if module.startswith("google.genai"):
                status = getattr(exc, "code", None)
            elif module.startswith("botocore"):
                response = getattr(exc, "response", None)
                meta = response.get("ResponseMetadata") if isinstance(response, dict) else None
                status = meta.get("HTTPStatusCode") if isinstance(meta, dict) else None
    except Exception:  # a user's exception whose attribute lookup raises: no status
        return None
    return status if type(status) is int else None
