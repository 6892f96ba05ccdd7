"""AWS Bedrock Runtime (``boto3``): Converse responses, ConverseStream events, InvokeModel bodies.

boto3 returns plain dicts. A Converse response (``output.message`` with content blocks,
``usage``, ``stopReason``) is read here; a ConverseStream's events (``{"messageStart": ...}``,
``{"contentBlockDelta": ...}``, ...) are folded by :class:`BedrockStream` into the same shape, so
a streamed call and the same call without streaming give the same log. An InvokeModel body
(Anthropic-on-Bedrock) is read by the Anthropic reader: the integration reads the body once,
hands the caller a fresh one, and records an :class:`InvokeModelResponse` holding the bytes.

Tokens: Bedrock's ``inputTokens`` leaves out the prompt tokens read from or written to the cache
(``cacheReadInputTokens``/``cacheWriteInputTokens``); they are added back, as for Anthropic. The
model is the request's ``modelId`` (a response does not name it); the provider is ``bedrock``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from promptrail.providers._anthropic import read_anthropic_message
from promptrail.providers._common import (
    assistant_message,
    cached_usage,
    function_call,
    get,
)

__all__ = [
    "PROVIDER",
    "BedrockStream",
    "InvokeModelResponse",
    "bedrock_request",
    "is_bedrock",
    "is_bedrock_event",
    "read_bedrock",
    "read_invoke_model",
]

PROVIDER = "bedrock"

_EVENTS = frozenset(
    {
        "messageStart",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    }
)
_INFERENCE = {
    "maxTokens": "max_tokens",
    "temperature": "temperature",
    "topP": "top_p",
    "stopSequences": "stop",
}
_ADDITIONAL = ("top_k", "thinking")
"""``additionalModelRequestFields`` kept as the prompt's parameters (``prompt.other``)."""


def is_bedrock(value: Any) -> bool:
    """Whether ``value`` is a Converse response (``output.message`` and ``stopReason``)."""
    if not isinstance(value, Mapping):
        return False
    output = value.get("output")
    return (
        "stopReason" in value
        and isinstance(output, Mapping)
        and isinstance(output.get("message"), Mapping)
    )


def is_bedrock_event(value: Any) -> bool:
    """Whether ``value`` is one event of a ConverseStream (a dict of one known key)."""
    if type(value) is not dict or len(value) != 1:
        return False
    ((kind, body),) = value.items()
    if kind == "metadata":  # a common word: only with what Bedrock sends in it
        return isinstance(body, Mapping) and ("usage" in body or "metrics" in body)
    return kind in _EVENTS


def _call(use: Any) -> dict[str, Any]:
    """A Converse ``toolUse`` block as a tool call."""
    return function_call(get(use, "toolUseId"), get(use, "name"), get(use, "input"))


def _output_message(blocks: Any) -> tuple[dict[str, Any], str | None]:
    """(output_message, output text) of a Converse message's content blocks."""
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in blocks or ():
        text = get(block, "text")
        if isinstance(text, str):
            texts.append(text)
            continue
        use = get(block, "toolUse")
        if use is not None:
            calls.append(_call(use))
            continue
        reasoning = get(get(block, "reasoningContent"), "reasoningText")
        if isinstance(get(reasoning, "text"), str):
            thinking.append(get(reasoning, "text"))
    return assistant_message(texts, thinking, calls)


def _usage(usage: Any, fields: dict[str, Any], metadata: dict[str, Any]) -> None:
    if usage is None:
        return
    cached_usage(
        fields,
        metadata,
        uncached=get(usage, "inputTokens"),
        read=get(usage, "cacheReadInputTokens"),
        written=get(usage, "cacheWriteInputTokens"),
        output=get(usage, "outputTokens"),
    )


def read_bedrock(value: Any) -> dict[str, Any]:
    """Return the log fields of a Converse response (or one rebuilt from a stream)."""
    message, text = _output_message(get(get(get(value, "output"), "message"), "content"))
    fields: dict[str, Any] = {
        "prompt": {"provider": PROVIDER, "endpoint": "chat"},
        "output": text,
        "output_message": message,
        "finish_reason": get(value, "stopReason"),
    }
    metadata: dict[str, Any] = {}
    _usage(get(value, "usage"), fields, metadata)
    if metadata:
        fields["metadata"] = metadata
    return fields


