"""OpenTelemetry → promptrail: GenAI spans from any instrumentation become promptrail logs.

:class:`GenAiSpanProcessor` is an OpenTelemetry **SDK** span processor (it needs
``opentelemetry-sdk``)::

    provider.add_span_processor(promptrail.GenAiSpanProcessor())

Each finished span that carries GenAI attributes (``gen_ai.operation.name``,
``gen_ai.provider.name``/``gen_ai.system``, ``gen_ai.request.model``, OpenLLMetry's
``llm.request.type``/``traceloop.span.kind``) becomes a log: ``prompt`` for model calls,
``tool`` for ``execute_tool``, ``flow`` for agents and workflows. Other spans are ignored, and so
are the spans of promptrail's own :class:`OtelBridge` (they already are logs).

Parents come from the span tree: a log's ``trace_parent_id`` is the log of its nearest ancestor
span that is a GenAI span (or a promptrail bridge span, whose log id it carries), skipping app
spans in between; ``trace_id`` is the log id of the topmost such ancestor. A span's log id is a
UUIDv7 made from its start time and a hash of its OTel trace and span ids, so the same span always
gets the same id and a child can name its parent before the parent ends.

On the app's thread the processor only records span starts (span id → parent) and, for GenAI
spans, works out the parent links; converting the span into a record happens in promptrail's
export worker. Records go to promptrail's configured processors, so they land in the same stores.

Instrumentations that put messages in log events instead of on the span (the official OpenAI
instrumentation's default mode) are read through :meth:`GenAiSpanProcessor.event_processor`, an
SDK log record processor: events wait (bounded) for their span to end and go into its log.
"""

from __future__ import annotations

import collections
import hashlib
import threading
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.sdk._logs import LogRecordProcessor
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from promptrail._record.models import LogRecord
from promptrail._runtime.state import STATE, Settings
from promptrail.pipeline._configure import flush
from promptrail.pipeline._emit import ExternalLog, emit

__all__ = ["GenAiSpanProcessor", "records_from_spans", "span_log_id"]
from promptrail.otel.ingest._events import GenAiEvent, amend, is_genai_event
from promptrail.otel.ingest._genai import genai_kind, is_bridge, span_error, span_path, span_record

_MASK_62 = (1 << 62) - 1
_MAX_LIVE = 100_000  # spans started and not ended (an app leaking spans must not leak memory)


def span_log_id(trace_id: int, span_id: int, start_ns: int) -> str:
    """The promptrail log id of an OTel span: a UUIDv7 of its start time and ids (deterministic)."""
    digest = hashlib.blake2b(f"{trace_id:032x}{span_id:016x}".encode(), digest_size=8).digest()
    low = int.from_bytes(digest, "big") & _MASK_62
    ms, sub_ns = divmod(start_ns, 1_000_000)
    sub = (sub_ns * 4096) // 1_000_000
    value = (ms & 0xFFFFFFFFFFFF) << 80 | 0x7 << 76 | sub << 64 | 0b10 << 62 | low
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class _Node:
    """What the processor remembers of one span: its parent and, if it is a log, its ids."""

    __slots__ = ("log_id", "parent", "span", "trace_id")

    def __init__(self, parent: int | None, span: Span | None) -> None:
        self.parent = parent
        self.span = span  # the live span while it runs (its attributes may still grow)
        self.log_id: str | None = None
        self.trace_id: str | None = None  # known for bridge spans: promptrail's own trace id


