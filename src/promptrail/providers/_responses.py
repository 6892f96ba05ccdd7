"""Reading complete LLM responses: the dispatch to each provider's reader.

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

from typing import Any

from promptrail.providers._anthropic import read_anthropic_message
from promptrail.providers._bedrock import (
    InvokeModelResponse,
    is_bedrock,
    read_bedrock,
    read_invoke_model,
)
from promptrail.providers._common import get
from promptrail.providers._gemini import is_gemini, read_gemini
from promptrail.providers._ollama import is_ollama, read_ollama
from promptrail.providers._openai import (
    read_chat_completion,
    read_embeddings,
    read_response_object,
)

__all__ = ["read_response"]


def read_response(value: Any) -> dict[str, Any] | None:
    """Return the log fields of a complete response of a known shape, or ``None``."""
    kind = get(value, "object")
    if kind == "chat.completion":
        return read_chat_completion(value)
    if kind == "response":
        return read_response_object(value)
    if kind == "list":
        data = get(value, "data")
        if isinstance(data, (list, tuple)) and data and get(data[0], "object") == "embedding":
            return read_embeddings(value)
        return None
    if get(value, "type") == "message" and get(value, "role") == "assistant":
        return read_anthropic_message(value)
    if is_ollama(value):
        return read_ollama(value)
    if is_gemini(value):
        return read_gemini(value)
    if is_bedrock(value):
        return read_bedrock(value)
    if type(value) is InvokeModelResponse:
        return read_invoke_model(value)
    return None