class InvokeModelResponse:
    """The body of an InvokeModel response as read once by the integration (bytes).

    The caller got a fresh ``StreamingBody`` over the same bytes; this one is parsed in the
    worker.
    """

    __slots__ = ("body", "content_type")

    def __init__(self, body: bytes, content_type: str | None = None) -> None:
        self.body = body
        self.content_type = content_type

    def parsed(self) -> Any:
        """The body as JSON, or ``None`` when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        """The body as recorded in ``provider_response``: its JSON, or its text."""
        parsed = self.parsed()
        if isinstance(parsed, dict):
            return parsed
        return {"body": self.body.decode("utf-8", "replace")}

    def __repr__(self) -> str:
        return f"InvokeModelResponse({len(self.body)} bytes)"


def read_invoke_model(value: InvokeModelResponse) -> dict[str, Any]:
    """The log fields of an InvokeModel body: Anthropic Messages are read, others kept as JSON.

    The model recorded is the request's ``modelId`` (what was billed), not the one the body
    names.
    """
    body = value.parsed()
    if get(body, "type") == "message" and get(body, "role") == "assistant":
        fields = read_anthropic_message(body)
    elif is_bedrock(body):
        fields = read_bedrock(body)
    else:
        return {"output": body if body is not None else value.body.decode("utf-8", "replace")}
    fields["prompt"] = {"provider": PROVIDER, "endpoint": "chat"}
    return fields


class BedrockStream:
    """Folds ConverseStream events into a Converse response (see :func:`read_bedrock`)."""

    __slots__ = ("blocks", "role", "stop_reason", "usage")

    def __init__(self) -> None:
        self.role = "assistant"
        # index -> [kind, text pieces, tool use id, tool name]
        self.blocks: dict[int, list[Any]] = {}
        self.stop_reason: str | None = None
        self.usage: Any = None

    def _block(self, index: int, kind: str) -> list[Any]:
        block = self.blocks.get(index)
        if block is None:
            block = self.blocks[index] = [kind, [], "", ""]
        return block

    def add(self, event: dict[str, Any]) -> None:
        """Fold one event in."""
        ((kind, body),) = event.items()
        index = get(body, "contentBlockIndex", 0)
        if kind == "contentBlockDelta":
            delta = get(body, "delta")
            text = get(delta, "text")
            if isinstance(text, str):
                self._block(index, "text")[1].append(text)
            elif get(delta, "toolUse") is not None:
                piece = get(get(delta, "toolUse"), "input")
                if isinstance(piece, str):
                    self._block(index, "toolUse")[1].append(piece)
            elif get(delta, "reasoningContent") is not None:
                piece = get(get(delta, "reasoningContent"), "text")
                if isinstance(piece, str):
                    self._block(index, "reasoning")[1].append(piece)
        elif kind == "contentBlockStart":
            use = get(get(body, "start"), "toolUse")
            if use is not None:
                block = self._block(index, "toolUse")
                block[2], block[3] = get(use, "toolUseId", ""), get(use, "name", "")
        elif kind == "messageStart":
            self.role = get(body, "role") or self.role
        elif kind == "messageStop":
            self.stop_reason = get(body, "stopReason") or self.stop_reason
        elif kind == "metadata":
            self.usage = get(body, "usage") or self.usage

    def response(self) -> dict[str, Any]:
        """The Converse response these events make."""
        content: list[dict[str, Any]] = []
        for _, (kind, parts, use_id, name) in sorted(self.blocks.items()):
            text = "".join(parts)
            if kind == "text":
                content.append({"text": text})
            elif kind == "reasoning":
                content.append({"reasoningContent": {"reasoningText": {"text": text}}})
            else:
                arguments: Any = _json_or_text(text) if parts else {}
                content.append({"toolUse": {"toolUseId": use_id, "name": name, "input": arguments}})
        response: dict[str, Any] = {
            "output": {"message": {"role": self.role, "content": content}},
            "stopReason": self.stop_reason,
        }
        if self.usage is not None:
            response["usage"] = self.usage
        return response


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


# -- the request --------------------------------------------------------------------------------


def _tool_result(block: Any) -> dict[str, Any]:
    pieces = []
    for part in get(block, "content") or ():
        if isinstance(get(part, "text"), str):
            pieces.append(get(part, "text"))
        elif get(part, "json") is not None:
            pieces.append(json.dumps(get(part, "json"), ensure_ascii=False, default=str))
    return {"role": "tool", "tool_call_id": get(block, "toolUseId", ""), "content": "".join(pieces)}


def _messages(messages: Any) -> list[dict[str, Any]]:
    """Converse messages as chat messages: tool uses are tool calls, tool results tool messages."""
    out: list[dict[str, Any]] = []
    for message in messages or ():
        role = get(message, "role") or "user"
        texts: list[str] = []
        parts: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        thinking: list[str] = []
        results: list[dict[str, Any]] = []
        for block in get(message, "content") or ():
            if isinstance(get(block, "text"), str):
                texts.append(get(block, "text"))
                parts.append({"type": "text", "text": get(block, "text")})
            elif get(block, "toolUse") is not None:
                calls.append(_call(get(block, "toolUse")))
            elif get(block, "toolResult") is not None:
                results.append(_tool_result(get(block, "toolResult")))
            elif get(block, "reasoningContent") is not None:
                text = get(get(get(block, "reasoningContent"), "reasoningText"), "text")
                if isinstance(text, str):
                    thinking.append(text)
            elif isinstance(block, Mapping) and block:  # image, document, video: no bytes kept
                kind = next(iter(block))
                parts.append({"type": kind, "format": get(block[kind], "format")})
        out.extend(results)
        if texts or calls or thinking or len(parts) > len(texts) or not results:
            entry: dict[str, Any] = {
                "role": role,
                "content": "".join(texts) if len(parts) == len(texts) else parts,
            }
            if calls:
                entry["tool_calls"] = calls
            if thinking:
                entry["thinking"] = "".join(thinking)
            out.append(entry)
    return out


def _tools(config: Any) -> list[dict[str, Any]]:
    out = []
    for tool in get(config, "tools") or ():
        spec = get(tool, "toolSpec")
        if spec is None:
            out.append(dict(tool) if isinstance(tool, Mapping) else {"tool": str(tool)})
            continue
        entry: dict[str, Any] = {"name": get(spec, "name", "")}
        if get(spec, "description") is not None:
            entry["description"] = get(spec, "description")
        schema = get(get(spec, "inputSchema"), "json")
        if schema is not None:
            entry["parameters"] = schema
        out.append(entry)
    return out


def _tool_choice(choice: Any) -> Any:
    if get(choice, "auto") is not None:
        return "auto"
    if get(choice, "any") is not None:
        return "required"
    name = get(get(choice, "tool"), "name")
    if isinstance(name, str):
        return {"type": "function", "function": {"name": name}}
    return None


def _invoke_model_request(inputs: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    body = inputs.get("body")
    flat: dict[str, Any] = {"model": inputs.get("modelId")}
    try:
        parsed = json.loads(body) if isinstance(body, (str, bytes, bytearray)) else body
    except ValueError:
        return flat, None
    if not isinstance(parsed, Mapping):
        return flat, None
    for key, value in parsed.items():  # Anthropic's names: request_fields reads them
        if key not in ("messages", "anthropic_version", "model"):
            flat[key] = value
    return flat, parsed.get("messages")


def bedrock_request(inputs: Mapping[str, Any], messages: Any) -> tuple[dict[str, Any], Any]:
    """A Bedrock call's arguments as (OpenAI-style arguments, messages) for ``request_fields``.

    Converse: ``inferenceConfig`` gives the sampling parameters, ``system`` the system message,
    ``toolConfig`` the tools and tool choice. InvokeModel: the JSON ``body`` (Anthropic's
    Messages request) is read.
    """
    if "body" in inputs and messages is None:
        return _invoke_model_request(inputs)
    flat: dict[str, Any] = {"model": inputs.get("modelId")}
    config = inputs.get("inferenceConfig")
    for field, name in _INFERENCE.items():
        value = get(config, field)
        if value is not None:
            flat[name] = value
    additional = inputs.get("additionalModelRequestFields")
    for key in _ADDITIONAL:
        if get(additional, key) is not None:
            flat[key] = get(additional, key)
    system = inputs.get("system")
    if system:
        text = "".join(
            get(block, "text") for block in system if isinstance(get(block, "text"), str)
        )
        if text:
            flat["system"] = text
    tool_config = inputs.get("toolConfig")
    if tool_config is not None:
        tools = _tools(tool_config)
        if tools:
            flat["_normalized_tools"] = tools
        choice = _tool_choice(get(tool_config, "toolChoice"))
        if choice is not None:
            flat["tool_choice"] = choice
    return flat, _messages(messages) if messages is not None else None
