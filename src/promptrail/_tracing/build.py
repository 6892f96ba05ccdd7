"""Building the record: an ended :class:`ActiveLog` becomes a validated :class:`LogRecord`.

Runs in the export worker, never on the caller's thread. The request comes from the call's
arguments (``providers._request``), the response from its result (the extractor registry), the
prices and version id from both. Sub-models seen before (a system message, a prompt kernel) are
reused from a memo instead of validated again (``_record.encode``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from promptrail._record import encode as _fastrecord
from promptrail._record import serialize as _serialize
from promptrail._record.models import ChatMessage, LogRecord, PromptKernel
from promptrail._record.versions import version_id
from promptrail._runtime import errors as _errors
from promptrail._tracing import inherited as _inherited
from promptrail._tracing import reuse as _reuse
from promptrail._tracing import tool_calls as _tool_calls
from promptrail._tracing.failures import ERROR_TRACEBACK_KEY, describe, format_traceback
from promptrail.providers import _registry as _extract
from promptrail.providers import _request as _request
from promptrail.providers._accumulate import StreamAccumulator
from promptrail.providers._common import CACHE_CREATION_KEY, CACHED_KEY
from promptrail.providers._prices import modalities_of, priced

if TYPE_CHECKING:
    from promptrail._runtime.state import Settings
    from promptrail._tracing.active import ActiveLog
    from promptrail._tracing.spec import CallSpec

__all__ = [
    "INVALID_KEY",
    "PRICE_SOURCE_KEY",
    "RESPONSE_MODEL_KEY",
    "answered_model",
    "build_record",
    "describe",
    "record_body",
]


def build_record(log: ActiveLog, settings: Settings) -> LogRecord:
    """Build the validated, redacted, JSON-safe record of the ended ``log``."""
    body = record_body(log, settings)
    # One validation of the whole body (nested messages included) is the common case; only
    # a body that fails it takes the lenient path: messages one by one, then wrong-typed
    # fields moved to metadata.
    try:
        # model_validate() without its Python-level wrapper (same call, same result).
        record = cast("LogRecord", _validate_record(body))
    except ValidationError:
        if "messages" in body:
            body["messages"] = _messages(body["messages"])
        if "output_message" in body:
            body["output_message"] = _message(body["output_message"])
        record = _validate(body)
    reply = record.output_message
    if reply is not None and reply.tool_calls:  # what later tool logs of the trace answer
        end_ns = log.start_ns + ((log.perf_end or log.perf_start) - log.perf_start)
        _tool_calls.TOOL_CALLS.offered(record.trace_id, end_ns, reply.tool_calls)
    return record


def record_body(log: ActiveLog, settings: Settings) -> dict[str, Any]:
    """The fields of the ended ``log``'s record, before validation.

    Every value is converted, limited and redacted (JSON-safe), except the start and end
    times (``datetime``) and the sub-models remembered from earlier records
    (:class:`ChatMessage`, :class:`PromptKernel`). :func:`build_record` validates it.
    """
    spec = log.spec
    limits, redactor = settings.limits, settings.redactor

    # One converter for the whole record (its cycle set is empty between calls).
    converter = _serialize._Converter(limits, redactor)
    convert = converter.convert
    max_depth = limits.max_depth

    def clean(value: Any) -> Any:
        t = type(value)
        if t is int or t is bool or value is None:
            return value
        return convert(value, max_depth)

    body: dict[str, Any] = {
        "log_id": log.log_id,
        "path": spec.path if spec.path.isascii() else _serialize._encodable(spec.path),
        "kind": spec.kind,
        "trace_id": log.trace_id,
        "trace_parent_id": log.trace_parent_id,
        "environment": settings.environment,
    }
    start = log.start_ns / 1e9
    body["start_time"] = datetime.fromtimestamp(start, UTC)
    if log.perf_end is not None:
        latency = (log.perf_end - log.perf_start) / 1e9
        body["provider_latency"] = latency
        body["end_time"] = datetime.fromtimestamp(start + latency, UTC)
    body["created_at"] = body.get("end_time", body["start_time"])
    error = log.error
    error_traceback = None
    if error is not None:
        text = describe(error) if isinstance(error, BaseException) else error
        body["error"] = _serialize.to_jsonable(text, limits=limits, redactor=redactor)
        if isinstance(error, BaseException):
            error_traceback = format_traceback(error, log.error_tb)

    # Remembered sub-models and request details (see _fastrecord): None when every value
    # must take the general path.
    memo = _reuse.memo_for(limits, redactor)
    inputs_on = spec.inputs_on(settings)
    inputs, messages = log._inputs() if inputs_on else ({}, None)
    sent = messages  # as the call passed them (request_fields may add a system message)
    if spec.tool is not None:
        body["tool"] = spec.tool
    sdk = log.sdk  # an instrumented SDK call that completed this log, if any
    instrumented = spec.instrumented or sdk is not None
    remembered = (
        None
        if memo is None or instrumented
        else _reuse.remembered_request(spec, inputs, messages, memo, clean)
    )
    cleaned_inputs: dict[str, Any] | None
    if remembered is not None:  # the same details from the same atomic arguments
        prompt, tool_choice, cleaned_inputs, requested_key = remembered
        if tool_choice is not None:
            body["tool_choice"] = clean(tool_choice)
    else:
        cleaned_inputs = requested_key = None
        prompt = dict(spec.prompt) if spec.prompt else {}
        if spec.kind == "prompt":  # model, parameters, tools, system message from the call
            prompt, messages, tool_choice = _request.request_fields(spec.prompt, inputs, messages)
            if tool_choice is not None:
                body["tool_choice"] = clean(tool_choice)
    sdk_request: dict[str, Any] | None = None
    if sdk is not None:  # the request as sent fills what the decorator did not set
        sdk_prompt, sdk_messages, sdk_choice, sdk_request = _sent(sdk)
        prompt = {**prompt, **sdk_prompt, **(spec.prompt or {})}
        if sdk_messages is not None:
            messages = sdk_messages
        if sdk_choice is not None and "tool_choice" not in body:
            body["tool_choice"] = clean(sdk_choice)
    if instrumented:
        prompt = _with_template(prompt, messages)
    fields = log.fields or {}
    if "inputs" in fields:
        inputs = {**inputs, **fields["inputs"]}
        cleaned_inputs = None
    if inputs_on or "inputs" in fields:  # off means absent, not empty
        body["inputs"] = clean(inputs) if cleaned_inputs is None else cleaned_inputs
    if spec.kind == "prompt" and inputs_on and spec.payloads_on(settings):
        # The request as the call made it: its arguments (secrets redacted like the rest).
        request = dict(inputs) if sent is None else {**inputs, "messages": sent}
        body["provider_request"] = clean(request if sdk_request is None else sdk_request)
    if "messages" in fields:
        messages = fields["messages"]
    if messages is not None:
        body["messages"] = (
            clean(messages) if memo is None else _reuse.clean_messages(messages, memo, converter)
        )

    extracted_metadata: Any = None
    response_model: Any = None
    # The key of the prompt kernel: the requested details' and the response's.
    kernel_key: Any = None if requested_key is None else (requested_key, ())
    # What the call asked for (the version is computed from it); raw until cleaned.
    requested = prompt
    if spec.output_on(settings) and log.error is None:
        result = log.result if log.items is None else log.items
        if spec.payloads_on(settings) and result is not None and not isinstance(result, str):
            body["provider_response"] = _provider_response(result, clean)
        extracted = _extract.extract(result, is_stream=log.items is not None)
        prompt_from_result = extracted.pop("prompt", None)
        extracted_metadata = extracted.pop("metadata", None)
        if isinstance(prompt_from_result, Mapping):
            response_model = prompt_from_result.get("model")
            prompt = {**prompt_from_result, **requested}
            if requested_key is not None:
                result_key = (
                    _fastrecord.atomic_key(prompt_from_result)
                    if type(prompt_from_result) is dict
                    else None
                )
                kernel_key = None if result_key is None else (requested_key, result_key)
        output_message = None
        if memo is not None and "output_message" in extracted and memo.worth(spec):
            output_message = _reuse.remembered_message(
                extracted["output_message"], memo, converter, spec
            )
            if output_message is not None:
                del extracted["output_message"]
        # Clean each value, not the dict: field names such as "output_tokens" are not secrets.
        for key, value in extracted.items():
            body[key] = clean(value)
        if output_message is not None:
            body["output_message"] = output_message
    if sdk is not None:
        sdk_metadata, sdk_model = _sdk_response(
            sdk, body, clean, settings, spec.output_on(settings)
        )
        extracted_metadata = {**sdk_metadata, **(extracted_metadata or {})}
        if response_model is None and sdk_model is not None:
            response_model = sdk_model
            prompt = {**prompt, "model": prompt.get("model") or sdk_model}
    if prompt:
        kernel = None if memo is None else _reuse.kernel(prompt, memo, clean, kernel_key, spec)
        body["prompt"] = (
            _reuse.prompt_fields({key: clean(value) for key, value in prompt.items()})
            if kernel is None
            else kernel
        )

    metadata = dict(extracted_metadata) if isinstance(extracted_metadata, Mapping) else {}
    answered = answered_model(requested.get("model"), response_model)
    if answered is not None:  # the cost is computed for it: the record says which it was
        metadata[RESPONSE_MODEL_KEY] = answered
    inherited = _inherited.effective(log.attrs, log.root.trace_attrs)
    if inherited is not None:
        _inherit(body, metadata, inherited, clean)
    if error_traceback is not None:
        metadata[ERROR_TRACEBACK_KEY] = error_traceback
    if spec.metadata:
        metadata.update(spec.metadata)
    for key, value in fields.items():
        if key == "metadata":
            metadata.update(value)
        elif key not in ("inputs", "messages"):
            body[key] = clean(value)
    if spec.kind == "tool" and _tool_calls.TOOL_CALL_ID_KEY not in metadata:
        call_id = _tool_calls.passed_in(inputs) or _tool_calls.TOOL_CALLS.answer(
            log.trace_id, log.log_id, log.start_ns, _tool_name(spec), body.get("inputs")
        )
        if call_id is not None:
            metadata[_tool_calls.TOOL_CALL_ID_KEY] = call_id
    body["metadata"] = clean(metadata) if metadata else {}
    output = body.get("output")
    if output is not None and type(output) is not str:
        # An int's JSON text is its str() (a tenth of the encoder's cost); bool is not int here.
        body["output"] = str(output) if type(output) is int else _to_json(output)
    _derive(body, requested, response_model, clean, memo, requested_key, spec)
    return body


def _tool_name(spec: CallSpec) -> str:
    """The name a model calls the tool by: its definition's, else the path's last part."""
    tool = spec.tool
    name = tool.get("name") if tool else None
    return name if isinstance(name, str) else spec.path.rsplit("/", 1)[-1]


def _inherit(body: dict[str, Any], metadata: dict[str, Any], inherited: Any, clean: Any) -> None:
    """Fill the session, user, tags and metadata a log inherits (its own values win later)."""
    if inherited.session_id is not None:
        body["session_id"] = clean(inherited.session_id)
    if inherited.user is not None:
        body["user"] = clean(inherited.user)
    if inherited.tags:
        body["tags"] = clean(list(inherited.tags))
    if inherited.metadata:
        metadata.update(inherited.metadata)


def _provider_response(result: Any, clean: Any) -> Any:
    """The response as recorded: a returned stream's accumulator gives the response it rebuilt."""
    response = clean(result.response() if type(result) is StreamAccumulator else result)
    return response if isinstance(response, dict) else {"items": response}


