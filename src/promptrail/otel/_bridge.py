"""The OpenTelemetry bridge: every promptrail log is also a live GenAI span.

:class:`OtelBridge` is a processor (and a :class:`Scope`). Installed with
``promptrail.configure(processors=[OtelBridge()])``, it opens an API span when a log starts, makes
it the current OTel span whenever the log's code runs (the call, each generator step, a
``trace()`` block), and ends it when the log ends. So httpx, openai or database
auto-instrumentation nests under promptrail's span, and promptrail's spans join the app's trace.

Attributes follow the latest OpenTelemetry GenAI semantic conventions (all "Development"):

* a ``prompt`` log is a ``chat {model}`` span (``text_completion`` for ``endpoint="complete"``),
  kind CLIENT; a ``tool`` log is ``execute_tool {name}``, a ``flow`` log
  ``invoke_workflow {path}`` (or ``invoke_agent``), both INTERNAL;
* the sampling-relevant attributes (``gen_ai.operation.name``, ``gen_ai.provider.name``,
  ``gen_ai.request.model``, ``gen_ai.prompt.name`` = path, tool/workflow names) are given at span
  creation, from what is known then (decorator options, a ``model=`` argument);
* the rest (``gen_ai.request.*``, ``gen_ai.response.*``, ``gen_ai.usage.*``,
  ``gen_ai.prompt.version``) is set at the end, **only when the span is recording** (sampled, with
  an SDK installed), from the log's raw fields: what ``update_current()`` set, what the extractors
  read from the return value, decorator options and the call's keyword arguments
  (:func:`raw_attributes`, the same precedence as the record). No record is built for it;
  unsampled calls and API-only installs pay nothing but a no-op span;
* message content (``gen_ai.input.messages``, ``gen_ai.output.messages``,
  ``gen_ai.system_instructions``, ``gen_ai.tool.definitions``, tool call arguments and result) must
  be redacted and bounded exactly like the record, so when it is switched on the bridge builds the
  record with ``log.to_record()`` on the caller's thread (again only for recording spans; about
  0.1 ms per call, the pipeline builds its own copy in the worker) and writes compact JSON strings.
  Off by default: ``OtelBridge(capture_content=True)`` or
  ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (``true``/``SPAN_ONLY``/
  ``SPAN_AND_EVENT``).

Each record's metadata gets ``otel.trace_id`` and ``otel.span_id`` (hex) so both systems can be
correlated. A recording span carries ``promptrail.log_id``, ``promptrail.trace_id``,
``promptrail.path`` and ``promptrail.parent_id``, so a receiver (``promptrail serve``'s OTLP
endpoint) can rebuild the log from the span alone, whatever batch its parent was exported in.
Requires ``opentelemetry-api`` (the ``promptrail[otel]`` extra); without an SDK the spans are
no-ops. promptrail never sets the global tracer provider.

Across services, :func:`promptrail.propagation.inject` and ``extract`` go through OpenTelemetry's
global propagator (``OTEL_PROPAGATORS``; W3C trace context and baggage by default) while the
bridge is configured: the ``traceparent`` is the current span's, and in the called service the
remote span is the parent of the spans started inside the block (unless a server span is
current already, e.g. from OTel's own ASGI instrumentation). So a service traced by OTel's own
instrumentation and one traced by promptrail share one trace.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, StatusCode, TracerProvider

from promptrail._runtime import errors as _errors
from promptrail._runtime.state import STATE
from promptrail._tracing.active import ActiveLog
from promptrail._tracing.spec import CallSpec
from promptrail._version import __version__
from promptrail.exceptions import ConfigurationError
from promptrail.otel._attributes import (
    OPERATION,
    PROVIDER,
    REQUEST_MODEL,
    AttrValue,
    content_attributes,
    raw_attributes,
    response_id_of,
    result_attributes,
    session_attributes,
)
from promptrail.providers import _request as _request

__all__ = ["CAPTURE_CONTENT_ENV", "OTEL_SPAN_ID", "OTEL_TRACE_ID", "SCOPE_NAME", "OtelBridge"]

SCOPE_NAME = "promptrail"
"""The instrumentation scope (tracer name) of the bridge's spans."""

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The environment variable OpenTelemetry's GenAI instrumentations read for content capture."""

