"""The OpenTelemetry GenAI semantic conventions (and OpenLLMetry's attributes): span → record.

A span is a ``prompt`` log for model calls, ``tool`` for ``execute_tool``, ``flow`` for agents and
workflows (:func:`genai_kind`). :func:`span_record` reads its messages (``gen_ai.input.messages``
/ ``gen_ai.output.messages``, or OpenLLMetry's indexed ``gen_ai.prompt.N.*`` through
``_openllmetry``), request parameters, tokens, finish reason and error into a record body; an
OpenInference span (``openinference.span.kind``) is read by ``_openinference`` instead. Runs in
the export worker.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode, format_span_id, format_trace_id

from promptrail._record import serialize as _serialize
from promptrail._record.models import ChatMessage, LogKind, LogRecord, PromptKernel
from promptrail._runtime.state import Settings
from promptrail._tracing.build import RESPONSE_MODEL_KEY, answered_model
from promptrail._tracing.failures import ERROR_TRACEBACK_KEY, cut_traceback
from promptrail.otel._attributes import REQUEST_PARAMS
from promptrail.otel._bridge import OTEL_SPAN_ID, OTEL_TRACE_ID, SCOPE_NAME
from promptrail.otel.ingest import _openinference
from promptrail.otel.ingest._common import ROLES, Reading, json_value, session_fields
from promptrail.otel.ingest._openllmetry import functions, indexed_messages
from promptrail.providers._common import CACHED_KEY, int_or_none

__all__ = ["genai_kind", "is_bridge", "span_error", "span_path", "span_record"]

_PROMPT_OPS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
_TOOL_OPS = frozenset({"execute_tool", "retrieval"})
_FLOW_OPS = frozenset({"invoke_agent", "invoke_workflow", "create_agent", "plan"})
_TRACELOOP_KINDS: dict[str, LogKind] = {
    "workflow": "flow",
    "agent": "flow",
    "task": "flow",
    "tool": "tool",
    "llm": "prompt",
}
_ROLES = ROLES
# Token details, as the conventions and OpenLLMetry's releases have named them.
_REASONING_KEYS = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "llm.usage.reasoning_tokens",
)
_CACHE_READ_KEYS = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")

_Attrs = Mapping[str, Any]


def genai_kind(attrs: _Attrs) -> LogKind | None:
    """The log kind of a span with these attributes, or ``None`` when it is not a GenAI span."""
    if _openinference.SPAN_KIND in attrs:
        return _openinference.openinference_kind(attrs)
    operation = attrs.get("gen_ai.operation.name")
    if isinstance(operation, str):
        if operation in _PROMPT_OPS:
            return "prompt"
        if operation in _TOOL_OPS:
            return "tool"
        if operation in _FLOW_OPS:
            return "flow"
        return "prompt" if "gen_ai.request.model" in attrs else "flow"
    traceloop = attrs.get("traceloop.span.kind")
    if isinstance(traceloop, str) and traceloop in _TRACELOOP_KINDS:
        return _TRACELOOP_KINDS[traceloop]
    for key in (
        "llm.request.type",
        "gen_ai.provider.name",
        "gen_ai.system",
        "gen_ai.request.model",
    ):
        if key in attrs:
            return "prompt"
    return None


def is_bridge(span: ReadableSpan) -> bool:
    scope = span.instrumentation_scope
    return scope is not None and scope.name == SCOPE_NAME


def span_error(span: ReadableSpan) -> str | None:
    if span.status.status_code is not StatusCode.ERROR:
        return None
    attrs = span.attributes or {}
    type_name: Any = attrs.get("error.type")
    message: Any = span.status.description
    for event in span.events:
        if event.name == "exception":
            event_attrs = event.attributes or {}
            type_name = type_name or event_attrs.get("exception.type")
            message = message or event_attrs.get("exception.message")
            break
    type_text = str(type_name) if type_name else "Error"
    if not message:
        return type_text
    text = str(message)
    if text.startswith(f"{type_text}: "):  # the SDK's own description already says it
        return text
    return f"{type_text}: {text}"


def span_traceback(span: ReadableSpan) -> str | None:
    """The ``exception.stacktrace`` of a failed span's exception event (its last part, bounded)."""
    if span.status.status_code is not StatusCode.ERROR:
        return None
    for event in span.events:
        if event.name == "exception":
            text = (event.attributes or {}).get("exception.stacktrace")
            if isinstance(text, str) and text:
                return cut_traceback(text)
    return None


