"""OTLP/HTTP traces in: any OpenTelemetry exporter can send GenAI spans to the receiver.

``POST /v1/traces`` (the path OTLP exporters append to their endpoint) and the same under
``/v5/import/otel/v1/traces`` take an ``ExportTraceServiceRequest`` in either OTLP/HTTP encoding:
binary protobuf (``Content-Type: application/x-protobuf``) or the OTLP JSON mapping
(``application/json``: lowerCamelCase field names, trace and span ids in hex, or in base64 as
protobuf's own JSON mapping writes them; a body with no Content-Type that starts with ``{`` is
JSON, as the Humanloop SDK sends it). A gzip ``Content-Encoding`` is accepted. The Humanloop
SDK's spans are read by :mod:`promptrail.otel.ingest._humanloop`. GenAI spans become promptrail
records through :func:`records_from_spans` (the conversion the live
:class:`~promptrail.GenAiSpanProcessor` uses), including the spans of promptrail's own
:class:`~promptrail.OtelBridge` from another process; other spans are ignored. Records go into
the receiver's store.

Answers as an OTLP collector does: 200 with an empty ``ExportTraceServiceResponse`` (protobuf, or
``{}`` in JSON; ``partial_success`` says how many GenAI spans could not be converted); errors as
a ``google.rpc.Status`` in the request's encoding: 401 (key missing or wrong: ``X-API-KEY`` or
``Authorization: Bearer``), 413 (body, or decompressed body, over the limit), 415 (content type or
encoding not supported), 400 (undecodable body), 503 with ``Retry-After`` (store locked: OTLP
exporters retry it).

``opentelemetry-proto`` and ``opentelemetry-sdk`` (both in the ``promptrail[server]`` extra) are
imported on the first OTLP request, not when the app is built.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import zlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from promptrail._record.models import LogRecord
from promptrail._runtime import errors as _errors
from promptrail.server._openapi import error_responses, otlp_body
from promptrail.stores._base import Store, StoreUnavailableError

if TYPE_CHECKING:
    from google.protobuf.message import Message
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["OTLP_TRACES_PATHS", "add_otlp_routes", "decode_request", "spans_from_request"]

_M = TypeVar("_M", bound="Message")

OTLP_TRACES_PATHS = ("/v1/traces", "/v5/import/otel/v1/traces")
"""The paths that accept OTLP/HTTP trace exports."""

_PROTOBUF_TYPES = frozenset({"application/x-protobuf", "application/protobuf"})
_JSON_TYPE = "application/json"
# google.rpc.Code for the HTTP statuses this endpoint answers with.
_RPC_CODES = {400: 3, 401: 16, 413: 8, 415: 3, 500: 13, 503: 14}
_ID_KEYS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")
_LINK_ID_KEYS = ("traceId", "trace_id", "spanId", "span_id")


class OtlpError(Exception):
    """A request the endpoint refuses: HTTP status and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def status_response(status: int, message: str, *, as_json: bool) -> Response:
    """An OTLP error response: a ``google.rpc.Status`` (code, message) in the request's encoding."""
    code = _RPC_CODES.get(status, 2)
    headers = {"Retry-After": "1"} if status == 503 else None
    if as_json:
        body = json.dumps({"code": code, "message": message}).encode()
        return Response(body, status, headers=headers, media_type=_JSON_TYPE)
    # google.rpc.Status is not in opentelemetry-proto: its two fields are encoded by hand
    # (field 1 code: varint; field 2 message: length-delimited UTF-8).
    text = message.encode()
    body = b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text
    return Response(body, status, headers=headers, media_type="application/x-protobuf")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_request(
    request: Request,
    *,
    key_ok: Callable[[Mapping[str, str]], bool],
    read_body: Callable[[Request, int], Any],
    max_body_bytes: int,
    protobuf_without_type: bool,
) -> tuple[bytes, bool] | Response:
    """Check an OTLP/HTTP request's key and Content-Type, then read and decompress its body.

    A body without a Content-Type (the Humanloop SDK's upload) is JSON when it starts with
    ``{``; otherwise protobuf if ``protobuf_without_type``, else 415.

    Returns:
        ``(body, as_json)``, or the error answer to send.
    """
    media = _media_type(request)
    as_json = media == _JSON_TYPE
    if not key_ok(request.headers):
        message = "missing or invalid API key (X-API-KEY or Authorization: Bearer)"
        return status_response(401, message, as_json=as_json)
    if media and not as_json and media not in _PROTOBUF_TYPES:
        message = f"unsupported Content-Type {media!r} (use application/x-protobuf or {_JSON_TYPE})"
        return status_response(415, message, as_json=True)
    try:
        raw = await read_body(request, max_body_bytes)
    except HTTPException as exc:
        return status_response(exc.status_code, str(exc.detail), as_json=as_json)
    try:
        raw = decompress(raw, request.headers.get("content-encoding"), max_body_bytes)
    except OtlpError as exc:
        return status_response(exc.status, exc.message, as_json=as_json)
    if not media:
        as_json = raw.lstrip()[:1] == b"{"
        if not as_json and not protobuf_without_type:
            return status_response(415, "no Content-Type and not a JSON body", as_json=True)
    return raw, as_json


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip, deflate or none), refusing output over ``limit`` bytes.

    Raises:
        OtlpError: 415 for an unknown encoding, 400 for a corrupt stream, 413 when too large.
    """
    name = (encoding or "identity").strip().lower()
    if name == "identity":
        return body
    if name in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif name == "deflate":
        wbits = zlib.MAX_WBITS
    else:
        raise OtlpError(415, f"unsupported Content-Encoding {name!r} (use gzip or none)")
    decoder = zlib.decompressobj(wbits)
    try:
        out = decoder.decompress(body, limit + 1)  # never inflate more than the limit allows
    except zlib.error as exc:
        raise OtlpError(400, f"could not decompress the body: {exc}") from None
    if len(out) > limit:
        raise OtlpError(413, f"decompressed request body larger than {limit} bytes")
    if not decoder.eof:
        raise OtlpError(400, "could not decompress the body: truncated stream")
    return out


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def hex_ids_to_base64(container: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Rewrite ``container``'s ids for protobuf's JSON parser, which reads base64.

    OTLP/JSON ids are hex; protobuf's JSON mapping (what ``MessageToJson`` writes) base64.

    A trace id is 16 bytes, a span id 8: 32 or 16 hex digits, or 24 or 12 base64 characters
    (padded; 22 or 11 unpadded). An id of hex length made only of hex digits is hex; any other
    id is taken as base64, as protobuf's parser expects.
    """
    for key in keys:
        value = container.get(key)
        if isinstance(value, str) and value:
            size = 16 if key.startswith("trace") else 8
            if len(value) != 2 * size or not _HEX_DIGITS.issuperset(value):
                _check_base64(key, value, size)
                continue
            container[key] = base64.b64encode(bytes.fromhex(value)).decode()


