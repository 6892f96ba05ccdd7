"""The bridge's span attributes: a log's request, response and content in the GenAI conventions.

:func:`raw_attributes` reads a log's fields without building its record (the cheap path, when
content capture is off); :func:`result_attributes` and :func:`content_attributes` read a built
record. The message shapes are the conventions' ``role`` + ``parts``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard

from promptrail._record.models import ChatMessage, LogRecord
from promptrail._runtime.state import STATE
from promptrail._tracing.active import ActiveLog
from promptrail._tracing.build import RESPONSE_MODEL_KEY, answered_model
from promptrail._tracing.inherited import effective
from promptrail._tracing.lifecycle import INCOMPLETE_KEY
from promptrail.providers import _registry as _extract
from promptrail.providers import _request as _request
from promptrail.providers._accumulate import StreamAccumulator
from promptrail.providers._common import get, json_or_text

__all__ = [
    "OPERATION",
    "PROVIDER",
    "REQUEST_MODEL",
    "REQUEST_PARAMS",
    "SESSION_ID",
    "TAGS",
    "USER_ID",
    "AttrValue",
    "content_attributes",
    "input_messages",
    "output_messages",
    "raw_attributes",
    "response_id_of",
    "result_attributes",
    "session_attributes",
    "tool_definitions",
]

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
SESSION_ID = "gen_ai.conversation.id"
USER_ID = "user.id"
TAGS = "tag.tags"
"""OpenInference's list of tags (the GenAI conventions have none)."""

REQUEST_PARAMS = (
    ("max_tokens", "gen_ai.request.max_tokens", int),
    ("temperature", "gen_ai.request.temperature", float),
    ("top_p", "gen_ai.request.top_p", float),
    ("presence_penalty", "gen_ai.request.presence_penalty", float),
    ("frequency_penalty", "gen_ai.request.frequency_penalty", float),
    ("seed", "gen_ai.request.seed", int),
)

_USAGE = (
    ("prompt_tokens", "gen_ai.usage.input_tokens"),
    ("output_tokens", "gen_ai.usage.output_tokens"),
    ("reasoning_tokens", "gen_ai.usage.reasoning.output_tokens"),
)

AttrValue = str | bool | int | float | Sequence[str]

_FROM_VALUES: Any = object()
"""Not given: read the value from ``values``."""

_NO_ID = frozenset({str, int, float, bool})
"""Result types that carry no response id."""


