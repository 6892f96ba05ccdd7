"""The Humanloop SDK's spans: what its ``@flow``, ``@prompt`` and ``@tool`` decorators upload.

The SDK (``humanloop`` 0.8.x) sends each span on its own to ``{base_url}/import/otel/v1/traces``
(OTLP JSON) under the instrumentation scope ``humanloop.sdk.decorator`` (flow and tool spans) or
``humanloop.sdk.provider`` (the LLM calls its bundled OpenLLMetry instrumentors record inside a
``@prompt``). It writes nested values flattened into dotted keys (``humanloop.log.inputs.a``,
``...parameters.required``) and stringifies every value: ``42`` arrives as ``'42'``, a list of
finish reasons as ``"('stop',)"``. :func:`parse_attributes` undoes that where the key says what the
value is; text-bearing keys (content, ids, names, output) are left as sent.

What becomes of each span (:func:`store_humanloop_spans`):

- ``humanloop.flow``: the flow log was created over REST (``log_status: incomplete``) when the
  function started; its span carries ``humanloop.log.id`` and the outcome (``output``,
  ``output_message``, ``error``, ``log_status``). The stored log is completed with them and the
  span's end time; a flow log that was never created is created from the span.
- ``humanloop.tool``: a tool log (``humanloop.file.*`` is the tool's kernel: function schema,
  source code) with ``inputs``, ``output``, ``error``.
- provider spans: a prompt log read like any GenAI span (see :mod:`._genai`), at the
  ``@prompt``'s path (``humanloop.file.path``).

Tool and prompt logs hang under ``humanloop.log.trace_parent_id`` (the enclosing flow's log id)
and join that log's trace. Their log ids are derived from the span's ids, so a span sent twice is
stored once.
"""

from __future__ import annotations

import ast
import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from promptrail._record.models import LogRecord
from promptrail._runtime.state import STATE, Settings
from promptrail.otel.ingest._genai import span_error, span_record
from promptrail.otel.ingest._processor import span_log_id
from promptrail.stores._base import Store, StoreUnavailableError

__all__ = ["is_humanloop_span", "parse_attributes", "store_humanloop_spans"]

SCOPE_PREFIX = "humanloop.sdk"
_FILE = "humanloop.file."
_LOG = "humanloop.log."
_INT = re.compile(r"-?\d{1,19}")
_FLOAT = re.compile(r"-?\d+\.\d*(e[-+]?\d+)?|-?\d+e[-+]?\d+", re.IGNORECASE)
# Keys whose values are text whatever they look like ("42" as a message stays "42").
_TEXT_SUFFIXES = (
    "content",
    "arguments",
    "id",
    "name",
    "model",
    "messages",
    "text",
    "value",
    "input",
    "output",
    "prompt",
    "completion",
    "template",
    "source_code",
    "description",
    "role",
    "error",
    "path",
    "type",
    "log_status",
    "trace_parent_id",
)


def is_humanloop_span(span: ReadableSpan) -> bool:
    """Whether ``span`` was uploaded by the Humanloop SDK (its instrumentation scope says so)."""
    scope = span.instrumentation_scope
    return scope is not None and scope.name.startswith(SCOPE_PREFIX)


def _is_text_key(key: str) -> bool:
    last = key.rsplit(".", 1)[-1]
    return last.endswith(_TEXT_SUFFIXES) or last.startswith("content")


def parse_value(text: str) -> Any:
    """The value ``str(value)`` came from, for a bool, number, None or tuple of those; else text."""
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if len(text) >= 2 and text[0] + text[-1] in ("()", "[]"):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return text
        if isinstance(value, (tuple, list)) and all(
            isinstance(v, (str, int, float, bool)) or v is None for v in value
        ):
            return tuple(value)
    return text