def _sent(sdk: ActiveLog) -> tuple[dict[str, Any], Any, Any, dict[str, Any]]:
    """``(prompt, messages, tool_choice, request)`` of an instrumented SDK call, as sent."""
    inputs, messages = sdk._inputs()
    request = dict(inputs) if messages is None else {**inputs, "messages": messages}
    prompt, messages, tool_choice = _request.request_fields(sdk.spec.prompt, inputs, messages)
    return prompt, messages, tool_choice, request


def _with_template(prompt: dict[str, Any], messages: Any) -> dict[str, Any]:
    """``prompt`` with the system message sent as its ``template`` (when it has none).

    The version id hashes the prompt details, so a changed system prompt is a new version.
    """
    if prompt.get("template") is not None or not isinstance(messages, list) or not messages:
        return prompt
    first = messages[0]
    if isinstance(first, Mapping) and first.get("role") in ("system", "developer"):
        content = first.get("content")
        if isinstance(content, (str, list)) and content:
            return {**prompt, "template": content}
    return prompt


def _sdk_response(
    sdk: ActiveLog, body: dict[str, Any], clean: Any, settings: Settings, output_on: bool
) -> tuple[dict[str, Any], Any]:
    """Fill ``body``'s unset response fields from an instrumented SDK call's response.

    Returns the call's metadata (tokens read from the cache, its error's status and type) and
    the model its response names.
    """
    metadata: dict[str, Any] = dict((sdk.fields or {}).get("metadata") or {})
    if sdk.error is not None:
        metadata["provider_error"] = sdk.error
    if not output_on or sdk.error is not None or not sdk.ended:
        return metadata, None
    result = sdk.result if sdk.items is None else sdk.items
    extracted = _extract.extract(result, is_stream=sdk.items is not None)
    answered = extracted.pop("prompt", None)
    metadata.update(extracted.pop("metadata", None) or {})
    for key, value in extracted.items():
        if body.get(key) is None:
            body[key] = clean(value)
    if sdk.spec.payloads_on(settings) and "provider_response" not in body and result is not None:
        body["provider_response"] = _provider_response(result, clean)
    return metadata, answered.get("model") if isinstance(answered, Mapping) else None