class GenAiSpanProcessor(SpanProcessor):
    """Turn finished GenAI spans (from any instrumentation) into promptrail logs.

    Add it to an SDK ``TracerProvider``; the logs go to promptrail's pipeline (what
    ``promptrail.configure()`` set up, else the default SQLite store)::

        from opentelemetry.sdk.trace import TracerProvider

        provider = TracerProvider()
        provider.add_span_processor(promptrail.GenAiSpanProcessor())

    Needs ``opentelemetry-sdk``. Spans of promptrail's own :class:`OtelBridge` are never turned
    into logs (no loop), but they still parent the GenAI spans started inside them.

    Args:
        max_ended: How many ended GenAI spans to remember for children that end after their
            parent (fire-and-forget tasks).

    .. versionadded:: 0.1.0
    """

    def __init__(self, *, max_ended: int = 4096) -> None:
        self._lock = threading.Lock()
        self._live: dict[int, _Node] = {}
        self._ended: collections.OrderedDict[int, _Node] = collections.OrderedDict()
        self._max_ended = max_ended
        # (trace id, span id) → GenAI log events waiting for their span to end.
        self._events: collections.OrderedDict[tuple[int, int], list[GenAiEvent]] = (
            collections.OrderedDict()
        )

    def event_processor(self) -> LogRecordProcessor:
        """An SDK log record processor that puts GenAI log events into their span's log.

        For instrumentations that send messages as log events (``gen_ai.user.message``,
        ``gen_ai.choice``, ...) rather than on the span, such as the official OpenAI
        instrumentation in its default mode::

            from opentelemetry.sdk._logs import LoggerProvider

            logger_provider = LoggerProvider()
            logger_provider.add_log_record_processor(processor.event_processor())
            OpenAIInstrumentor().instrument(
                tracer_provider=provider, logger_provider=logger_provider
            )

        Events wait for their span to end (at most ``max_ended`` spans' worth); other log
        records are ignored.

        .. versionadded:: 0.1.0
        """
        return _EventProcessor(self)

    def _add_event(self, key: tuple[int, int], event: GenAiEvent) -> None:
        with self._lock:
            events = self._events.get(key)
            if events is None:
                events = self._events[key] = []
                if len(self._events) > self._max_ended:
                    self._events.popitem(last=False)
            if len(events) < 1000:
                events.append(event)

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        """Remember the span's parent (every span: an app span may sit between two logs)."""
        parent = span.parent
        node = _Node(parent.span_id if parent is not None else None, span)
        with self._lock:
            live = self._live
            live[span.context.span_id] = node
            if len(live) > _MAX_LIVE:
                del live[next(iter(live))]

    def on_end(self, span: ReadableSpan) -> None:
        """Emit a log if ``span`` is a GenAI span (and not one of promptrail's)."""
        ctx = span.context
        with self._lock:
            node = self._live.pop(ctx.span_id, None)
        if node is None:  # started before this processor was added
            parent = span.parent
            node = _Node(parent.span_id if parent is not None else None, None)
        node.span = None
        node.log_id, node.trace_id = _ended_ids(span)
        if node.log_id is None:
            return  # not a log: an app span, or a bridge span that is not recording
        self._remember(ctx.span_id, node)
        attrs = span.attributes or {}
        kind = genai_kind(attrs)
        if kind is None or is_bridge(span):
            return  # promptrail's own span: already a log (no loop)
        log_id = node.log_id
        start_ns = span.start_time or 0
        with self._lock:
            parent_id, trace_id = _walk(self._resolve, node.parent)
            events = self._events.pop((ctx.trace_id, ctx.span_id), None)
        error = span_error(span)

        def build(settings: Settings) -> LogRecord:
            record = span_record(span, kind, log_id, trace_id or log_id, parent_id, error, settings)
            return amend(record, events, settings) if events else record

        log = ExternalLog(
            path=span_path(kind, attrs, span.name),
            kind=kind,
            log_id=log_id,
            trace_id=trace_id or log_id,
            trace_parent_id=parent_id,
            start_ns=start_ns,
            build=build,
            error=error,
        )
        emit((log,))

    def shutdown(self) -> None:
        """Forget every span."""
        with self._lock:
            self._live.clear()
            self._ended.clear()
            self._events.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Flush promptrail's pipeline (where this processor's logs went)."""
        return flush(timeout_millis / 1000)

    # -- the span tree ------------------------------------------------------------------------

    def _remember(self, span_id: int, node: _Node) -> None:
        with self._lock:
            self._ended[span_id] = node
            if len(self._ended) > self._max_ended:
                self._ended.popitem(last=False)

    def _resolve(self, span_id: int) -> _Node | None:
        """The node of a span, its ids read now if it still runs (attributes may have grown)."""
        node = self._live.get(span_id)
        if node is None:
            return self._ended.get(span_id)
        if node.span is not None:
            node.log_id, node.trace_id = _ended_ids(node.span)
        return node


class _EventProcessor(LogRecordProcessor):
    """Hands the GenAI log events emitted in this process to a :class:`GenAiSpanProcessor`."""

    def __init__(self, spans: GenAiSpanProcessor) -> None:
        self._spans = spans

    def on_emit(self, log_record: Any) -> None:
        """Keep a GenAI event (one with a span) for its span's log."""
        record = getattr(log_record, "log_record", log_record)  # ReadWriteLogRecord or LogData
        name = getattr(record, "event_name", None)
        attrs = getattr(record, "attributes", None) or {}
        if not name:
            name = attrs.get("event.name")
        trace_id, span_id = getattr(record, "trace_id", None), getattr(record, "span_id", None)
        if not isinstance(name, str) or not is_genai_event(name) or not trace_id or not span_id:
            return
        self._spans._add_event((trace_id, span_id), GenAiEvent(name, record.body))

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here beyond what waits for its span."""
        return True


def records_from_spans(
    spans: Iterable[ReadableSpan],
    settings: Settings | None = None,
    *,
    include_bridge: bool = False,
    on_error: Callable[[ReadableSpan, Exception], None] | None = None,
) -> list[LogRecord]:
    """Convert a batch of finished spans (e.g. one OTLP request) into promptrail records.

    Parent links are resolved within the batch, like :class:`GenAiSpanProcessor` does live:
    ``trace_parent_id`` is the log of the nearest GenAI (or promptrail bridge) ancestor,
    ``trace_id`` that of the topmost one. An ancestor that is not in the batch ends the walk, so
    a child exported in an earlier batch than its parent becomes a root. Non-GenAI spans make no
    record.

    Args:
        spans: Finished SDK ``ReadableSpan`` objects, in any order.
        settings: Environment, limits and redaction; default: promptrail's current settings.
        include_bridge: Also turn the spans of promptrail's own :class:`OtelBridge` into records
            (a receiver in another process: there they are not logs yet). Their log id, trace
            id, parent and path come from their ``promptrail.*`` attributes, so they need no
            batch context. Off by default, as in the live processor (no loop).
        on_error: Called with a span whose record cannot be built (say, an attribute of the
            wrong shape), which is then skipped; without it the error is raised.

    .. versionadded:: 0.1.0
    """
    if settings is None:
        settings = STATE.settings
    batch = list(spans)
    nodes: dict[int, _Node] = {}
    for span in batch:
        parent = span.parent
        node = _Node(parent.span_id if parent is not None else None, None)
        node.log_id, node.trace_id = _ended_ids(span)
        nodes[span.context.span_id] = node
    records: list[LogRecord] = []
    for span in batch:
        attrs = span.attributes or {}
        kind = genai_kind(attrs)
        if kind is None:
            continue
        node = nodes[span.context.span_id]
        log_id = node.log_id or ""
        parent_id, trace_id = _walk(nodes.get, node.parent)
        if is_bridge(span):
            if not include_bridge or node.log_id is None:
                continue
            own_parent = attrs.get("promptrail.parent_id")
            parent_id = own_parent if isinstance(own_parent, str) else parent_id
            trace_id = node.trace_id or trace_id
        try:
            record = span_record(
                span, kind, log_id, trace_id or log_id, parent_id, span_error(span), settings
            )
        except Exception as exc:
            if on_error is None:
                raise
            on_error(span, exc)
            continue
        records.append(record)
    return records


def _ended_ids(span: ReadableSpan) -> tuple[str | None, str | None]:
    """The log id of a finished span (and promptrail's trace id, for bridge spans)."""
    attrs = span.attributes or {}
    if is_bridge(span):
        log_id, trace_id = attrs.get("promptrail.log_id"), attrs.get("promptrail.trace_id")
        return (
            log_id if isinstance(log_id, str) else None,
            trace_id if isinstance(trace_id, str) else None,
        )
    if genai_kind(attrs) is None:
        return None, None
    ctx = span.context
    return span_log_id(ctx.trace_id, ctx.span_id, span.start_time or 0), None


def _walk(
    lookup: Callable[[int], _Node | None], parent: int | None
) -> tuple[str | None, str | None]:
    """Walk up from ``parent``: the nearest log id, and the trace id (topmost log's id)."""
    nearest: str | None = None
    top: str | None = None
    for _ in range(1000):
        if parent is None:
            break
        node = lookup(parent)
        if node is None:
            break
        if node.log_id is not None:
            if nearest is None:
                nearest = node.log_id
            if node.trace_id is not None:  # a bridge span knows its trace
                return nearest, node.trace_id
            top = node.log_id
        parent = node.parent
    return nearest, top
