"""OpenInference spans (Arize's conventions: LlamaIndex, DSPy, CrewAI, smolagents, Haystack, ...).

A span says what it is in ``openinference.span.kind``: ``LLM`` (and ``EMBEDDING``) is a
``prompt`` log, ``TOOL`` (and ``RETRIEVER``, ``RERANKER``) a ``tool`` log, ``CHAIN`` and ``AGENT``
a ``flow`` log. :func:`read` takes the model (``llm.model_name``, ``llm.invocation_parameters``),
the messages (``llm.input_messages.N.message.*`` with ``contents``, ``tool_calls`` and
``tool_call_id``; ``llm.output_messages.N.message.*``), the tools offered
(``llm.tools.N.tool.json_schema``), the token counts (``llm.token_count.*``), the prompt template
and its variables (``llm.prompt_template.*``), ``metadata`` (JSON) and a tool's or a flow's
``input.value`` / ``output.value``. Session, user and tags are read by ``_common``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from promptrail._record.models import LogKind
from promptrail.otel.ingest._common import ROLES, Reading, indexed, json_value
from promptrail.providers._common import CACHE_CREATION_KEY, CACHED_KEY, int_or_none

__all__ = ["SPAN_KIND", "openinference_kind", "openinference_path", "read"]

SPAN_KIND = "openinference.span.kind"
"""The attribute that marks an OpenInference span."""

_KINDS: dict[str, LogKind] = {
    "LLM": "prompt",
    "EMBEDDING": "prompt",
    "TOOL": "tool",
    "RETRIEVER": "tool",
    "RERANKER": "tool",
    "CHAIN": "flow",
    "AGENT": "flow",
}
# llm.invocation_parameters → prompt kernel fields (the OpenAI names most integrations use).
_INT_PARAMS = {"max_tokens": "max_tokens", "max_completion_tokens": "max_tokens", "seed": "seed"}
_FLOAT_PARAMS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")

_Attrs = Mapping[str, Any]


def openinference_kind(attrs: _Attrs) -> LogKind | None:
    """The log kind of an OpenInference span; ``None`` for kinds that are not logs."""
    kind = attrs.get(SPAN_KIND)
    return _KINDS.get(kind.upper()) if isinstance(kind, str) else None


def _provider(attrs: _Attrs) -> str | None:
    value = attrs.get("llm.provider", attrs.get("llm.system"))
    return value.lower() if isinstance(value, str) and value else None


def _params(attrs: _Attrs) -> dict[str, Any]:
    params = json_value(attrs.get("llm.invocation_parameters"))
    return dict(params) if isinstance(params, Mapping) else {}


def openinference_path(kind: LogKind, attrs: _Attrs, span_name: str) -> str:
    """A log's path: ``provider/model`` for a model call, else the tool's or the span's name."""
    if kind == "prompt":
        model = _params(attrs).get("model") or attrs.get("llm.model_name")
        provider = _provider(attrs) or "openinference"
        named = model if isinstance(model, str) and model else span_name
        return f"{provider}/{named}"
    name = attrs.get("tool.name") if kind == "tool" else attrs.get("agent.name")
    return name if isinstance(name, str) and name else span_name


def _contents(item: _Attrs) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for part in indexed(item, "contents"):
        kind = part.get("message_content.type")
        if kind == "text" or (kind is None and "message_content.text" in part):
            parts.append({"type": "text", "text": str(part.get("message_content.text", ""))})
        elif kind == "image":
            url = part.get("message_content.image.image.url")
            parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


def _message(item: _Attrs) -> dict[str, Any]:
    role = item.get("message.role")
    body: dict[str, Any] = {"role": role if role in ROLES else "user"}
    content = item.get("message.content")
    parts = _contents({k.removeprefix("message."): v for k, v in item.items()})
    if isinstance(content, str):
        body["content"] = content
    elif parts:
        texts = [p["text"] for p in parts if p["type"] == "text"]
        body["content"] = "".join(texts) if len(texts) == len(parts) else parts
    calls: list[dict[str, Any]] = []
    for call in indexed(item, "message.tool_calls"):
        arguments = call.get("tool_call.function.arguments", "")
        if not isinstance(arguments, str):
            arguments = json.dumps(json_value(arguments), ensure_ascii=False)
        function = {"name": str(call.get("tool_call.function.name", "")), "arguments": arguments}
        call_id = str(call.get("tool_call.id") or "")
        calls.append({"id": call_id, "type": "function", "function": function})
    if calls:
        body["tool_calls"] = calls
    if isinstance(item.get("message.tool_call_id"), str):
        body["tool_call_id"] = item["message.tool_call_id"]
    if isinstance(item.get("message.name"), str) and body["role"] != "tool":
        body["name"] = item["message.name"]
    return body


