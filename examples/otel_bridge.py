"""promptrail and OpenTelemetry, both directions, with a fake LLM client (no network).

Out: ``OtelBridge`` turns every promptrail log into a live GenAI span, so spans started inside a
decorated call (here a fake "HTTP" span standing in for httpx auto-instrumentation) nest under it,
and the promptrail records carry the OTel trace and span ids.

In: ``GenAiSpanProcessor`` turns GenAI spans made by other instrumentation (here a hand-made
``chat`` span like the one OpenTelemetry's openai instrumentation creates) into promptrail logs.

Run: ``pip install 'promptrail[otel]' opentelemetry-sdk`` then ``python examples/otel_bridge.py``.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import promptrail
from promptrail.exporters import InMemoryExporter

# The app's own tracing. (A real app would export with an OTLP exporter and might set it as the
# global provider; promptrail never does that itself.)
spans = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(spans))
provider.add_span_processor(promptrail.GenAiSpanProcessor())  # In: GenAI spans → promptrail
tracer = provider.get_tracer("example-app")

records = InMemoryExporter()
promptrail.configure(
    processors=[
        promptrail.SimpleProcessor(records),
        promptrail.OtelBridge(tracer_provider=provider, capture_content=True),  # Out
    ]
)


def fake_completion(messages: list[dict[str, Any]]) -> str:
    """Stand-in for an SDK call; httpx auto-instrumentation would create this span."""
    with tracer.start_as_current_span("POST https://api.example.com/v1/chat/completions"):
        return f"You said: {messages[-1]['content']}"


@promptrail.log_prompt(path="support/answer", model="gpt-4o", provider="openai")
def answer(question: str, messages: list[dict[str, Any]]) -> str:
    promptrail.update_current(prompt_tokens=12, output_tokens=4, finish_reason="stop")
    return fake_completion(messages)


@promptrail.log_tool(path="tools/lookup")
def lookup(term: str) -> str:
    return f"{term}: a city in France"


def instrumented_call() -> None:
    """What an OpenTelemetry GenAI instrumentation records for a call promptrail did not wrap."""
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 7,
        "gen_ai.usage.output_tokens": 2,
        "gen_ai.response.finish_reasons": ["stop"],
    }
    tracer.start_span("chat gpt-4o-mini", attributes=attributes).end()


def main() -> None:
    with tracer.start_as_current_span("GET /ask"), promptrail.trace(path="support/flow"):
        lookup("Paris")
        answer("Where is Paris?", messages=[{"role": "user", "content": "Where is Paris?"}])
        instrumented_call()

    print("OpenTelemetry spans:")
    by_id = {s.context.span_id: s for s in spans.get_finished_spans()}
    for span in spans.get_finished_spans():
        parent = by_id.get(span.parent.span_id) if span.parent else None
        print(f"  {span.name:<55} parent: {parent.name if parent else '-'}")
    print("promptrail records:")
    names = {r.log_id: r.path for r in records.records}
    for record in records.records:
        parent_path = names.get(record.trace_parent_id or "", "-")
        otel = record.metadata.get("otel.span_id", "")
        print(f"  {record.kind:<6} {record.path:<20} parent: {parent_path:<14} otel span {otel}")


if __name__ == "__main__":
    main()