def _check_base64(key: str, value: str, size: int) -> None:
    padded = (value + "=" * (-len(value) % 4)).replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(padded, validate=True)  # standard or URL-safe alphabet
    except ValueError:
        decoded = b""
    if len(decoded) != size:
        msg = f"{key} is neither {2 * size} hex digits nor {size} bytes in base64"
        raise OtlpError(400, msg)


def dicts(container: Any, *keys: str) -> list[dict[str, Any]]:
    """The objects in the list under the first of ``keys`` that ``container`` has."""
    if not isinstance(container, dict):
        return []
    for key in keys:
        value = container.get(key)
        if isinstance(value, list):
            return [item for item in value if isinstance(item, dict)]
    return []


def decode_request(body: bytes, *, as_json: bool) -> ExportTraceServiceRequest:
    """Decode an OTLP/HTTP trace export (binary protobuf, or the OTLP JSON mapping).

    Raises:
        OtlpError: 400 if the body cannot be decoded.
    """
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    def span_ids(data: dict[str, Any]) -> None:
        for resource_spans in dicts(data, "resourceSpans", "resource_spans"):
            for scope_spans in dicts(resource_spans, "scopeSpans", "scope_spans"):
                for span in dicts(scope_spans, "spans"):
                    hex_ids_to_base64(span, _ID_KEYS)
                    for link in dicts(span, "links"):
                        hex_ids_to_base64(link, _LINK_ID_KEYS)

    return decode_export(body, ExportTraceServiceRequest(), as_json=as_json, hex_ids=span_ids)


