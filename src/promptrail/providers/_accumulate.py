"""Accumulating streamed items into the log fields of the complete response.

A :class:`StreamAccumulator` is fed one item at a time: text (``str``), OpenAI
``ChatCompletionChunk`` objects, OpenAI Responses API stream events, Anthropic message stream
events, Gemini, Ollama and Mistral chunks or Bedrock ConverseStream events, as SDK objects or
plain dicts. It keeps only what the final log needs (text pieces, tool
call fragments, usage, finish reason), never the items themselves, so memory stays proportional
to the output. :meth:`StreamAccumulator.fields` then rebuilds the complete response and reads it
with the same code as a non-streamed one (``providers._responses``), so a streamed call and
the same call without streaming give the same log.

A stream that ends without reporting usage (OpenAI Chat Completions without
``stream_options={"include_usage": True}``, a stream closed early) gets
``metadata["usage_unknown"] = True`` and no token counts: never a silent zero.
"""

from __future__ import annotations

from typing import Any

from promptrail.providers._anthropic import read_anthropic_message
from promptrail.providers._bedrock import BedrockStream, is_bedrock_event, read_bedrock
from promptrail.providers._common import get, json_or_text, provider_of
from promptrail.providers._gemini import as_chat_chunk as gemini_chunk
from promptrail.providers._gemini import is_gemini
from promptrail.providers._ollama import as_chat_chunk, is_ollama
from promptrail.providers._openai import read_chat_completion, read_response_object

__all__ = ["USAGE_UNKNOWN_KEY", "StreamAccumulator"]

USAGE_UNKNOWN_KEY = "usage_unknown"

_ANTHROPIC_EVENTS = frozenset(
    {
        "message_start",
        "message_delta",
        "message_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "ping",
        "error",
    }
)
# Derived events the SDK's MessageStream helper yields next to the raw ones (skipped). Only
# recognised on SDK objects: a plain ``{"type": "text", ...}`` dict is a content part.
_ANTHROPIC_DERIVED = frozenset({"text", "thinking", "input_json", "signature", "citation"})
# Derived events of OpenAI's ChatCompletionStream helper, next to its "chunk" events (skipped).
_OPENAI_DERIVED = ("content.", "refusal.", "tool_calls.", "logprobs.")
_RESPONSE_DONE = frozenset({"response.completed", "response.incomplete", "response.failed"})


class _Choice:
    __slots__ = ("calls", "content", "finish_reason", "reasoning", "refusal", "role")

    def __init__(self) -> None:
        self.role: str = "assistant"
        self.content: list[str] = []
        self.refusal: list[str] = []
        self.reasoning: list[str] = []
        self.finish_reason: str | None = None
        self.calls: dict[int, dict[str, Any]] = {}


class _Block:
    __slots__ = ("id", "input", "name", "parts", "type")

    def __init__(self, block: Any) -> None:
        self.type = get(block, "type", "text")
        self.id = get(block, "id", "")
        self.name = get(block, "name", "")
        self.input = get(block, "input")
        first = get(block, "text") or get(block, "thinking") or ""
        self.parts: list[str] = [first] if first else []