_CONTENT_ON = frozenset({"1", "true", "yes", "on", "span_only", "span_and_event"})

OTEL_TRACE_ID = "otel.trace_id"
OTEL_SPAN_ID = "otel.span_id"

FlowOperation = Literal["invoke_workflow", "invoke_agent"]

_Shape = tuple[str, SpanKind, dict[str, AttrValue], bool, Any, Any]
"""Span name (the operation, for prompts), kind, constant attributes, whether the model is read
from the call, the decorator's model and the ``model`` parameter's default."""

_MAX_SHAPES = 1024

_ABSENT: Any = object()


def _env_capture() -> bool:
    value = os.environ.get(CAPTURE_CONTENT_ENV, "")
    return value.strip().lower() in _CONTENT_ON


class OtelBridge:
    """Mirror every promptrail log as a live OpenTelemetry span with GenAI attributes.

    ::

        promptrail.configure(exporters=[...], processors=[promptrail.OtelBridge()])

    The span of a log is the child of the span of the log's promptrail parent, or of the OTel span
    current when the log starts (the app's own tracing), so promptrail's spans join the app's
    trace. While the log's code runs its span is current: spans started inside (httpx, openai,
    DB) nest under it. Needs ``opentelemetry-api``; an SDK (and a provider) decides what is
    recorded and exported.

    Args:
        tracer_provider: Where spans go; default: the global provider at each span (promptrail
            never sets it). Pass an SDK ``TracerProvider`` to keep promptrail's spans apart.
        capture_content: Record message content (``gen_ai.input.messages`` and friends) as JSON
            strings. ``None`` (default) reads ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``
            once, here; off unless it says ``true``, ``SPAN_ONLY`` or ``SPAN_AND_EVENT``.
        flow_operation: The operation of ``flow`` logs: ``"invoke_workflow"`` (default) or
            ``"invoke_agent"``.
        exception_events: Add an ``exception`` span event (type and message) to failed calls,
            besides the ERROR status and ``error.type``.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        capture_content: bool | None = None,
        flow_operation: FlowOperation = "invoke_workflow",
        exception_events: bool = True,
    ) -> None:
        if flow_operation not in ("invoke_workflow", "invoke_agent"):
            msg = f"flow_operation must be invoke_workflow or invoke_agent, not {flow_operation!r}"
            raise ConfigurationError(msg)
        self._tracer = trace.get_tracer(SCOPE_NAME, __version__, tracer_provider=tracer_provider)
        self._capture_content = _env_capture() if capture_content is None else capture_content
        self._flow_operation: FlowOperation = flow_operation
        self._exception_events = exception_events
        # The open span of each log in progress. Keyed by the log itself (identity hash); entries
        # are removed at on_end, so the dict holds only logs still running.
        self._spans: dict[ActiveLog, Span] = {}
        # Per decorated function, what its spans start with (see _shape).
        self._shapes: dict[CallSpec, _Shape] = {}

    @property
    def capture_content(self) -> bool:
        """Whether message content is recorded on spans."""
        return self._capture_content

    # -- processor: start and end -----------------------------------------------------------

    def on_start(self, log: ActiveLog) -> None:
        """Open the log's span (start time = the log's) and store its ids in the metadata."""
        name, kind, attributes = self._creation(log)
        parent_ctx, parent_span = self._parent(log)
        span = self._tracer.start_span(
            name, context=parent_ctx, kind=kind, attributes=attributes, start_time=log.start_ns
        )
        sc = span.get_span_context()
        if not sc.is_valid:
            return  # API only and no trace around: nothing to end, make current or correlate
        self._spans[log] = span
        ids = {OTEL_TRACE_ID: trace.format_trace_id(sc.trace_id)}
        if parent_span is None:
            parent_span = trace.get_current_span(parent_ctx)
        if parent_span.get_span_context().span_id != sc.span_id:  # a span of our own (SDK)
            ids[OTEL_SPAN_ID] = trace.format_span_id(sc.span_id)
        # Plain strings: merge into the log's metadata directly (what log.update would do).
        fields = log.fields
        if fields is None:
            log.fields = {"metadata": ids}
        else:
            fields["metadata"] = {**(fields.get("metadata") or {}), **ids}
        if span.is_recording():
            # What a receiver needs to rebuild the log from this span alone (OTLP ingest), and
            # what the live ingest reads from a running parent: set now, not at the end.
            span.set_attributes(_own_attributes(log))

    def on_end(self, log: ActiveLog) -> None:
        """Set the result attributes (only if the span is recording) and end the span."""
        span = self._spans.pop(log, None)
        if span is None:
            return  # started before this bridge was installed, or not a log of ours
        end_ns = None
        if log.perf_end is not None:
            end_ns = log.start_ns + (log.perf_end - log.perf_start)
        try:
            if span.is_recording():
                self._finish(span, log, end_ns)
        finally:
            span.end(end_time=end_ns)

    def force_flush(self, timeout: float = 30.0) -> bool:
        """Nothing is buffered here (the tracer provider's processors own export)."""
        return True

    def shutdown(self, timeout: float = 30.0) -> None:
        """End the spans of logs still running, marked ``promptrail.incomplete="shutdown"``.

        Their logs' ends go to the processors installed then, not to this bridge: ending the
        spans now keeps them (and the spans nested under them) in the app's traces.
        """
        spans, self._spans = self._spans, {}
        for span in spans.values():
            if span.is_recording():
                span.set_attribute("promptrail.incomplete", "shutdown")
            span.end()

    # -- scope: make the span current while the log's code runs ------------------------------

    def attach(self, log: ActiveLog) -> object:
        """Make the log's span the current OTel span; return the context token."""
        span = self._spans.get(log)
        if span is None:
            return None
        return otel_context.attach(trace.set_span_in_context(span))

    def detach(self, log: ActiveLog, token: object) -> None:
        """Restore the OTel context that was current before :meth:`attach`."""
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]

    # -- propagation: OTel's propagators carry the trace across services ---------------------

    def inject_headers(self, headers: MutableMapping[str, str]) -> None:
        """Write the current OTel context into ``headers`` with the global propagator."""
        propagate.inject(headers)

    def extract_headers(self, headers: Mapping[str, str]) -> object:
        """Make the remote context in ``headers`` current (unless a span is current already)."""
        if trace.get_current_span().get_span_context().is_valid:
            return None  # the app's own server span (OTel instrumentation) is the better parent
        return otel_context.attach(propagate.extract(headers))

    def detach_headers(self, token: object) -> None:
        """Restore the OTel context current before :meth:`extract_headers`."""
        if token is not None:
            otel_context.detach(token)  # type: ignore[arg-type]

    # -- span shape ---------------------------------------------------------------------------

    def _parent(self, log: ActiveLog) -> tuple[otel_context.Context | None, Span | None]:
        """Return the parent context: the promptrail parent's span, or the current OTel span.

        While a parent's code runs its span is current, or a span started inside it (an app span
        between promptrail parent and child), which is the better parent. A current span of
        another trace means the child runs outside its parent's execution (or the app started a
        new trace on purpose inside it): the promptrail parent wins then.
        """
        parent = log.parent
        if parent is None:
            return None, None
        parent_span = self._spans.get(parent)
        if parent_span is None:
            return None, None
        current = trace.get_current_span()
        if current is parent_span:
            return None, parent_span
        current_trace = current.get_span_context().trace_id
        if current_trace == parent_span.get_span_context().trace_id:
            return None, None
        return trace.set_span_in_context(parent_span), parent_span

    def _creation(self, log: ActiveLog) -> tuple[str, SpanKind, dict[str, AttrValue]]:
        """Span name, kind and the attributes known at start (the sampling-relevant ones)."""
        spec = log.spec
        shape = self._shapes.get(spec)
        if shape is None:
            shape = self._shape(spec)
        name, kind, constant, prompt, model, default_model = shape
        attrs = dict(constant)
        if not prompt:
            return name, kind, attrs
        if model is None and log.kwargs:
            model = log.kwargs.get("model")
        if model is None and not log.args:  # a parameter's default
            model = default_model
        if isinstance(model, str):
            attrs[REQUEST_MODEL] = model
            return f"{name} {model}", kind, attrs
        return name, kind, attrs

    def _shape(self, spec: CallSpec) -> _Shape:
        """What the spans of one decorated function share: the start of every call's span."""
        shape: _Shape
        if spec.kind == "prompt":
            prompt = spec.prompt or {}
            operation = "text_completion" if prompt.get("endpoint") == "complete" else "chat"
            attrs: dict[str, AttrValue] = {OPERATION: operation, "gen_ai.prompt.name": spec.path}
            provider = prompt.get("provider")
            if isinstance(provider, str):
                attrs[PROVIDER] = provider
            default = None
            if spec.signature is not None:
                parameter = spec.signature.parameters.get("model")
                if parameter is not None:
                    default = parameter.default
            shape = (operation, SpanKind.CLIENT, attrs, True, prompt.get("model"), default)
        elif spec.kind == "tool":
            tool = spec.path.rsplit("/", 1)[-1]
            attrs = {OPERATION: "execute_tool", "gen_ai.tool.name": tool}
            attrs["gen_ai.tool.type"] = "function"
            shape = (f"execute_tool {tool}", SpanKind.INTERNAL, attrs, False, None, None)
        else:
            operation = self._flow_operation
            key = "gen_ai.workflow.name" if operation == "invoke_workflow" else "gen_ai.agent.name"
            attrs = {OPERATION: operation, key: spec.path}
            shape = (f"{operation} {spec.path}", SpanKind.INTERNAL, attrs, False, None, None)
        if spec.signature is not None:  # a decorated function (each trace() block has its own)
            if len(self._shapes) >= _MAX_SHAPES:  # functions decorated on the fly: bounded
                self._shapes.clear()
            self._shapes[spec] = shape
        return shape

    def _finish(self, span: Span, log: ActiveLog, end_ns: int | None) -> None:
        """Set what is known only at the end: request and response details, errors, content.

        One ``set_attributes`` call (the SDK takes its locks and cleans the values per call),
        without the values the span holds already. What it holds is read from the span, not
        from what the bridge passed at creation: a sampler may create it with other attributes
        (often none), and user code may have changed them since.
        """
        attrs: dict[str, AttrValue] = {}
        error = log.error_text()
        if error is not None:
            type_name, _, message = error.partition(": ")
            # Masked like the record's error: an API key quoted by an exception stays out.
            message = STATE.settings.redactor.mask(message)
            span.set_status(StatusCode.ERROR, message or type_name)
            attrs["error.type"] = type_name
            if self._exception_events:
                event = {"exception.type": type_name, "exception.message": message}
                span.add_event("exception", event, timestamp=end_ns)
        try:
            if not self._capture_content:
                attrs.update(raw_attributes(log))
            else:
                try:
                    record = log.to_record(STATE.settings)
                except Exception as exc:
                    _errors.report(
                        "otel:record", exc, "could not build the record for the span", internal=True
                    )
                    return
                attrs.update(result_attributes(record))
                attrs.update(content_attributes(record))
                if "gen_ai.response.id" not in attrs and log.spec.kind == "prompt":
                    response_id = response_id_of(log)
                    if response_id is not None:
                        attrs["gen_ai.response.id"] = response_id
            attrs.update(session_attributes(log))
        finally:
            model = attrs.get(REQUEST_MODEL)
            if attrs:  # the SDK's set_attributes takes its lock even for none
                held = getattr(span, "attributes", None)  # an SDK span's, read-only
                if held:
                    for key in [k for k, v in attrs.items() if held.get(k, _ABSENT) == v]:
                        del attrs[key]  # the span has it: the SDK would clean it again
                if attrs:
                    span.set_attributes(attrs)
        name = getattr(span, "name", None)
        if isinstance(model, str) and isinstance(name, str) and " " not in name:
            # The model was not known at the start (a parameter default, or chosen in the
            # function's body and sent by an instrumented SDK call): name the span after it.
            span.update_name(f"{name} {model}")


def _own_attributes(log: ActiveLog) -> dict[str, AttrValue]:
    """The ids and path of a log: what a receiver needs to rebuild it from its span alone."""
    own: dict[str, AttrValue] = {
        "promptrail.log_id": log.log_id,
        "promptrail.trace_id": log.trace_id,
        "promptrail.path": log.spec.path,
    }
    parent_id = log.trace_parent_id
    if parent_id is not None:
        own["promptrail.parent_id"] = parent_id
    return own


# -- record → attributes ---------------------------------------------------------------------
