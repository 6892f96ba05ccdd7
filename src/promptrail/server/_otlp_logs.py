"""OTLP/HTTP logs in: the GenAI events an instrumentation sends as logs join their span's log.

``POST /v1/logs`` (the path OTLP log exporters append to their endpoint) and the same under
``/v5/import/otel/v1/logs`` take an ``ExportLogsServiceRequest`` as binary protobuf or in the OTLP
JSON mapping (ids in hex, or base64 as protobuf's own JSON mapping writes them; a body without a
Content-Type is read as JSON when it starts with ``{``), gzip or not, with the same keys as the
traces endpoint. Log records named ``gen_ai.*.message`` / ``gen_ai.choice`` (the event name, or
an ``event.name`` attribute) that carry a trace and span id go to an
:class:`~promptrail.otel.ingest._events.EventJoin`: they update their span's stored log, or wait
for the span (bounded) and are put into its log when it arrives. Other log records are ignored.

Answers 200 with an empty ``ExportLogsServiceResponse`` (``partial_success`` counts GenAI events
without a trace or span id, which cannot be joined); errors as the traces endpoint answers them.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from promptrail._record.models import LogRecord
from promptrail._runtime.state import STATE
from promptrail.otel.ingest._events import EventJoin, GenAiEvent, amend, is_genai_event
from promptrail.server._openapi import error_responses, otlp_body
from promptrail.server._otlp import (
    OtlpError,
    decode_export,
    dicts,
    hex_ids_to_base64,
    read_request,
    status_response,
    success_response,
)
from promptrail.stores._base import Store, StoreUnavailableError

if TYPE_CHECKING:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue

__all__ = ["OTLP_LOGS_PATHS", "add_otlp_log_routes", "decode_logs", "events_from_request"]

OTLP_LOGS_PATHS = ("/v1/logs", "/v5/import/otel/v1/logs")
"""The paths that accept OTLP/HTTP log exports."""

_JSON_TYPE = "application/json"
_ID_KEYS = ("traceId", "trace_id", "spanId", "span_id")

# A known span whose log is not in the store yet is being stored: wait this long for it, at most.
_STORE_TRIES = 10
_STORE_PAUSE = 0.02

Events = dict[tuple[str, str], list[GenAiEvent]]


def decode_logs(body: bytes, *, as_json: bool) -> ExportLogsServiceRequest:
    """Decode an OTLP/HTTP logs export (binary protobuf, or the OTLP JSON mapping).

    Raises:
        OtlpError: 400 if the body cannot be decoded.
    """
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    def record_ids(data: dict[str, Any]) -> None:
        for resource_logs in dicts(data, "resourceLogs", "resource_logs"):
            for scope_logs in dicts(resource_logs, "scopeLogs", "scope_logs"):
                for record in dicts(scope_logs, "logRecords", "log_records"):
                    hex_ids_to_base64(record, _ID_KEYS)

    return decode_export(body, ExportLogsServiceRequest(), as_json=as_json, hex_ids=record_ids)


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which)


def events_from_request(request: ExportLogsServiceRequest) -> tuple[Events, int]:
    """The GenAI events of a logs export by span, in order; and how many had no span to join."""
    events: Events = {}
    orphans = 0
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                name = record.event_name
                if not name:
                    for kv in record.attributes:
                        if kv.key == "event.name":
                            name = str(_value(kv.value) or "")
                if not is_genai_event(name):
                    continue
                if len(record.trace_id) != 16 or len(record.span_id) != 8:
                    orphans += 1
                    continue
                key = (record.trace_id.hex(), record.span_id.hex())
                events.setdefault(key, []).append(GenAiEvent(name, _value(record.body)))
    return events, orphans


def _store_events(body: bytes, as_json: bool, store: Store, join: EventJoin) -> int:
    """Join a request's events to their spans' logs (updating stored ones); the orphan count."""
    events, orphans = events_from_request(decode_logs(body, as_json=as_json))
    settings = STATE.settings
    for key, span_events in events.items():
        stored = join.add_events(key, span_events)
        if stored is None:
            continue  # the span has not arrived yet: its log gets the events when it does
        log_id, every_event = stored
        record = store.get(log_id)
        for _ in range(_STORE_TRIES):  # the traces route may be storing it right now
            if record is not None:
                break
            time.sleep(_STORE_PAUSE)
            record = store.get(log_id)
        if record is not None:
            store.update(amend(record, every_event, settings))
    return orphans


_ORPHANS = "GenAI log events without a trace and span id cannot be joined to a log"


def _logs_response() -> Any:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

    return ExportLogsServiceResponse()


def add_otlp_log_routes(
    app: FastAPI,
    *,
    store: Store,
    key_ok: Callable[[Mapping[str, str]], bool],
    read_body: Callable[[Request, int], Any],
    max_body_bytes: int,
    join: EventJoin | None = None,
) -> Callable[[list[LogRecord]], list[LogRecord]]:
    """Add ``POST`` on :data:`OTLP_LOGS_PATHS` to ``app``, joining GenAI events to their logs.

    Returns what the traces endpoint hands the span logs it is about to store (see
    :func:`~promptrail.server._otlp.add_otlp_routes`'s ``join``): they get the events that came
    before them, and later events update them.

    Args:
        app: The receiver app.
        store: Where the span logs are.
        key_ok: Whether a request's headers carry a valid key.
        read_body: The receiver's bounded body reader (raises 413 ``HTTPException``).
        max_body_bytes: The limit, for the body as sent and once decompressed.
        join: Where events wait for their span (default: a new :class:`EventJoin`).
    """
    events = EventJoin() if join is None else join

    async def otlp_logs(request: Request) -> Response:
        got = await read_request(
            request,
            key_ok=key_ok,
            read_body=read_body,
            max_body_bytes=max_body_bytes,
            protobuf_without_type=True,
        )
        if isinstance(got, Response):
            return got
        raw, as_json = got
        try:
            orphans = await run_in_threadpool(_store_events, raw, as_json, store, events)
        except OtlpError as exc:
            return status_response(exc.status, exc.message, as_json=as_json)
        except (StoreUnavailableError, sqlite3.OperationalError):
            return status_response(503, "the store is busy", as_json=as_json)
        return success_response(
            _logs_response, orphans, _ORPHANS, kind="log_records", as_json=as_json
        )

    for path in OTLP_LOGS_PATHS:
        app.add_api_route(
            path,
            otlp_logs,
            methods=["POST"],
            summary="Receive OTLP/HTTP logs (GenAI events)",
            include_in_schema=True,
            responses=error_responses(400, 401, 408, 413, 415, 503),
            openapi_extra=otlp_body(),
        )

    def join_records(records: list[LogRecord]) -> list[LogRecord]:
        return events.join(records, STATE.settings)

    return join_records