PRICE_SOURCE_KEY = "price_source"
"""Metadata key: where the costs' prices came from (``register_price``, or genai-prices)."""

RESPONSE_MODEL_KEY = "response_model"
"""Metadata key: the model the response names, when it differs from the model requested."""


def answered_model(requested: Any, answered: Any) -> str | None:
    """The model to record under :data:`RESPONSE_MODEL_KEY`, or ``None``.

    The model a response names (a dated snapshot, or the model behind a deployment name) is
    recorded when the call named a model and the response names another one. One rule for
    promptrail's records, the spans its OpenTelemetry bridge sends and the records ingested
    from spans.
    """
    if type(answered) is str and answered and requested and answered != requested:
        return answered
    return None


INVALID_KEY = "promptrail.invalid_fields"
"""Metadata key holding fields whose values had the wrong type (e.g. ``prompt_tokens="many"``)."""

# Fields promptrail sets itself; any other field comes from user code, extractors or results.
_OWN_FIELDS = frozenset(
    {"log_id", "path", "kind", "trace_id", "trace_parent_id", "start_time", "end_time"}
    | {"created_at", "provider_latency", "environment", "metadata"}
)


def _validate(body: dict[str, Any]) -> LogRecord:
    """Validate ``body``; a field given a value of the wrong type moves to metadata.

    ``update_current(prompt_tokens="many")`` or an extractor returning a list as
    ``finish_reason`` must not lose the whole log: the record is kept without those fields, and
    their (converted, redacted) values are kept under ``metadata["promptrail.invalid_fields"]``.
    """
    try:
        return LogRecord.model_validate(body)
    except ValidationError as exc:
        names = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        if not names or names & _OWN_FIELDS:
            raise  # promptrail's own fields: a bug, reported as such
        invalid = {name: body.pop(name) for name in sorted(names) if name in body}
        body["metadata"] = {**body.get("metadata", {}), INVALID_KEY: invalid}
        _errors.report(
            "invalid_field",
            None,
            f"fields of {body.get('path')} had the wrong type ({', '.join(invalid)}); "
            f"kept in metadata[{INVALID_KEY!r}]",
            internal=False,
        )
        return LogRecord.model_validate(body)


