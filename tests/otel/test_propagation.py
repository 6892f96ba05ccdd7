"""With the bridge on, inject/extract go through OpenTelemetry's global propagator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import propagate
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import promptrail
from promptrail.exporters import InMemoryExporter
from promptrail.otel._bridge import OtelBridge
from promptrail.propagation import extract, inject


class Bridged:
    """The bridge on a local provider (never the global one), next to an in-memory exporter."""

    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.records = InMemoryExporter()
        bridge = OtelBridge(tracer_provider=self.provider)
        promptrail.configure(processors=[promptrail.SimpleProcessor(self.records), bridge])

    def span(self, name: str) -> otel_trace.Span:
        (span,) = [s for s in self.spans.get_finished_spans() if s.name.endswith(name)]
        return span  # type: ignore[return-value]


@pytest.fixture(name="bridged")
def fixture_bridged() -> Iterator[Bridged]:
    """promptrail with the bridge configured."""
    bridged = Bridged()
    yield bridged
    bridged.provider.shutdown()


@promptrail.log_tool(path="svc-b/lookup")
def lookup(key: str) -> str:
    """The called service's work."""
    return key.upper()


def test_traceparent_is_the_current_spans_and_baggage_names_the_log(bridged: Bridged) -> None:
    """inject() writes OTel's traceparent (the log's span) plus promptrail's baggage entries."""
    with promptrail.trace(path="svc-a/turn", session_id="s-1") as t:
        current = otel_trace.get_current_span().get_span_context()
        headers = inject({})
    traceparent = headers["traceparent"]
    assert traceparent.startswith(
        f"00-{otel_trace.format_trace_id(current.trace_id)}-"
        f"{otel_trace.format_span_id(current.span_id)}-"
    )
    assert f"promptrail.parent={t.log_id}" in headers["baggage"]
    assert f"promptrail.tp={otel_trace.format_trace_id(current.trace_id)}" in headers["baggage"]
    assert "promptrail.session=s-1" in headers["baggage"]


def test_two_promptrail_services_share_the_otel_trace_and_the_tree(bridged: Bridged) -> None:
    """The called service's log nests under the calling log, and its span under the caller's."""
    with promptrail.trace(path="svc-a/turn"):
        headers = inject({})
    with extract(headers):
        lookup("x")
    caller, called = bridged.span("svc-a/turn"), bridged.span("lookup")
    assert called.context.trace_id == caller.context.trace_id
    assert called.parent is not None
    assert called.parent.span_id == caller.context.span_id
    by_path = {r.path: r for r in bridged.records.records}
    assert by_path["svc-b/lookup"].trace_parent_id == by_path["svc-a/turn"].log_id


def test_a_service_with_otels_own_instrumentation_is_the_parent(bridged: Bridged) -> None:
    """Headers written by plain OTel (no promptrail log) make promptrail's span a child."""
    app_tracer = bridged.provider.get_tracer("app")
    with app_tracer.start_as_current_span("GET /upstream") as upstream:
        headers: dict[str, str] = {}
        propagate.inject(headers)
    with extract(headers):
        lookup("x")
    called = bridged.span("lookup")
    assert called.context.trace_id == upstream.get_span_context().trace_id
    assert called.parent is not None
    assert called.parent.span_id == upstream.get_span_context().span_id
    (record,) = bridged.records.records
    assert record.trace_parent_id is None  # no promptrail log called it


def test_a_service_with_otels_own_instrumentation_continues_the_trace(bridged: Bridged) -> None:
    """Plain OTel extracting promptrail's headers starts its span under promptrail's span."""
    with promptrail.trace(path="svc-a/turn"):
        headers = inject({})
    context = propagate.extract(headers)
    downstream = bridged.provider.get_tracer("app").start_span("downstream", context=context)
    downstream.end()
    caller = bridged.span("svc-a/turn")
    assert downstream.get_span_context().trace_id == caller.context.trace_id
    assert downstream.parent is not None
    assert downstream.parent.span_id == caller.context.span_id


def test_a_current_server_span_is_kept(bridged: Bridged) -> None:
    """When the app's own server span is current, extract() leaves it the parent."""
    with promptrail.trace(path="svc-a/turn"):
        headers = inject({})
    app_tracer = bridged.provider.get_tracer("app")
    with app_tracer.start_as_current_span("POST /b") as server, extract(headers):
        lookup("x")
    called = bridged.span("lookup")
    assert called.parent is not None
    assert called.parent.span_id == server.get_span_context().span_id
    by_path = {r.path: r for r in bridged.records.records}
    assert by_path["svc-b/lookup"].trace_parent_id == by_path["svc-a/turn"].log_id


def test_without_the_bridge_promptrail_writes_its_own_traceparent() -> None:
    """No bridge configured: the traceparent is promptrail's trace id, with no promptrail.tp."""
    records = InMemoryExporter()
    promptrail.configure(processors=[promptrail.SimpleProcessor(records)])
    with promptrail.trace(path="a") as t:
        headers = inject({})
    assert "promptrail.tp" not in headers["baggage"]
    assert str(t.trace_id).replace("-", "")[-32:] in headers["traceparent"]