def raw_attributes(log: ActiveLog) -> dict[str, AttrValue]:
    """The result attributes of an ended log, read from its raw fields (no record is built).

    The same values the record will hold: fields set with ``update_current()`` win over what the
    extractors read from the return value; decorator options win over extracted prompt details;
    request parameters not given there come from the call's keyword arguments.
    """
    spec = log.spec
    settings = STATE.settings
    values: dict[str, Any]
    fields = log.fields
    if log.error is None and spec.output_on(settings):
        if log.items is None:
            values = _extract.extract(log.result)
        else:
            values = _extract.extract(log.items, is_stream=True)
        if fields:
            values = {**values, **fields}
    else:
        values = fields or {}
    response_id = None
    response_model: Any = _FROM_VALUES
    prompt: dict[str, Any] = {}
    if spec.kind == "prompt":
        extracted = values.get("prompt")
        if not _is_mapping(extracted):
            extracted = None
        elif extracted:
            prompt.update(extracted)
        # The call's arguments, mapped exactly as the record maps them (aliases, positional
        # arguments, decorator defaults); extracted details fill only what the call did not say.
        inputs, messages = log._inputs() if spec.inputs_on(settings) else ({}, None)
        requested, _messages, _choice = _request.request_fields(spec.prompt, inputs, messages)
        answered = None if extracted is None else extracted.get("model")
        sdk = log.sdk
        if sdk is not None:  # an instrumented SDK call completed this log: what it sent
            sent_inputs, sent_messages = sdk._inputs()
            sent, _messages, _choice = _request.request_fields(
                sdk.spec.prompt, sent_inputs, sent_messages
            )
            requested = {**requested, **sent, **(spec.prompt or {})}
            if sdk.ended and sdk.error is None and spec.output_on(settings):
                result = sdk.result if sdk.items is None else sdk.items
                from_sdk = _extract.extract(result, is_stream=sdk.items is not None)
                values = {**values}
                for key, value in from_sdk.items():
                    if values.get(key) is None:
                        values[key] = value
                sdk_prompt = from_sdk.get("prompt")
                if answered is None and _is_mapping(sdk_prompt):
                    answered = sdk_prompt.get("model")
        for key, value in requested.items():
            if value is not None:
                prompt[key] = value
        response_model = answered_model(requested.get("model"), answered)
        response_id = response_id_of(log)
    metadata = values.get("metadata")
    incomplete = metadata.get(INCOMPLETE_KEY) if _is_mapping(metadata) else None
    return _attributes(spec.kind, prompt, values, incomplete, response_id, response_model)


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, without the ABC check for the usual plain dict."""
    return type(value) is dict or isinstance(value, Mapping)


def session_attributes(log: ActiveLog) -> dict[str, AttrValue]:
    """A log's session id, user and tags (inherited from blocks, or its own user) as attributes.

    Masked like the record's strings: a secret given as a user id stays out of the span.
    """
    attrs: dict[str, AttrValue] = {}
    inherited = effective(log.attrs, log.root.trace_attrs)
    own_user = (log.fields or {}).get("user")
    mask = STATE.settings.redactor.mask
    session_id = None if inherited is None else inherited.session_id
    user = own_user if isinstance(own_user, str) else None if inherited is None else inherited.user
    if session_id:
        attrs[SESSION_ID] = mask(session_id)
    if user:
        attrs[USER_ID] = mask(user)
    if inherited is not None and inherited.tags:
        attrs[TAGS] = [mask(tag) for tag in inherited.tags]
    return attrs


def response_id_of(log: ActiveLog) -> str | None:
    """The id of the response a prompt log's call (or its instrumented SDK call) returned."""
    for source in (log, log.sdk):
        if source is None or source.error is not None:
            continue
        result = source.result
        if result is None or type(result) in _NO_ID:
            continue
        if type(result) is StreamAccumulator:
            result = result.response() if source.ended else None
        found = get(result, "id") if result is not None and not isinstance(result, str) else None
        if isinstance(found, str) and found:
            return found
    return None


def result_attributes(record: LogRecord) -> dict[str, AttrValue]:
    """The GenAI request/response/usage attributes of a finished record (no message content)."""
    prompt = record.prompt.model_dump(exclude_none=True) if record.prompt is not None else {}
    values = {
        "prompt_tokens": record.prompt_tokens,
        "output_tokens": record.output_tokens,
        "reasoning_tokens": record.reasoning_tokens,
        "finish_reason": record.finish_reason,
        "version_id": record.version_id,
        "provider_response": record.provider_response,
        "response_model": record.metadata.get(RESPONSE_MODEL_KEY),
    }
    incomplete = record.metadata.get(INCOMPLETE_KEY)
    return _attributes(record.kind, prompt, values, incomplete)


def _attributes(
    kind: str,
    prompt: Mapping[str, Any],
    values: Mapping[str, Any],
    incomplete: Any,
    response_id: str | None = None,
    response_model: Any = _FROM_VALUES,
) -> dict[str, AttrValue]:
    """The request, usage and response attributes (``response_*`` given win over ``values``')."""
    attrs: dict[str, AttrValue] = {}
    if kind == "prompt" and prompt:
        for field, key in (("model", REQUEST_MODEL), ("provider", PROVIDER)):
            text = prompt.get(field)
            if isinstance(text, str) and text:
                attrs[key] = text
        for field, key, typ in REQUEST_PARAMS:
            value = prompt.get(field)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                attrs[key] = typ(value)
        stop = prompt.get("stop")
        if isinstance(stop, str):
            attrs["gen_ai.request.stop_sequences"] = [stop]
        elif isinstance(stop, (list, tuple)) and stop:
            attrs["gen_ai.request.stop_sequences"] = [str(s) for s in stop]
    get = values.get
    for field, key in _USAGE:
        count = get(field)
        if isinstance(count, int) and not isinstance(count, bool):
            attrs[key] = count
    version = get("version_id")
    if isinstance(version, str) and version:
        attrs["gen_ai.prompt.version"] = version
    finish = get("finish_reason")
    if isinstance(finish, str) and finish:
        attrs["gen_ai.response.finish_reasons"] = [finish]
    if response_id is None:
        response_id = get("response_id")
    if isinstance(response_id, str) and response_id:
        attrs["gen_ai.response.id"] = response_id
    response = get("provider_response")
    if response is not None and _is_mapping(response):
        for field, key in (("id", "gen_ai.response.id"), ("model", "gen_ai.response.model")):
            if isinstance(response.get(field), str):
                attrs[key] = response[field]
    answered = get("response_model") if response_model is _FROM_VALUES else response_model
    if "gen_ai.response.model" not in attrs and isinstance(answered, str) and answered:
        attrs["gen_ai.response.model"] = answered  # the model that answered, when it differs
    if isinstance(incomplete, str):
        attrs["promptrail.incomplete"] = incomplete
    return attrs


