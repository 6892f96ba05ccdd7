"""Instrumented SDK calls with the OpenTelemetry bridge on: one span each, named for the model."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from tests.fixtures.sdk import FakeAPI, sdk_client

import promptrail
from promptrail.exporters import InMemoryExporter

pytest.importorskip("openai")
sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

PIRATE = [
    {"role": "system", "content": "Answer like a pirate."},
    {"role": "user", "content": "What is the capital of France?"},
]


@pytest.fixture(name="spans")
def fixture_spans() -> Iterator[InMemorySpanExporter]:
    """promptrail with the bridge on a local tracer provider; the SDK instrumented."""
    exporter = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    bridge = promptrail.OtelBridge(tracer_provider=provider)
    promptrail.configure(processors=[promptrail.SimpleProcessor(InMemoryExporter()), bridge])
    promptrail.instrument_openai()
    yield exporter
    promptrail.uninstrument_openai()
    provider.shutdown()


def attributes(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


class TestOneSpan:
    """An instrumented call is the span of its log, not a second one."""

    def test_undecorated_call_is_one_span_with_request_and_response_models(
        self, spans: InMemorySpanExporter, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """One span `chat gpt-4o`: requested model, answering model and response id."""
        api.json(data.CHAT_COMPLETION)
        client = sdk_client(api, "openai", "OpenAI")
        client.chat.completions.create(model="gpt-4o", messages=PIRATE)
        (span,) = spans.get_finished_spans()
        attrs = attributes(span)
        assert span.name == "chat gpt-4o"
        assert attrs["gen_ai.request.model"] == "gpt-4o"
        assert attrs["gen_ai.response.model"] == data.OPENAI_MODEL
        assert attrs["gen_ai.response.id"] == data.CHAT_COMPLETION["id"]

    def test_model_chosen_in_the_body_names_the_decorated_span(
        self, spans: InMemorySpanExporter, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """A decorated function whose body picks the model: its one span is `chat {model}`."""
        api.json(data.CHAT_COMPLETION)
        client = sdk_client(api, "openai", "OpenAI")

        @promptrail.log_prompt(path="support/answer")
        def answer(q: str) -> str:
            resp = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": q}]
            )
            return str(resp.choices[0].message.content)

        answer("hi")
        (span,) = spans.get_finished_spans()
        attrs = attributes(span)
        assert span.name == "chat gpt-4o-mini"
        assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
        assert attrs["gen_ai.response.model"] == data.OPENAI_MODEL
        assert attrs["gen_ai.response.id"] == data.CHAT_COMPLETION["id"]
        assert attrs["gen_ai.usage.input_tokens"] == data.CHAT_COMPLETION["usage"]["prompt_tokens"]

    def test_model_as_a_parameter_default_names_the_span(self, spans: InMemorySpanExporter) -> None:
        """`def f(q, model="gpt-4o")` called without a model: the span is `chat gpt-4o`."""

        @promptrail.log_prompt(path="p")
        def ask(q: str, model: str = "gpt-4o") -> str:
            return q

        ask("hi")
        (span,) = spans.get_finished_spans()
        assert span.name == "chat gpt-4o"
        assert attributes(span)["gen_ai.request.model"] == "gpt-4o"