def _tools(attrs: _Attrs) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    for item in indexed(attrs, "llm.tools"):
        schema = json_value(item.get("tool.json_schema"))
        if not isinstance(schema, Mapping):
            continue
        if isinstance(schema.get("function"), Mapping):
            tools.append({"type": str(schema.get("type", "function")), **schema})
        elif isinstance(schema.get("name"), str):  # a bare function schema
            function = {k: schema[k] for k in ("name", "description", "parameters") if k in schema}
            tools.append({"type": "function", "function": function})
    return tools


def _kernel(attrs: _Attrs) -> dict[str, Any]:
    params = _params(attrs)
    model = params.get("model")
    prompt: dict[str, Any] = {
        "model": model if isinstance(model, str) else attrs.get("llm.model_name"),
        "provider": _provider(attrs),
        "endpoint": "chat" if "llm.input_messages.0.message.role" in attrs else None,
    }
    for name, field in _INT_PARAMS.items():
        if prompt.get(field) is None:
            prompt[field] = int_or_none(params.get(name))
    for name in _FLOAT_PARAMS:
        value = params.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            prompt[name] = float(value)
    stop = params.get("stop")
    if isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        prompt["stop"] = stop
    if isinstance(params.get("response_format"), Mapping):
        prompt["response_format"] = dict(params["response_format"])
    if isinstance(params.get("reasoning_effort"), str):
        prompt["reasoning_effort"] = params["reasoning_effort"]
    tools = _tools(attrs)
    if tools:
        prompt["tools"] = tools
    template = attrs.get("llm.prompt_template.template")
    if isinstance(template, str):
        prompt["template"] = template
    return {k: v for k, v in prompt.items() if v is not None}


def _value_of(attrs: _Attrs, key: str) -> Any:
    """``input.value`` / ``output.value``: parsed when its mime type says JSON."""
    value = attrs.get(f"{key}.value")
    if isinstance(value, str) and attrs.get(f"{key}.mime_type") == "application/json":
        return json_value(value)
    return value


def read(kind: LogKind, attrs: _Attrs) -> Reading:
    """What an OpenInference span of this kind says, as record fields."""
    reading = Reading()
    inputs = [_message(m) for m in indexed(attrs, "llm.input_messages")]
    outputs = [_message(m) for m in indexed(attrs, "llm.output_messages")]
    if inputs:
        reading.messages = inputs
    if outputs:
        reading.output_message = outputs[0]
        content = outputs[0].get("content")
        if isinstance(content, str):
            reading.output = content
    variables = json_value(attrs.get("llm.prompt_template.variables"))
    if isinstance(variables, Mapping):
        reading.inputs = dict(variables)
    if kind == "prompt":
        reading.prompt = _kernel(attrs) or None
        model = attrs.get("llm.model_name")
        reading.response_model = model if isinstance(model, str) else None
    elif not reading.inputs:
        value = _value_of(attrs, "input")
        if isinstance(value, Mapping):
            reading.inputs = dict(value)
        elif value is not None:
            reading.inputs = {"input": value}
    if reading.output is None and kind != "prompt":
        reading.output = _value_of(attrs, "output")
    reading.prompt_tokens = int_or_none(attrs.get("llm.token_count.prompt"))
    reading.output_tokens = int_or_none(attrs.get("llm.token_count.completion"))
    reading.reasoning_tokens = int_or_none(
        attrs.get("llm.token_count.completion_details.reasoning")
    )
    for key, attribute in (
        (CACHED_KEY, "llm.token_count.prompt_details.cache_read"),
        (CACHE_CREATION_KEY, "llm.token_count.prompt_details.cache_write"),
    ):
        count = int_or_none(attrs.get(attribute))
        if count:
            reading.metadata[key] = count
    metadata = json_value(attrs.get("metadata"))  # using_metadata(...)
    if isinstance(metadata, Mapping):
        reading.metadata.update(
            {k: v for k, v in metadata.items() if isinstance(k, str) and not k.startswith("otel.")}
        )
    finish = attrs.get("llm.finish_reason")
    reading.finish_reason = finish if isinstance(finish, str) else None
    return reading
