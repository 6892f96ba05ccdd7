"""Session id, user and tags: sent by the bridge as span attributes, read back by the ingest."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import promptrail
from promptrail.exporters import InMemoryExporter
from promptrail.otel._bridge import OtelBridge
from promptrail.otel.ingest._common import session_fields
from promptrail.otel.ingest._processor import GenAiSpanProcessor, records_from_spans


@promptrail.log_prompt(path="chat/answer", model="gpt-4o", provider="openai")
def answer(question: str) -> str:
    """A fake model call."""
    return "Paris"


@pytest.fixture(name="bridged")
def fixture_bridged() -> Iterator[tuple[InMemorySpanExporter, InMemoryExporter]]:
    """The bridge on a local provider (never the global one), next to an in-memory exporter."""
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    records = InMemoryExporter()
    bridge = OtelBridge(tracer_provider=provider)
    promptrail.configure(processors=[promptrail.SimpleProcessor(records), bridge])
    yield spans, records
    provider.shutdown()


def test_bridge_sends_session_user_and_tags(
    bridged: tuple[InMemorySpanExporter, InMemoryExporter],
) -> None:
    """Every span of a trace with a session carries gen_ai.conversation.id, user.id, tag.tags."""
    spans, _ = bridged
    with promptrail.trace(path="chat/turn", session_id="conv-1", user="ada", tags=["chat"]):
        answer("capital of France?")
    finished = spans.get_finished_spans()
    assert len(finished) == 2
    for span in finished:
        attrs = span.attributes or {}
        assert attrs["gen_ai.conversation.id"] == "conv-1"
        assert attrs["user.id"] == "ada"
        assert list(attrs["tag.tags"]) == ["chat"]  # type: ignore[arg-type]


def test_bridge_sends_nothing_without_a_session(
    bridged: tuple[InMemorySpanExporter, InMemoryExporter],
) -> None:
    """A call outside any block has none of the three attributes."""
    spans, _ = bridged
    answer("q")
    (span,) = spans.get_finished_spans()
    assert not {"gen_ai.conversation.id", "user.id", "tag.tags"} & set(span.attributes or {})


def test_bridge_spans_read_back_with_session_user_and_tags(
    bridged: tuple[InMemorySpanExporter, InMemoryExporter],
) -> None:
    """A bridge span ingested again gives the record's session_id, user and tags."""
    spans, _ = bridged
    with promptrail.attributes(session_id="conv-2", user="bob", tags=["a", "b"]):
        answer("q")
    (back,) = records_from_spans(list(spans.get_finished_spans()), include_bridge=True)
    assert (back.session_id, back.user, back.tags) == ("conv-2", "bob", ["a", "b"])


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        (
            {"gen_ai.conversation.id": "c", "user.id": "u", "tag.tags": ("x",)},
            {"session_id": "c", "user": "u", "tags": ["x"]},
        ),
        (
            {"session.id": "s", "user.id": "u", "tag.tags": ["t1", "t2"]},
            {"session_id": "s", "user": "u", "tags": ["t1", "t2"]},
        ),
        (
            {"langfuse.session.id": "l", "langfuse.user.id": "lu", "langfuse.trace.tags": ["lt"]},
            {"session_id": "l", "user": "lu", "tags": ["lt"]},
        ),
        ({"session.id": 5, "tag.tags": [1, ""]}, {}),
    ],
)
def test_session_fields_of_each_dialect(attrs: dict[str, Any], expected: dict[str, Any]) -> None:
    """GenAI, OpenInference and Langfuse names map to the same fields; wrong types are skipped."""
    assert session_fields(attrs) == expected


def test_ingested_genai_span_carries_session_fields() -> None:
    """A GenAI chat span from another instrumentation becomes a record with its session."""
    records = InMemoryExporter()
    promptrail.configure(processors=[promptrail.SimpleProcessor(records)])
    provider = TracerProvider()
    provider.add_span_processor(GenAiSpanProcessor())
    tracer = provider.get_tracer("opentelemetry.instrumentation.openai_v2")
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "session.id": "conv-3",
        "user.id": "cy",
    }
    tracer.start_span("chat gpt-4o", attributes=attrs).end()
    provider.shutdown()
    (record,) = records.records
    assert (record.session_id, record.user, record.tags) == ("conv-3", "cy", None)