class StreamAccumulator:
    """Folds the items of one stream into the fields of its complete response.

    ``add`` returns ``False`` for an item of no known family (the accumulator then marks itself
    :attr:`unknown` and callers fall back to logging the raw items).
    """

    __slots__ = (
        "bedrock",
        "blocks",
        "choices",
        "family",
        "final",
        "final_usage",
        "id",
        "model",
        "provider",
        "stop_reason",
        "texts",
        "unknown",
        "usage",
    )

    def __init__(self) -> None:
        self.family: str | None = None
        self.provider: str | None = None
        self.unknown = False
        self.texts: list[str] = []
        self.model: str | None = None
        self.id: str | None = None  # the response's id (chunk or message_start)
        self.usage: Any = None
        self.choices: dict[int, _Choice] = {}
        self.blocks: dict[int, _Block] = {}
        self.stop_reason: str | None = None
        self.final: Any = None
        self.final_usage = False  # Anthropic: a message_delta carried the final counts
        self.bedrock: BedrockStream | None = None

    # -- feeding ----------------------------------------------------------------------------

    def add(self, item: Any) -> bool:
        """Fold ``item`` in; return whether it belongs to a known stream family."""
        if type(item) is str:
            self.texts.append(item)
            return self._family("text", item)
        if get(item, "object") == "chat.completion.chunk":  # OpenAI, LiteLLM
            self._chat_chunk(item)
            return self._family("openai", item)
        data = get(item, "data")  # Mistral's CompletionEvent
        if data is not None and get(data, "object") == "chat.completion.chunk":
            self._chat_chunk(data)
            return self._family("openai", item)
        if is_ollama(item):
            self._chat_chunk(as_chat_chunk(item))
            return self._family("openai", item)
        if is_gemini(item):
            self._chat_chunk(gemini_chunk(item))
            return self._family("openai", item)
        if is_bedrock_event(item):  # a ConverseStream event: {"contentBlockDelta": {...}}
            if self.bedrock is None:
                self.bedrock = BedrockStream()
            self.bedrock.add(item)
            if self.family is None:
                self.family, self.provider = "bedrock", "bedrock"
            return True
        kind = get(item, "type")
        if isinstance(kind, str):
            if kind.startswith("response."):
                self._response_event(kind, item)
                return self._family("openai_responses", item)
            if kind in _ANTHROPIC_EVENTS:
                self._anthropic_event(kind, item)
                return self._family("anthropic", item)
            if kind in _ANTHROPIC_DERIVED and provider_of(item) == "anthropic":
                return self._family("anthropic", item)
            if provider_of(item) == "openai":  # ChatCompletionStream helper events
                if kind == "chunk" and get(item, "chunk") is not None:
                    self._chat_chunk(get(item, "chunk"))
                    return self._family("openai", item)
                if kind.startswith(_OPENAI_DERIVED):
                    return self._family("openai", item)
        self.unknown = True
        return False

    def _family(self, family: str, item: Any) -> bool:
        if self.family is None:
            self.family = family
            self.provider = provider_of(item)
        return True

    def _chat_chunk(self, chunk: Any) -> None:
        model = get(chunk, "model")
        if model:
            self.model = model
        if self.id is None and isinstance(get(chunk, "id"), str):
            self.id = get(chunk, "id")
        usage = get(chunk, "usage")
        if usage is not None:
            self.usage = usage
        for raw in get(chunk, "choices", ()):
            index = get(raw, "index", 0)
            choice = self.choices.get(index)
            if choice is None:
                choice = self.choices[index] = _Choice()
            delta = get(raw, "delta")
            if delta is not None:
                self._chat_delta(choice, delta)
            reason = get(raw, "finish_reason")
            if reason is not None:
                choice.finish_reason = reason

    @staticmethod
    def _chat_delta(choice: _Choice, delta: Any) -> None:
        role = get(delta, "role")
        if role:
            choice.role = role
        content = get(delta, "content")
        if isinstance(content, str):  # "" too: an empty answer is "", as without streaming
            choice.content.append(content)
        refusal = get(delta, "refusal")
        if refusal:
            choice.refusal.append(refusal)
        reasoning = get(delta, "reasoning_content") or get(delta, "reasoning")
        if isinstance(reasoning, str) and reasoning:
            choice.reasoning.append(reasoning)
        for call in get(delta, "tool_calls", ()):
            slot = choice.calls.setdefault(
                get(call, "index", len(choice.calls)), {"id": "", "name": "", "arguments": []}
            )
            if get(call, "id"):
                slot["id"] = get(call, "id")
            function = get(call, "function")
            if function is not None:
                if get(function, "name") and not slot["name"]:  # sent once, with the id
                    slot["name"] = get(function, "name")
                if get(function, "arguments"):
                    slot["arguments"].append(get(function, "arguments"))

    def _response_event(self, kind: str, event: Any) -> None:
        if kind == "response.output_text.delta":
            self.texts.append(get(event, "delta", ""))
        elif kind in _RESPONSE_DONE or kind == "response.created":
            response = get(event, "response")
            if response is not None:
                self.model = get(response, "model") or self.model
                if kind in _RESPONSE_DONE:
                    self.final = response

    def _anthropic_event(self, kind: str, event: Any) -> None:
        if kind == "message_start":
            message = get(event, "message")
            self.model = get(message, "model") or self.model
            if isinstance(get(message, "id"), str):
                self.id = get(message, "id")
            self.usage = _merge_usage(self.usage, get(message, "usage"))
        elif kind == "content_block_start":
            self.blocks[get(event, "index", len(self.blocks))] = _Block(get(event, "content_block"))
        elif kind == "content_block_delta":
            block = self.blocks.get(get(event, "index", 0))
            delta = get(event, "delta")
            if block is not None and delta is not None:
                piece = (
                    get(delta, "text") or get(delta, "thinking") or get(delta, "partial_json") or ""
                )
                if piece:
                    block.parts.append(piece)
        elif kind == "message_delta":
            self.stop_reason = get(get(event, "delta"), "stop_reason") or self.stop_reason
            if get(event, "usage") is not None:
                self.usage = _merge_usage(self.usage, get(event, "usage"))
                self.final_usage = True

    # -- the result -------------------------------------------------------------------------

    def fields(self) -> dict[str, Any]:
        """Return the log fields of everything added so far."""
        family = self.family
        if family == "openai":
            fields = read_chat_completion(self._chat_completion())
        elif family == "anthropic":
            fields = read_anthropic_message(self._anthropic_message())
            if not self.final_usage:  # message_start's output count is a placeholder
                fields.pop("output_tokens", None)  # so usage_unknown is set below
        elif family == "openai_responses" and self.final is not None:
            fields = read_response_object(self.final)
        elif family == "bedrock" and self.bedrock is not None:
            fields = read_bedrock(self.bedrock.response())
        else:
            text = "".join(self.texts) if self.texts else None
            fields = {"output": text}
            if family == "openai_responses":
                fields["output_message"] = {"role": "assistant", "content": text}
                if self.model:
                    fields["prompt"] = {"model": self.model, "endpoint": "chat"}
        if family not in (None, "text"):
            if self.provider is not None:
                fields.setdefault("prompt", {})["provider"] = self.provider
            if fields.get("output_tokens") is None:
                fields.setdefault("metadata", {})[USAGE_UNKNOWN_KEY] = True
        return fields

    def response(self) -> Any:
        """The complete response rebuilt from everything added so far (``provider_response``).

        A Chat Completion or an Anthropic Message as a dict, the Responses API's final
        ``Response`` as sent, or ``{"output": text}`` for a stream of text.
        """
        if self.family == "openai":
            return self._chat_completion()
        if self.family == "anthropic":
            return self._anthropic_message()
        if self.family == "openai_responses" and self.final is not None:
            return self.final
        if self.family == "bedrock" and self.bedrock is not None:
            return self.bedrock.response()
        return {"output": "".join(self.texts) if self.texts else None}

    def _chat_completion(self) -> dict[str, Any]:
        choices = []
        for index, choice in sorted(self.choices.items()):
            message: dict[str, Any] = {
                "role": choice.role,
                "content": "".join(choice.content) if choice.content else None,
                "refusal": "".join(choice.refusal) if choice.refusal else None,
            }
            if choice.reasoning:
                message["reasoning_content"] = "".join(choice.reasoning)
            if choice.calls:
                message["tool_calls"] = [
                    {
                        "id": slot["id"],
                        "type": "function",
                        "function": {"name": slot["name"], "arguments": "".join(slot["arguments"])},
                    }
                    for _, slot in sorted(choice.calls.items())
                ]
            choices.append(
                {"index": index, "message": message, "finish_reason": choice.finish_reason}
            )
        return {
            **({"id": self.id} if self.id is not None else {}),
            "object": "chat.completion",
            "model": self.model,
            "choices": choices,
            "usage": self.usage,
        }

    def _anthropic_message(self) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        for _, block in sorted(self.blocks.items()):
            text = "".join(block.parts)
            if block.type == "text":
                content.append({"type": "text", "text": text})
            elif block.type == "thinking":
                content.append({"type": "thinking", "thinking": text})
            elif block.type in ("tool_use", "server_tool_use"):
                arguments: Any = json_or_text(text) if block.parts else (block.input or {})
                content.append(
                    {"type": block.type, "id": block.id, "name": block.name, "input": arguments}
                )
        return {
            **({"id": self.id} if self.id is not None else {}),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": self.stop_reason,
            "usage": self.usage,
        }


_USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


def _merge_usage(current: Any, update: Any) -> Any:
    """Anthropic sends usage at ``message_start`` and cumulative updates in ``message_delta``."""
    if update is None:
        return current
    merged = dict(current) if isinstance(current, dict) else {}
    for key in _USAGE_KEYS:
        value = get(update, key)
        if value is not None:
            merged[key] = value
    return merged