def span_path(kind: LogKind, attrs: _Attrs, span_name: str) -> str:
    if _openinference.SPAN_KIND in attrs and "promptrail.path" not in attrs:
        return _openinference.openinference_path(kind, attrs, span_name)
    for key in ("promptrail.path", "gen_ai.prompt.name", "traceloop.entity.path"):
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value
    if kind == "tool":
        keys: tuple[str, ...] = ("gen_ai.tool.name", "traceloop.entity.name")
    elif kind == "flow":
        keys = (
            "gen_ai.workflow.name",
            "gen_ai.agent.name",
            "traceloop.workflow.name",
            "traceloop.entity.name",
        )
    else:
        provider = _provider(attrs) or "genai"
        model = attrs.get("gen_ai.request.model")
        return (
            f"{provider}/{model}" if isinstance(model, str) and model else f"{provider}/{span_name}"
        )
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value
    return span_name


def _provider(attrs: _Attrs) -> str | None:
    value = attrs.get("gen_ai.provider.name", attrs.get("gen_ai.system"))
    return value.lower() if isinstance(value, str) else None


_json = json_value


def _float(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _message_from_parts(message: Mapping[str, Any]) -> dict[str, Any]:
    """A GenAI ``ChatMessage`` (role + parts) as a promptrail chat message body."""
    role = message.get("role")
    body: dict[str, Any] = {"role": role if role in _ROLES else "user"}
    texts: list[str] = []
    others: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    for part in message.get("parts") or ():
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("content", "")))
        elif kind == "reasoning":
            body["thinking"] = str(part.get("content", ""))
        elif kind == "tool_call":
            arguments = part.get("arguments")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments, ensure_ascii=False)
            function = {"name": str(part.get("name", "")), "arguments": arguments}
            tool_calls.append(
                {"id": str(part.get("id") or ""), "type": "function", "function": function}
            )
        elif kind == "tool_call_response":
            body["role"] = "tool"
            if part.get("id"):
                body["tool_call_id"] = str(part["id"])
            response = part.get("response", part.get("result"))
            texts.append(
                response if isinstance(response, str) else json.dumps(response, ensure_ascii=False)
            )
        elif kind == "uri" and part.get("modality") == "image":
            others.append({"type": "image_url", "image_url": {"url": part.get("uri")}})
        else:
            others.append(dict(part))
    if others:
        body["content"] = [{"type": "text", "text": t} for t in texts] + others
    elif texts:
        body["content"] = "".join(texts)
    if tool_calls:
        body["tool_calls"] = tool_calls
    if isinstance(message.get("name"), str):
        body["name"] = message["name"]
    return body


def _messages(attrs: _Attrs) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
    """Input messages and the (first) output message, from whichever convention is present."""
    inputs: list[dict[str, Any]] | None = None
    output: dict[str, Any] | None = None
    system = _json(attrs.get("gen_ai.system_instructions"))
    raw = _json(attrs.get("gen_ai.input.messages"))
    if isinstance(raw, list):
        inputs = [_message_from_parts(m) for m in raw if isinstance(m, Mapping)]
    if isinstance(system, list):
        text = "".join(str(p.get("content", "")) for p in system if isinstance(p, Mapping))
        inputs = [{"role": "system", "content": text}, *(inputs or [])]
    raw_out = _json(attrs.get("gen_ai.output.messages"))
    if isinstance(raw_out, list) and raw_out and isinstance(raw_out[0], Mapping):
        output = _message_from_parts(raw_out[0])
    if inputs is None:
        inputs = indexed_messages(attrs, "gen_ai.prompt") or None
    if output is None:
        completions = indexed_messages(attrs, "gen_ai.completion")
        output = completions[0] if completions else None
    return inputs, output