def parse_attributes(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The span's attributes with stringified values restored where the key is not text."""
    return {
        key: parse_value(value)
        if isinstance(value, str) and not _is_text_key(key) and not key.startswith("humanloop.")
        else value
        for key, value in attrs.items()
    }


def _to_lists(value: Any) -> Any:
    """Turn dicts whose keys are all indices (``{"0": a, "1": b}``) into lists, bottom up."""
    if not isinstance(value, dict):
        return list(value) if isinstance(value, tuple) else value
    converted = {key: _to_lists(item) for key, item in value.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def unflatten(attrs: Mapping[str, Any], prefix: str, *, parse: bool = True) -> dict[str, Any]:
    """The nested value the SDK flattened under ``prefix`` (``a.b.0 = x`` → ``{a: {b: [x]}}``)."""
    root: dict[str, Any] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        parts = key[len(prefix) :].split(".")
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if parse and isinstance(value, str) and not _is_text_key(key):
            value = parse_value(value)
        node[parts[-1]] = value
    result = _to_lists(root)
    return result if isinstance(result, dict) else {}


def _time(ns: int | None) -> datetime | None:
    return datetime.fromtimestamp(ns / 1e9, UTC) if ns else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _parent_and_trace(store: Store, parent_id: str | None, log_id: str) -> tuple[str, str | None]:
    """The trace a child of ``parent_id`` joins: the stored parent's, else the parent's id."""
    if parent_id is None:
        return log_id, None
    parent = store.get(parent_id)
    return (parent.trace_id if parent is not None else parent_id), parent_id


def _flow(store: Store, span: ReadableSpan, attrs: Mapping[str, Any]) -> LogRecord | None:
    """Complete the flow log the decorator created (or create it, if that request was lost)."""
    log = unflatten(attrs, _LOG, parse=False)
    log_id = _text(log.get("id"))
    if log_id is None:
        return None
    outcome: dict[str, Any] = {
        "log_status": log.get("log_status") or "complete",
        "end_time": _time(span.end_time),
    }
    for name in ("output", "error", "output_message"):
        if log.get(name) is not None:
            outcome[name] = log[name]
    existing = store.get(log_id)
    if existing is not None:
        body = {**existing.model_dump(), **outcome}
    else:
        start = _time(span.start_time) or datetime.now(UTC)
        trace_id, parent_id = _parent_and_trace(store, _text(log.get("trace_parent_id")), log_id)
        body = {
            "log_id": log_id,
            "path": _text(attrs.get("humanloop.file.path")) or span.name,
            "kind": "flow",
            "trace_id": trace_id,
            "trace_parent_id": parent_id,
            "start_time": start,
            "created_at": start,
            **outcome,
        }
    return LogRecord.model_validate(body)


def _tool(store: Store, span: ReadableSpan, attrs: Mapping[str, Any], log_id: str) -> LogRecord:
    log = unflatten(attrs, _LOG)
    kernel = {
        key: value
        for key, value in unflatten(attrs, _FILE).items()
        if key not in ("path", "type", "template")
    }
    trace_id, parent_id = _parent_and_trace(store, _text(log.get("trace_parent_id")), log_id)
    start = _time(span.start_time) or datetime.now(UTC)
    end = _time(span.end_time)
    inputs = log.get("inputs")
    error = _text(log.get("error")) or span_error(span)
    return LogRecord.model_validate(
        {
            "log_id": log_id,
            "path": _text(attrs.get("humanloop.file.path")) or span.name,
            "kind": "tool",
            "trace_id": trace_id,
            "trace_parent_id": parent_id,
            "inputs": inputs if isinstance(inputs, dict) else None,
            "output": _text(log.get("output")),
            "error": error,
            "tool": kernel or None,
            "start_time": start,
            "end_time": end,
            "created_at": end or start,
            "log_status": "complete",
        }
    )


def _prompt(
    store: Store, span: ReadableSpan, attrs: dict[str, Any], log_id: str, settings: Settings
) -> LogRecord:
    parsed = ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attrs,
        events=span.events,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
    parent = _text(attrs.get("humanloop.log.trace_parent_id"))
    trace_id, parent_id = _parent_and_trace(store, parent, log_id)
    record = span_record(parsed, "prompt", log_id, trace_id, parent_id, span_error(span), settings)
    path = _text(attrs.get("humanloop.file.path"))
    update: dict[str, Any] = {"log_status": "complete"}
    if path:
        update["path"] = path
    return record.model_copy(update=update)


def store_humanloop_spans(
    store: Store,
    spans: Sequence[ReadableSpan],
    settings: Settings | None = None,
    *,
    on_error: Callable[[ReadableSpan, Exception], None] | None = None,
) -> int:
    """Store the logs of the Humanloop SDK's spans (see the module docstring); return how many.

    Spans are handled in end order, so a flow completes after the logs inside it are stored. A
    span whose log cannot be built or stored is passed to ``on_error`` (raised without it) and
    skipped; a store that is unavailable raises.
    """
    if settings is None:
        settings = STATE.settings
    stored = 0
    for span in sorted(spans, key=lambda s: s.end_time or 0):
        raw = dict(span.attributes or {})
        kind = raw.get("humanloop.file.type")
        ctx = span.context
        log_id = span_log_id(ctx.trace_id, ctx.span_id, span.start_time or 0)
        record: LogRecord | None = None
        try:
            if kind == "flow":
                record = _flow(store, span, raw)
            elif kind == "tool":
                record = _tool(store, span, raw, log_id)
            elif kind == "prompt":
                record = _prompt(store, span, parse_attributes(raw), log_id, settings)
        except Exception as exc:
            if on_error is None:
                raise
            on_error(span, exc)
            continue
        if record is None:
            continue  # a provider call outside a @prompt, or a kind not known here
        try:
            if not (kind == "flow" and store.update(record)):
                store.insert([record])
        except (StoreUnavailableError, sqlite3.OperationalError):
            raise  # nothing more can be stored now: the client retries the request
        except (ValueError, OverflowError, RecursionError) as exc:  # a value the store refuses
            if on_error is None:
                raise
            on_error(span, exc)
            continue
        stored += 1
    return stored
