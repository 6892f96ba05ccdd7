"""Per-call cost of the OTel bridge versus plain OpenTelemetry SDK spans.

``python benchmarks/otel_overhead.py`` prints microseconds per call (best of 5 runs). Spans go to
an SDK provider with a ``SimpleSpanProcessor`` and an exporter that drops them, so the numbers are
the cost of creating, filling and ending spans, not of I/O. promptrail's own record pipeline is
left out (no exporters) to isolate the bridge.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind

import promptrail
from promptrail.otel._bridge import OtelBridge

MESSAGES = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi there"}]
N = 5_000


class Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def provider(**options: Any) -> TracerProvider:
    p = TracerProvider(**options)
    p.add_span_processor(SimpleSpanProcessor(Drop()))
    return p


def work(question: str, messages: list[dict[str, Any]]) -> str:
    return "Hello"


@promptrail.log_prompt(path="bench/answer", model="gpt-4o", provider="openai")
def answer(question: str, messages: list[dict[str, Any]]) -> str:
    promptrail.update_current(prompt_tokens=12, output_tokens=3, finish_reason="stop")
    return work(question, messages)


def plain_sdk(tracer: trace.Tracer) -> Callable[[], object]:
    creation = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.prompt.name": "bench/answer",
    }

    def call() -> object:
        with tracer.start_as_current_span(
            "chat gpt-4o", kind=SpanKind.CLIENT, attributes=creation
        ) as s:
            result = work("q", MESSAGES)
            s.set_attributes(
                {
                    "gen_ai.usage.input_tokens": 12,
                    "gen_ai.usage.output_tokens": 3,
                    "gen_ai.response.finish_reasons": ["stop"],
                }
            )
            return result

    return call


def measure(label: str, fn: Callable[[], object]) -> float:
    fn()
    best = min(timeit.repeat(fn, number=N, repeat=5)) / N * 1e6
    print(f"{label:<58} {best:7.2f} µs")
    return best


def with_bridge(bridge: OtelBridge | None) -> Callable[[], object]:
    promptrail.configure(exporters=[], processors=[bridge] if bridge else [])
    return lambda: answer("q", messages=MESSAGES)


def main() -> None:
    measure("undecorated function", lambda: work("q", MESSAGES))
    measure(
        "plain OTel SDK span (GenAI attributes, recorded)", plain_sdk(provider().get_tracer("b"))
    )
    unsampled_tracer = provider(sampler=ALWAYS_OFF).get_tracer("b")
    measure("plain OTel SDK span (GenAI attributes, not sampled)", plain_sdk(unsampled_tracer))
    measure("promptrail, no processors", with_bridge(None))
    noop = OtelBridge(tracer_provider=trace.NoOpTracerProvider())
    measure("promptrail + bridge, API only (no-op provider)", with_bridge(noop))
    unsampled = OtelBridge(tracer_provider=provider(sampler=ALWAYS_OFF))
    measure("promptrail + bridge, SDK, not sampled", with_bridge(unsampled))
    measure(
        "promptrail + bridge, SDK, recorded", with_bridge(OtelBridge(tracer_provider=provider()))
    )
    content = OtelBridge(tracer_provider=provider(), capture_content=True)
    measure("promptrail + bridge, SDK, recorded, content captured", with_bridge(content))
    promptrail.shutdown()


if __name__ == "__main__":
    main()