_validate_record = LogRecord.__pydantic_validator__.validate_python

_to_json = json.JSONEncoder(ensure_ascii=False).encode
"""``json.dumps(value, ensure_ascii=False)`` without building an encoder per call."""


def _derive(
    body: dict[str, Any],
    requested: dict[str, Any],
    response_model: Any,
    clean: Any,
    memo: _fastrecord.Memo | None,
    requested_key: Any = None,
    spec: CallSpec | None = None,
) -> None:
    """Fill ``version_id`` and the costs, unless the user set them.

    The version is the hash of what the call asked for (decorator and call arguments, raw in
    ``requested``), plus the model that answered when the call did not name one: details read
    from the response (provider, endpoint) do not change it, so a failed call has the same
    version as a good one.
    """
    prompt = body.get("prompt")
    kernel = type(prompt) is PromptKernel
    if kernel or isinstance(prompt, Mapping):  # the prompt kernel's fields
        if body.get("version_id") is None:
            body["version_id"] = _requested_version(
                requested, response_model, clean, memo, requested_key, spec
            )
        if body.get("prompt_cost") is None and body.get("output_cost") is None:
            metadata = body.get("metadata") or {}
            details: Any = prompt
            if kernel:
                model, provider, other = details.model, details.provider, details.other
            else:
                model, provider, other = (details.get(k) for k in ("model", "provider", "other"))
            tier = other.get("service_tier") if isinstance(other, Mapping) else None
            prompt_cost, output_cost, source = priced(
                response_model or model,
                body.get("prompt_tokens"),
                body.get("output_tokens"),
                metadata.get(CACHED_KEY),
                metadata.get(CACHE_CREATION_KEY),
                provider=provider,
                service_tier=tier,
                modalities=modalities_of(metadata),
            )
            body["prompt_cost"], body["output_cost"] = prompt_cost, output_cost
            if source is not None:
                body["metadata"] = {**metadata, PRICE_SOURCE_KEY: source}


