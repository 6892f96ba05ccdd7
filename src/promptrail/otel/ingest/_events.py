"""GenAI log events: the messages an instrumentation sends as OpenTelemetry logs, not on the span.

The official OpenAI instrumentation (``opentelemetry-instrumentation-openai-v2``) in its default
mode emits one log event per message (``gen_ai.system.message``, ``gen_ai.user.message``,
``gen_ai.assistant.message``, ``gen_ai.tool.message``) and one per answer (``gen_ai.choice``),
each carrying the trace and span id of the model call's span, which has no messages of its own.
:func:`amend` puts a span's events into its log. :class:`EventJoin` pairs events with the span's
log when the two arrive separately (over OTLP, in either order): events wait for their span for
a bounded time and number of spans, and events for a span whose log is already stored say which
log to update.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from promptrail._record import serialize as _serialize
from promptrail._record.models import ChatMessage, LogRecord
from promptrail._runtime.state import Settings
from promptrail.otel._bridge import OTEL_SPAN_ID, OTEL_TRACE_ID

__all__ = [
    "EVENT_ROLES",
    "EventJoin",
    "GenAiEvent",
    "amend",
    "event_messages",
    "is_genai_event",
    "span_key",
]

EVENT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
"""The input message events, by the role they stand for."""

CHOICE = "gen_ai.choice"
_MAX_EVENTS_PER_SPAN = 1000

SpanKey = tuple[str, str]
"""A span's OTel trace id and span id, in hex."""


@dataclass(frozen=True)
class GenAiEvent:
    """One GenAI log event: its name and body (the OTLP ``AnyValue`` as plain Python)."""

    name: str
    body: Any


def is_genai_event(name: str) -> bool:
    """Whether a log event of this name carries a GenAI message or answer."""
    return name in EVENT_ROLES or name == CHOICE


def _text(content: Any) -> Any:
    """An event's ``content``: a string, or a list of parts (text parts joined when only text)."""
    if isinstance(content, (list, tuple)):
        parts = [
            dict(p) if isinstance(p, Mapping) else {"type": "text", "text": str(p)} for p in content
        ]
        if all(p.get("type") == "text" for p in parts):
            return "".join(str(p.get("text", p.get("content", ""))) for p in parts)
        return parts
    if content is None or isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False)


def _tool_calls(raw: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    for call in raw if isinstance(raw, (list, tuple)) else ():
        if not isinstance(call, Mapping):
            continue
        function = call.get("function")
        function = function if isinstance(function, Mapping) else {}
        arguments = function.get("arguments", "")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        calls.append(
            {
                "id": str(call.get("id") or ""),
                "type": "function",
                "function": {"name": str(function.get("name", "")), "arguments": arguments},
            }
        )
    return calls


def _message(role: str, body: Mapping[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": role}
    content = _text(body.get("content"))
    if content is not None:
        message["content"] = content
    calls = _tool_calls(body.get("tool_calls"))
    if calls:
        message["tool_calls"] = calls
    if role == "tool" and body.get("id"):
        message["tool_call_id"] = str(body["id"])
    return message


def event_messages(
    events: Iterable[GenAiEvent],
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, str | None]:
    """Input messages, the first choice's message and its finish reason, from a span's events."""
    inputs: list[dict[str, Any]] = []
    output: dict[str, Any] | None = None
    finish: str | None = None
    for event in events:
        body = event.body if isinstance(event.body, Mapping) else {}
        role = EVENT_ROLES.get(event.name)
        if role is not None:
            inputs.append(_message(role, body))
        elif event.name == CHOICE and output is None and body.get("index", 0) in (0, "0"):
            raw = body.get("message")
            raw = raw if isinstance(raw, Mapping) else {}
            output = _message("assistant", raw)
            reason = body.get("finish_reason")
            finish = reason if isinstance(reason, str) and reason else None
    return inputs, output, finish


def amend(record: LogRecord, events: Iterable[GenAiEvent], settings: Settings) -> LogRecord:
    """``record`` with the messages, answer and finish reason its span's events carry."""
    inputs, output, finish = event_messages(events)

    def clean(value: Any) -> Any:
        return _serialize.to_jsonable(value, limits=settings.limits, redactor=settings.redactor)

    update: dict[str, Any] = {}
    if inputs:
        update["messages"] = [ChatMessage.model_validate(m) for m in clean(inputs)]
    if output is not None:
        message = ChatMessage.model_validate(clean(output))
        update["output_message"] = message
        if isinstance(message.content, str):
            update["output"] = message.content
    if finish is not None and record.finish_reason is None:
        update["finish_reason"] = finish
    return record.model_copy(update=update) if update else record


def span_key(record: LogRecord) -> SpanKey | None:
    """The OTel span a record was made from, if it was."""
    trace_id, span_id = record.metadata.get(OTEL_TRACE_ID), record.metadata.get(OTEL_SPAN_ID)
    if isinstance(trace_id, str) and isinstance(span_id, str):
        return trace_id, span_id
    return None


class _Entry:
    __slots__ = ("events", "log_id", "seen")

    def __init__(self, seen: float) -> None:
        self.events: list[GenAiEvent] = []
        self.log_id: str | None = None
        self.seen = seen


class EventJoin:
    """Pairs GenAI events with their span's log, whichever arrives first (bounded memory).

    Args:
        max_spans: How many spans (waiting events, or logs that may still get events) to keep;
            the oldest are forgotten first.
        max_age: Seconds after which a span's entry is forgotten.
        clock: Monotonic seconds (a test's own clock).
    """

    def __init__(
        self,
        *,
        max_spans: int = 10_000,
        max_age: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[SpanKey, _Entry] = collections.OrderedDict()
        self._max_spans = max_spans
        self._max_age = max_age
        self._clock = clock
        self.dropped_events = 0
        """Events forgotten before their span's log was seen (too old, or too many spans)."""

    def _entry(self, key: SpanKey) -> _Entry:
        now = self._clock()
        entries = self._entries
        while entries:
            oldest_key, oldest = next(iter(entries.items()))
            if len(entries) < self._max_spans and now - oldest.seen <= self._max_age:
                break
            del entries[oldest_key]
            if oldest.log_id is None:
                self.dropped_events += len(oldest.events)
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = _Entry(now)
        return entry

    def add_events(
        self, key: SpanKey, events: Iterable[GenAiEvent]
    ) -> tuple[str, list[GenAiEvent]] | None:
        """Keep a span's new events; its log id and every event so far when its log is stored."""
        with self._lock:
            entry = self._entry(key)
            room = _MAX_EVENTS_PER_SPAN - len(entry.events)
            entry.events.extend(list(events)[: max(room, 0)])
            if entry.log_id is None:
                return None
            return entry.log_id, list(entry.events)

    def join(self, records: Iterable[LogRecord], settings: Settings) -> list[LogRecord]:
        """The span logs about to be stored, with the events that came before them."""
        out: list[LogRecord] = []
        for record in records:
            key = span_key(record)
            if key is not None:
                with self._lock:
                    entry = self._entry(key)
                    entry.log_id = record.log_id
                    events = list(entry.events)
                if events:
                    record = amend(record, events, settings)
            out.append(record)
        return out