def _bridge_flow_inputs(messages: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """A bridge flow span's inputs: its only input message is a user message of their JSON."""
    if messages is None or len(messages) != 1 or messages[0].get("role") != "user":
        return None
    content = messages[0].get("content")
    if not isinstance(content, str):
        return None
    try:
        value = json.loads(content)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _finish_reason(attrs: _Attrs) -> str | None:
    reasons = attrs.get("gen_ai.response.finish_reasons")
    if isinstance(reasons, (tuple, list)) and reasons:
        return str(reasons[0])
    legacy = attrs.get("gen_ai.completion.0.finish_reason")
    if isinstance(legacy, str):
        return legacy
    # A stream's reason may only be on the output message (the official instrumentation).
    output = _json(attrs.get("gen_ai.output.messages"))
    if isinstance(output, list) and output and isinstance(output[0], Mapping):
        reason = output[0].get("finish_reason")
        return reason if isinstance(reason, str) and reason else None
    return None


def _kernel(kind: LogKind, attrs: _Attrs) -> dict[str, Any] | None:
    if kind != "prompt":
        return None
    operation = attrs.get("gen_ai.operation.name", attrs.get("llm.request.type"))
    prompt: dict[str, Any] = {
        "model": attrs.get("gen_ai.request.model"),
        "provider": _provider(attrs),
        "endpoint": {"chat": "chat", "text_completion": "complete", "completion": "complete"}.get(
            str(operation)
        ),
    }
    for name, attribute, number in REQUEST_PARAMS:  # the bridge's table, read backwards
        prompt[name] = (int_or_none if number is int else _float)(attrs.get(attribute))
    stop = attrs.get("gen_ai.request.stop_sequences")
    if isinstance(stop, (tuple, list)):
        prompt["stop"] = [str(s) for s in stop]
    tools = _json(attrs.get("gen_ai.tool.definitions"))
    if isinstance(tools, list):
        prompt["tools"] = [_openai_tool(t) for t in tools if isinstance(t, Mapping)]
    else:
        prompt["tools"] = functions(attrs) or None
    prompt = {k: v for k, v in prompt.items() if v is not None}
    return prompt or None


def _openai_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    function = {k: tool[k] for k in ("name", "description", "parameters") if k in tool}
    return {"type": tool.get("type", "function"), "function": function}


def _read(span: ReadableSpan, kind: LogKind, attrs: _Attrs) -> Reading:
    """What a GenAI (or OpenLLMetry) span says, as record fields."""
    reading = Reading()
    if kind == "tool":
        arguments = _json(attrs.get("gen_ai.tool.call.arguments"))
        if isinstance(arguments, Mapping):
            reading.inputs = dict(arguments)
        elif arguments is not None:
            reading.inputs = {"arguments": arguments}
        reading.output = _json(attrs.get("gen_ai.tool.call.result"))
    for key, value in attrs.items():
        if key.startswith("gen_ai.prompt.variable."):
            reading.inputs[key.removeprefix("gen_ai.prompt.variable.")] = value
    entity_input = attrs.get("traceloop.entity.input")
    if entity_input is not None and not reading.inputs:
        reading.inputs = {"input": _json(entity_input)}
    messages, output_message = _messages(attrs)
    if kind == "flow" and not reading.inputs and is_bridge(span):
        # The bridge sends a flow's inputs as one user message holding their JSON: undo it.
        flow_inputs = _bridge_flow_inputs(messages)
        if flow_inputs is not None:
            reading.inputs, messages = flow_inputs, None
    reading.messages, reading.output_message = messages, output_message
    if output_message is not None and isinstance(output_message.get("content"), str):
        reading.output = output_message["content"]
    if reading.output is None and "traceloop.entity.output" in attrs:
        reading.output = _json(attrs["traceloop.entity.output"])
    reading.prompt = _kernel(kind, attrs)
    reading.prompt_tokens = int_or_none(
        attrs.get("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens"))
    )
    reading.output_tokens = int_or_none(
        attrs.get("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens"))
    )
    reasoning: Any = None
    for key in _REASONING_KEYS:
        reasoning = reasoning if reasoning is not None else attrs.get(key)
    reading.reasoning_tokens = int_or_none(reasoning)
    for key in _CACHE_READ_KEYS:
        cached = int_or_none(attrs.get(key))
        if cached:
            reading.metadata[CACHED_KEY] = cached
            break
    reading.finish_reason = _finish_reason(attrs)
    for key in ("gen_ai.response.id", "gen_ai.response.model", "gen_ai.conversation.id"):
        value = attrs.get(key)
        if isinstance(value, str):
            reading.metadata[key] = value
    model = attrs.get("gen_ai.response.model")
    reading.response_model = model if isinstance(model, str) else None
    return reading