def _requested_version(
    requested: dict[str, Any],
    response_model: Any,
    clean: Any,
    memo: _fastrecord.Memo | None,
    requested_key: Any = None,
    spec: CallSpec | None = None,
) -> str:
    """The version id of the requested prompt details (raw), remembered per raw details.

    Not remembered for a call site whose prompt details keep changing (see :func:`_reuse.kernel`).
    """
    key: Any = None
    atomic_model = type(response_model) in _fastrecord._ATOMIC
    if memo is not None and atomic_model and memo.worth((spec, "prompt")):
        key = _fastrecord.atomic_key(requested) if requested_key is None else requested_key
        if key is not None:
            key = ("version", key, response_model, type(response_model))
            found = memo.get(key)
            if found is not None:
                return cast("str", found)
    details = {k: clean(v) for k, v in requested.items()}
    if response_model and "model" not in details:
        details = {**details, "model": response_model}
    found = _version_of(_reuse.prompt_fields(details))
    if key is not None:
        memo.put(key, found, _fastrecord.key_chars(requested))  # type: ignore[union-attr]
    return found


_versions_seen: dict[str, str] = {}


def _version_of(details: dict[str, Any]) -> str:
    """Return the version id of these prompt details, remembering the last few thousand.

    The id hashes the *validated* kernel (``1`` and ``1.0`` are the same temperature); the cache
    key is the raw details' canonical JSON, which skips that validation for repeated prompts.
    """
    try:
        key = json.dumps(details, sort_keys=True, separators=(",", ":"), default=repr)
    except (TypeError, ValueError):  # pragma: no cover - cleaned values are JSON-safe
        return version_id(PromptKernel.model_validate(details))
    found = _versions_seen.get(key)
    if found is None:
        found = version_id(PromptKernel.model_validate(details))
        if len(_versions_seen) >= 4096:
            _versions_seen.clear()
        _versions_seen[key] = found
    return found


def _message(value: Any) -> ChatMessage | None:
    if value is None or isinstance(value, ChatMessage):
        return value
    try:
        return ChatMessage.model_validate(value)
    except Exception:
        return ChatMessage(role="assistant", content=json.dumps(value, ensure_ascii=False))


def _messages(value: Any) -> list[ChatMessage] | None:
    """Validate chat messages leniently: a message that is not one is kept as its JSON text."""
    if not isinstance(value, list):
        return [ChatMessage(role="user", content=json.dumps(value, ensure_ascii=False))]
    out: list[ChatMessage] = []
    for item in value:
        try:
            out.append(ChatMessage.model_validate(item))
        except Exception:
            text = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
            out.append(ChatMessage(role="user", content=text))
    return out