def decode_export(
    body: bytes, message: _M, *, as_json: bool, hex_ids: Callable[[dict[str, Any]], None]
) -> _M:
    """Decode an OTLP/HTTP export into ``message``: binary protobuf, or the OTLP JSON mapping.

    ``hex_ids`` turns the JSON's hex ids into the base64 the protobuf JSON parser reads.

    Raises:
        OtlpError: 400 if the body cannot be decoded.
    """
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError

    if not as_json:
        try:
            message.ParseFromString(body)
        except (DecodeError, ValueError, RecursionError) as exc:
            raise OtlpError(400, f"invalid protobuf body: {exc}") from None
        return message
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise OtlpError(400, f"invalid JSON body: {exc}") from None
    if not isinstance(data, dict):
        raise OtlpError(400, "invalid JSON body: expected an object")
    hex_ids(data)
    try:
        # Unknown fields are ignored, as the OTLP spec asks of JSON receivers.
        json_format.ParseDict(data, message, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise OtlpError(400, f"invalid OTLP JSON: {exc}") from None
    return message


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return tuple(_value(v) for v in value.array_value.values)
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, which)


def _attributes(pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kv: KeyValue
    for kv in pairs:
        converted = _value(kv.value)
        if converted is not None:
            out[kv.key] = converted
    return out


def spans_from_request(request: ExportTraceServiceRequest) -> list[ReadableSpan]:
    """The spans of an OTLP export as SDK ``ReadableSpan`` objects (what the ingest converts).

    Spans without a valid trace or span id are dropped.
    """
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    spans: list[ReadableSpan] = []
    for resource_spans in request.resource_spans:
        resource = Resource(_attributes(resource_spans.resource.attributes))
        for scope_spans in resource_spans.scope_spans:
            scope = InstrumentationScope(scope_spans.scope.name, scope_spans.scope.version or None)
            for span in scope_spans.spans:
                trace_id = int.from_bytes(span.trace_id, "big")
                span_id = int.from_bytes(span.span_id, "big")
                if (
                    len(span.trace_id) != 16
                    or len(span.span_id) != 8
                    or not trace_id
                    or not span_id
                ):
                    continue
                context = SpanContext(
                    trace_id, span_id, is_remote=True, trace_flags=TraceFlags(span.flags & 0xFF)
                )
                parent_id = int.from_bytes(span.parent_span_id, "big")
                parent = None
                if len(span.parent_span_id) == 8 and parent_id:
                    parent = SpanContext(trace_id, parent_id, is_remote=True)
                code = span.status.code
                if code == StatusCode.ERROR.value:
                    status = Status(StatusCode.ERROR, span.status.message or None)
                else:
                    status = Status(
                        StatusCode.OK if code == StatusCode.OK.value else StatusCode.UNSET
                    )
                events = [
                    Event(e.name, _attributes(e.attributes), e.time_unix_nano or None)
                    for e in span.events
                ]
                kind = SpanKind(span.kind - 1) if 1 <= span.kind <= 5 else SpanKind.INTERNAL
                spans.append(
                    ReadableSpan(
                        name=span.name,
                        context=context,
                        parent=parent,
                        resource=resource,
                        attributes=_attributes(span.attributes),
                        events=events,
                        kind=kind,
                        status=status,
                        start_time=span.start_time_unix_nano,
                        end_time=span.end_time_unix_nano or None,
                        instrumentation_scope=scope,
                    )
                )
    return spans


def _convert(
    body: bytes, as_json: bool
) -> tuple[list[LogRecord], list[ReadableSpan], int, list[str]]:
    """Decode a body into records and the Humanloop SDK's spans (stored apart).

    Also returns how many spans were dropped (no valid ids) and why GenAI spans failed.
    """
    from promptrail.otel.ingest._humanloop import is_humanloop_span
    from promptrail.otel.ingest._processor import records_from_spans

    message = decode_request(body, as_json=as_json)
    spans = spans_from_request(message)
    sent = sum(len(s.spans) for r in message.resource_spans for s in r.scope_spans)
    dropped = sent - len(spans)  # no valid trace or span id
    humanloop = [span for span in spans if is_humanloop_span(span)]
    failures: list[str] = []
    records = records_from_spans(
        [span for span in spans if not is_humanloop_span(span)],
        include_bridge=True,
        on_error=_rejected(failures),
    )
    return records, humanloop, dropped, failures


def _rejected(failures: list[str]) -> Callable[[ReadableSpan, Exception], None]:
    def rejected(span: ReadableSpan, exc: Exception) -> None:
        failures.append(f"span {span.name!r}: {type(exc).__name__}")
        _errors.report("otlp:convert", exc, "could not convert an OTLP span", internal=False)

    return rejected


def _store(store: Store, records: list[LogRecord], humanloop: list[ReadableSpan]) -> list[str]:
    """Store the records and the Humanloop SDK's spans' logs; the failures of the latter."""
    from promptrail.otel.ingest._humanloop import store_humanloop_spans

    if records:
        store.insert(records)
    failures: list[str] = []
    if humanloop:
        store_humanloop_spans(store, humanloop, on_error=_rejected(failures))
    return failures


def success_response(
    response: Callable[[], Any], rejected: int, error: str, *, kind: str, as_json: bool
) -> Response:
    """An OTLP export's 200 answer: empty, or ``partial_success`` counting what was rejected.

    Args:
        response: Makes the empty protobuf answer (``ExportTraceServiceResponse`` and the like;
            imported only for a protobuf request).
        rejected: How many items were rejected.
        error: Why, for ``error_message``.
        kind: What the items are, as OTLP names them (``spans``, ``log_records``).
        as_json: Answer in OTLP/JSON rather than protobuf.
    """
    if as_json:
        body: dict[str, Any] = {}
        if rejected:
            field = "rejected" + "".join(part.title() for part in kind.split("_"))
            body["partialSuccess"] = {field: str(rejected), "errorMessage": error}
        return Response(json.dumps(body).encode(), media_type=_JSON_TYPE)
    message = response()
    if rejected:
        setattr(message.partial_success, f"rejected_{kind}", rejected)
        message.partial_success.error_message = error
    return Response(message.SerializeToString(), media_type="application/x-protobuf")


def _trace_response() -> Any:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    return ExportTraceServiceResponse()


def add_otlp_routes(
    app: FastAPI,
    *,
    store: Store,
    key_ok: Callable[[Mapping[str, str]], bool],
    read_body: Callable[[Request, int], Any],
    max_body_bytes: int,
    join: Callable[[list[LogRecord]], list[LogRecord]] | None = None,
) -> None:
    """Add ``POST`` on :data:`OTLP_TRACES_PATHS` to ``app``, storing GenAI spans in ``store``.

    Args:
        app: The receiver app.
        store: Where the records go.
        key_ok: Whether a request's headers carry a valid key.
        read_body: The receiver's bounded body reader (raises 413 ``HTTPException``).
        max_body_bytes: The limit, for the body as sent and once decompressed.
        join: Given the records of a request before they are stored (the GenAI events that
            came before their span go into its log).
    """

    async def otlp_traces(request: Request) -> Response:
        got = await read_request(
            request,
            key_ok=key_ok,
            read_body=read_body,
            max_body_bytes=max_body_bytes,
            protobuf_without_type=False,
        )
        if isinstance(got, Response):
            return got
        raw, as_json = got
        try:
            records, humanloop, dropped, failures = await run_in_threadpool(_convert, raw, as_json)
        except OtlpError as exc:
            return status_response(exc.status, exc.message, as_json=as_json)
        if join is not None:
            records = await run_in_threadpool(join, records)
        if records or humanloop:
            try:
                failures += await run_in_threadpool(_store, store, records, humanloop)
            except (StoreUnavailableError, sqlite3.OperationalError):
                # Locked past the busy timeout, or the database is down: the exporter retries.
                return status_response(503, "the store is busy", as_json=as_json)
        notes = [f"{dropped} span(s) without a valid trace or span id"] if dropped else []
        error = "; ".join(notes + failures[:1])
        return success_response(
            _trace_response, dropped + len(failures), error, kind="spans", as_json=as_json
        )

    for path in OTLP_TRACES_PATHS:
        app.add_api_route(
            path,
            otlp_traces,
            methods=["POST"],
            summary="Receive OTLP/HTTP traces",
            include_in_schema=True,
            responses=error_responses(400, 401, 408, 413, 415, 503),
            openapi_extra=otlp_body(),
        )