def span_record(
    span: ReadableSpan,
    kind: LogKind,
    log_id: str,
    trace_id: str,
    parent_id: str | None,
    error: str | None,
    settings: Settings,
) -> LogRecord:
    """Build the record of a finished GenAI span (runs in promptrail's export worker)."""
    limits, redactor = settings.limits, settings.redactor

    def clean(value: Any) -> Any:
        return _serialize.to_jsonable(value, limits=limits, redactor=redactor)

    attrs = span.attributes or {}
    ctx = span.context
    start_ns = span.start_time or 0
    start = datetime.fromtimestamp(start_ns / 1e9, UTC)
    body: dict[str, Any] = {
        "log_id": log_id,
        "path": span_path(kind, attrs, span.name),
        "kind": kind,
        "trace_id": trace_id,
        "trace_parent_id": parent_id,
        "environment": settings.environment,
        "start_time": start,
        "created_at": start,
        "error": clean(error) if error is not None else None,
    }
    if span.end_time is not None:
        # The same arithmetic as a decorated call's record: a bridge span's log comes back equal.
        latency = (span.end_time - start_ns) / 1e9
        body["end_time"] = datetime.fromtimestamp(start_ns / 1e9 + latency, UTC)
        body["provider_latency"] = latency
        body["created_at"] = body["end_time"]
    if _openinference.SPAN_KIND in attrs:
        reading = _openinference.read(kind, attrs)
    else:
        reading = _read(span, kind, attrs)
    if reading.messages is not None:
        body["messages"] = [ChatMessage.model_validate(m) for m in clean(reading.messages)]
    if reading.output_message is not None:
        body["output_message"] = ChatMessage.model_validate(clean(reading.output_message))
    output = reading.output
    if output is not None:
        output = clean(output)
        body["output"] = (
            output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
        )
    body["inputs"] = clean(reading.inputs)
    prompt = reading.prompt
    if prompt is not None:
        # Typed parameters stay as they are (key-based redaction would hide ``max_tokens``).
        for key in ("tools", "response_format"):
            if key in prompt:
                prompt[key] = clean(prompt[key])
        body["prompt"] = PromptKernel.model_validate(prompt)
    body["prompt_tokens"] = reading.prompt_tokens
    body["output_tokens"] = reading.output_tokens
    body["reasoning_tokens"] = reading.reasoning_tokens
    body["finish_reason"] = reading.finish_reason
    metadata: dict[str, Any] = {
        OTEL_TRACE_ID: format_trace_id(ctx.trace_id),
        OTEL_SPAN_ID: format_span_id(ctx.span_id),
        "otel.span_name": span.name,
    }
    if span.instrumentation_scope is not None:
        metadata["otel.scope"] = span.instrumentation_scope.name
    metadata.update(reading.metadata)
    stack = span_traceback(span)
    if stack is not None:  # as a decorated call's record keeps it
        metadata[ERROR_TRACEBACK_KEY] = stack
    answered = answered_model(
        None if prompt is None else prompt.get("model"), reading.response_model
    )
    if answered is not None:  # as promptrail's own records say it
        metadata[RESPONSE_MODEL_KEY] = answered
    body["metadata"] = clean(metadata)
    body.update(clean(session_fields(attrs)))
    return LogRecord.model_validate(body)