def content_attributes(record: LogRecord) -> dict[str, AttrValue]:
    """The opt-in content attributes of a record, as compact JSON strings."""
    attrs: dict[str, AttrValue] = {}
    if record.kind == "tool":
        attrs["gen_ai.tool.call.arguments"] = _dumps(record.inputs or {})
        if record.output is not None:
            attrs["gen_ai.tool.call.result"] = record.output
        return attrs
    messages = record.messages or []
    inputs = record.inputs or {}
    system = inputs.get("system") or inputs.get("instructions")  # passed apart from the chat
    if (
        isinstance(system, str)
        and system
        and messages
        and messages[0].role == "system"
        and messages[0].content == system
    ):
        # The log's messages start with it (see _request.request_fields); the span carries it
        # once, as system instructions, as the semantic conventions ask.
        attrs["gen_ai.system_instructions"] = _dumps([{"type": "text", "content": system}])
        messages = messages[1:]
    if messages:
        attrs["gen_ai.input.messages"] = _dumps(input_messages(messages))
    elif record.kind == "flow" and record.inputs:
        text = _dumps(record.inputs)
        attrs["gen_ai.input.messages"] = _dumps([_text_message("user", text)])
    outputs = output_messages(record)
    if outputs:
        attrs["gen_ai.output.messages"] = _dumps(outputs)
    if record.prompt is not None and record.prompt.tools:
        attrs["gen_ai.tool.definitions"] = _dumps(tool_definitions(record.prompt.tools))
    return attrs


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _text_message(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"type": "text", "content": text}]}


def _part(part: Mapping[str, Any]) -> dict[str, Any]:
    """One OpenAI-style content part as a GenAI part."""
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "content": part.get("text", "")}
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        return {"type": "uri", "modality": "image", "uri": url}
    return dict(part)


def _message(message: ChatMessage) -> dict[str, Any]:
    """One promptrail chat message as a GenAI ``ChatMessage`` (``role`` + ``parts``)."""
    parts: list[dict[str, Any]] = []
    if message.thinking:
        parts.append({"type": "reasoning", "content": message.thinking})
    content = message.content
    if message.role == "tool":
        parts.append(
            {"type": "tool_call_response", "id": message.tool_call_id, "response": content}
        )
    elif isinstance(content, str):
        parts.append({"type": "text", "content": content})
    elif content:
        parts.extend(_part(p) for p in content)
    for call in message.tool_calls or ():
        parts.append(
            {
                "type": "tool_call",
                "id": call.id,
                "name": call.function.name,
                "arguments": None
                if call.function.arguments is None
                else json_or_text(call.function.arguments),
            }
        )
    out: dict[str, Any] = {"role": message.role, "parts": parts}
    if message.name:
        out["name"] = message.name
    return out


def input_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Return promptrail chat messages as the ``gen_ai.input.messages`` structure."""
    return [_message(m) for m in messages]


def output_messages(record: LogRecord) -> list[dict[str, Any]]:
    """The record's output as the ``gen_ai.output.messages`` structure (one message)."""
    if record.output_message is not None:
        message = _message(record.output_message)
    elif record.output is not None:
        message = _text_message("assistant", record.output)
    else:
        return []
    if record.kind == "prompt":
        message["finish_reason"] = record.finish_reason or ("error" if record.error else "stop")
    return [message]


def tool_definitions(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tool definitions (any provider's shape) as the ``gen_ai.tool.definitions`` structure."""
    return [
        {"type": "function", **tool} if isinstance(tool, Mapping) else tool
        for tool in _request.normalize_tools(tools)
    ]
