"""The OpenTelemetry bridge: promptrail logs as live GenAI spans (SDK provider, never global)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    Decision,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import SpanKind, StatusCode

import promptrail
from promptrail._runtime.state import STATE
from promptrail._runtime.suppression import suppress_instrumentation
from promptrail._tracing.active import ActiveLog
from promptrail.exceptions import ConfigurationError
from promptrail.exporters import InMemoryExporter
from promptrail.otel import _attributes as _otel_attributes
from promptrail.otel._bridge import OtelBridge
from promptrail.testing import FixedClock


class Spans:
    """A local SDK provider with an in-memory exporter."""

    def __init__(self, **provider_options: Any) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(**provider_options)
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = self.provider.get_tracer("app")

    def finished(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def by_name(self, name: str) -> ReadableSpan:
        (span,) = [s for s in self.finished() if s.name == name]
        return span


@pytest.fixture(name="spans")
def fixture_spans() -> Iterator[Spans]:
    """A local tracer provider; never the global one."""
    spans = Spans()
    yield spans
    spans.provider.shutdown()


@pytest.fixture(name="records")
def fixture_records() -> InMemoryExporter:
    """Where promptrail's own records go (synchronously)."""
    return InMemoryExporter()


def install(records: InMemoryExporter, bridge: OtelBridge) -> None:
    promptrail.configure(processors=[promptrail.SimpleProcessor(records), bridge])


@pytest.fixture(name="bridge")
def fixture_bridge(spans: Spans, records: InMemoryExporter) -> OtelBridge:
    """The bridge on the local provider, next to an in-memory exporter."""
    bridge = OtelBridge(tracer_provider=spans.provider)
    install(records, bridge)
    return bridge


@pytest.fixture(name="clock")
def fixture_clock(monkeypatch: pytest.MonkeyPatch) -> FixedClock:
    """A deterministic clock: one millisecond per reading."""
    clock = FixedClock()
    monkeypatch.setattr(STATE, "wall_ns", clock.wall_ns)
    monkeypatch.setattr(STATE, "perf_ns", clock.perf_ns)
    return clock


@promptrail.log_prompt(path="support/answer", model="gpt-4o", provider="openai")
def answer(question: str, messages: list[dict[str, Any]], temperature: float = 0.2) -> str:
    promptrail.update_current(prompt_tokens=12, output_tokens=3, finish_reason="stop")
    return "Paris"


@promptrail.log_tool(path="tools/get_weather")
def get_weather(city: str) -> str:
    return "rainy, 14C"


@promptrail.log_flow(path="support/flow")
def flow(question: str) -> str:
    get_weather("Paris")
    return answer(question, messages=[{"role": "user", "content": question}])


def parent_id(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


class TestSpanShape:
    """Names, kinds, attributes and times of the bridge's spans."""

    def test_the_model_that_answered_is_the_response_model(
        self, spans: Spans, bridge: OtelBridge, records: InMemoryExporter
    ) -> None:
        """A deployment name called, a dated model answering: gen_ai.response.model says which."""

        @promptrail.log_prompt(path="support/deployed", provider="openai")
        def deployed(model: str) -> dict[str, Any]:
            return {
                "object": "chat.completion",
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
            }

        deployed(model="my-deployment")
        (span,) = spans.finished()
        attrs = span.attributes or {}
        assert attrs["gen_ai.request.model"] == "my-deployment"
        assert attrs["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
        (record,) = records.records
        assert record.metadata["response_model"] == "gpt-4o-mini-2024-07-18"

    def test_prompt_call_is_a_client_chat_span(
        self, spans: Spans, bridge: OtelBridge, records: InMemoryExporter, clock: FixedClock
    ) -> None:
        """A prompt log becomes ``chat {model}`` (CLIENT) with request, usage and response data."""
        answer("Capital of France?", messages=[{"role": "user", "content": "Capital?"}])
        (span,) = spans.finished()
        (record,) = records.records
        assert span.name == "chat gpt-4o"
        assert span.kind is SpanKind.CLIENT
        assert span.instrumentation_scope is not None
        assert span.instrumentation_scope.name == "promptrail"
        attrs = span.attributes or {}
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.provider.name"] == "openai"
        assert attrs["gen_ai.request.model"] == "gpt-4o"
        assert attrs["gen_ai.prompt.name"] == "support/answer"
        assert attrs["gen_ai.usage.input_tokens"] == 12
        assert attrs["gen_ai.usage.output_tokens"] == 3
        assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
        assert attrs["promptrail.log_id"] == record.log_id
        assert span.status.status_code is StatusCode.UNSET
        assert record.end_time is not None
        start_us = round(record.start_time.timestamp() * 1e6)
        assert span.start_time is not None
        assert span.end_time is not None
        assert span.start_time // 1000 == start_us
        assert span.end_time - span.start_time == round(record.provider_latency * 1e9)  # type: ignore[operator]

    def test_sampling_attributes_are_given_at_creation(self, records: InMemoryExporter) -> None:
        """A sampler sees operation, provider, model and prompt name when the span is created."""
        seen: list[dict[str, Any]] = []

        class Recorder(Sampler):
            def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
                attributes = kwargs.get("attributes", args[4] if len(args) > 4 else None)
                seen.append(dict(attributes or {}))
                return SamplingResult(Decision.RECORD_AND_SAMPLE)

            def get_description(self) -> str:
                return "recorder"

        spans = Spans(sampler=Recorder())
        install(records, OtelBridge(tracer_provider=spans.provider))
        answer("q", messages=[])
        assert seen == [
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.prompt.name": "support/answer",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
            }
        ]

    def test_model_argument_names_the_span(self, spans: Spans, bridge: OtelBridge) -> None:
        """Without a decorator model, a ``model=`` argument gives the request model at creation."""

        @promptrail.log_prompt(path="p", endpoint="complete")
        def complete(prompt: str, model: str) -> str:
            return "ok"

        complete("hi", model="tiny-1")
        (span,) = spans.finished()
        assert span.name == "text_completion tiny-1"
        assert (span.attributes or {})["gen_ai.operation.name"] == "text_completion"

    def test_each_call_names_its_own_model(self, spans: Spans, bridge: OtelBridge) -> None:
        """Calls of one function name the model each call asked for, or the parameter's default."""

        @promptrail.log_prompt(path="p")
        def chat(prompt: str, model: str = "default-1") -> str:
            return "ok"

        chat("hi", model="a-1")
        chat("hi", model="b-2")
        chat(prompt="hi")
        chat("hi", "positional-3")
        names = [s.name for s in spans.finished()]
        models = [(s.attributes or {}).get("gen_ai.request.model") for s in spans.finished()]
        assert names == ["chat a-1", "chat b-2", "chat default-1", "chat positional-3"]
        assert models == ["a-1", "b-2", "default-1", "positional-3"]

    def test_a_sampler_that_gives_no_attributes_loses_none(self, records: InMemoryExporter) -> None:
        """A sampler that creates spans without attributes still gets the request's at the end."""

        class Plain(Sampler):
            def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
                return SamplingResult(Decision.RECORD_AND_SAMPLE)

            def get_description(self) -> str:
                return "plain"

        spans = Spans(sampler=Plain())
        install(records, OtelBridge(tracer_provider=spans.provider))
        answer("q", messages=[{"role": "user", "content": "q"}])
        (span,) = spans.finished()
        assert (span.attributes or {}).get("gen_ai.request.model") == "gpt-4o"

    def test_a_start_attribute_changed_by_the_call_is_set_back(
        self, spans: Spans, bridge: OtelBridge
    ) -> None:
        """An attribute the span was created with, changed meanwhile, ends with the log's value."""

        @promptrail.log_prompt(path="p", model="m-1")
        def chat(prompt: str) -> str:
            trace.get_current_span().set_attribute("gen_ai.request.model", "changed")
            return "ok"

        chat("hi")
        (span,) = spans.finished()
        assert (span.attributes or {})["gen_ai.request.model"] == "m-1"

    def test_tool_and_flow_spans_are_internal(self, spans: Spans, bridge: OtelBridge) -> None:
        """Tools are ``execute_tool {name}``, flows ``invoke_workflow {path}``, both INTERNAL."""
        flow("q")
        tool = spans.by_name("execute_tool get_weather")
        workflow = spans.by_name("invoke_workflow support/flow")
        assert tool.kind is SpanKind.INTERNAL
        assert workflow.kind is SpanKind.INTERNAL
        assert (tool.attributes or {})["gen_ai.tool.name"] == "get_weather"
        assert (tool.attributes or {})["gen_ai.operation.name"] == "execute_tool"
        assert (workflow.attributes or {})["gen_ai.workflow.name"] == "support/flow"

    def test_flows_can_be_agents(self, spans: Spans, records: InMemoryExporter) -> None:
        """``flow_operation="invoke_agent"`` names flows ``invoke_agent {path}``."""
        install(records, OtelBridge(tracer_provider=spans.provider, flow_operation="invoke_agent"))
        with promptrail.trace(path="agents/planner"):
            pass
        (span,) = spans.finished()
        assert span.name == "invoke_agent agents/planner"
        assert (span.attributes or {})["gen_ai.agent.name"] == "agents/planner"

    def test_unknown_flow_operation_is_rejected(self) -> None:
        """A flow operation other than the two conventions is a configuration error."""
        with pytest.raises(ConfigurationError):
            OtelBridge(flow_operation="plan")  # type: ignore[arg-type]

    def test_record_carries_the_span_ids(
        self, spans: Spans, bridge: OtelBridge, records: InMemoryExporter
    ) -> None:
        """Each record's metadata holds its span's OTel trace and span ids (hex)."""
        flow("q")
        assert len(records.records) == 3  # the flow, the prompt and the tool
        for record in records.records:
            (span,) = [
                s
                for s in spans.finished()
                if (s.attributes or {}).get("promptrail.log_id") == record.log_id
            ]
            assert record.metadata["otel.trace_id"] == trace.format_trace_id(span.context.trace_id)
            assert record.metadata["otel.span_id"] == trace.format_span_id(span.context.span_id)

    def test_other_exporters_keep_working(
        self, spans: Spans, bridge: OtelBridge, records: InMemoryExporter
    ) -> None:
        """The bridge is one more processor: the records are complete and unchanged."""
        flow("q")
        assert [r.path for r in records.records] == [
            "tools/get_weather",
            "support/answer",
            "support/flow",
        ]
        assert records.records[1].output == "Paris"


class TestResultAttributes:
    """Result attributes from raw fields (default) match those from the built record."""

    def test_raw_fields_give_the_same_attributes_as_the_record(
        self, spans: Spans, records: InMemoryExporter
    ) -> None:
        """Extracted values, ``update_current`` fields and call kwargs agree in both paths."""

        def extractor(value: Any) -> dict[str, Any] | None:
            if not isinstance(value, dict) or "usage" not in value:
                return None
            return {
                "output": value["text"],
                "finish_reason": "length",
                "prompt": {"model": "extracted-model", "temperature": 0.9, "stop": "END"},
                "provider_response": {"id": "resp-1", "model": "m-2026"},
            }

        @promptrail.log_prompt(path="p", provider="openai")
        def chat(messages: list[dict[str, Any]], max_tokens: int = 0) -> dict[str, Any]:
            promptrail.update_current(prompt_tokens=5, output_tokens=7, version_id="v1")
            return {"text": "hi", "usage": (5, 6)}

        promptrail.register_extractor(extractor)
        try:
            install(records, OtelBridge(tracer_provider=spans.provider))
            chat([], max_tokens=50)
            install(records, OtelBridge(tracer_provider=spans.provider, capture_content=True))
            chat([], max_tokens=50)
        finally:
            promptrail.unregister_extractor(extractor)
        raw, built = (dict(s.attributes or {}) for s in spans.finished())
        content = {k for k in built if "messages" in k}
        expected = {
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "extracted-model",
            "gen_ai.request.temperature": 0.9,
            "gen_ai.request.stop_sequences": ("END",),
            "gen_ai.usage.input_tokens": 5,
            "gen_ai.usage.output_tokens": 7,
            "gen_ai.response.finish_reasons": ("length",),
            "gen_ai.response.id": "resp-1",
            "gen_ai.response.model": "m-2026",
            "gen_ai.prompt.version": "v1",
        }
        assert {k: raw[k] for k in expected} == expected
        assert raw["gen_ai.request.max_tokens"] == 50  # from the call's keyword arguments
        for attrs in (raw, built):
            attrs.pop("promptrail.log_id")
            attrs.pop("promptrail.trace_id")
        assert raw == {k: v for k, v in built.items() if k not in content}


class TestNesting:
    """Parent/child links between promptrail spans, app spans and inner spans."""

    def test_promptrail_children_nest_under_their_parent(
        self, spans: Spans, bridge: OtelBridge
    ) -> None:
        """A decorated call inside another is the child span of the outer one's span."""
        flow("q")
        workflow = spans.by_name("invoke_workflow support/flow")
        assert workflow.parent is None
        for name in ("execute_tool get_weather", "chat gpt-4o"):
            child = spans.by_name(name)
            assert parent_id(child) == workflow.context.span_id
            assert child.context.trace_id == workflow.context.trace_id

    def test_inner_spans_nest_under_the_call(self, spans: Spans, bridge: OtelBridge) -> None:
        """A span started inside the call (httpx-like) is a child of promptrail's span."""

        @promptrail.log_prompt(path="p", model="m")
        def call() -> str:
            with spans.tracer.start_as_current_span("POST /v1/chat/completions"):
                pass
            return "ok"

        call()
        assert parent_id(spans.by_name("POST /v1/chat/completions")) == (
            spans.by_name("chat m").context.span_id
        )

    def test_app_span_between_parent_and_child_is_kept(
        self, spans: Spans, bridge: OtelBridge
    ) -> None:
        """promptrail span → app span → promptrail child: the child nests under the app span."""
        with promptrail.trace(path="outer"), spans.tracer.start_as_current_span("step"):
            answer("q", messages=[])
        outer, step = spans.by_name("invoke_workflow outer"), spans.by_name("step")
        assert parent_id(step) == outer.context.span_id
        assert parent_id(spans.by_name("chat gpt-4o")) == step.context.span_id

    def test_joins_the_apps_trace(
        self, spans: Spans, bridge: OtelBridge, records: InMemoryExporter
    ) -> None:
        """With an app span current, promptrail's root span is its child, in the same trace."""
        with spans.tracer.start_as_current_span("GET /ask") as request:
            flow("q")
            assert trace.get_current_span() is request  # restored after the call
        app = spans.by_name("GET /ask")
        workflow = spans.by_name("invoke_workflow support/flow")
        assert parent_id(workflow) == app.context.span_id
        assert workflow.context.trace_id == app.context.trace_id
        expected = trace.format_trace_id(app.context.trace_id)
        assert {r.metadata["otel.trace_id"] for r in records.records} == {expected}

    def test_span_is_current_only_while_the_call_runs(
        self, spans: Spans, bridge: OtelBridge
    ) -> None:
        """Inside the call the span is current; afterwards the previous context is back."""
        seen: list[trace.Span] = []

        @promptrail.log_tool(path="t")
        def tool() -> None:
            seen.append(trace.get_current_span())

        before = otel_context.get_current()
        tool()
        assert otel_context.get_current() == before
        assert seen[0].get_span_context() == spans.by_name("execute_tool t").context

    def test_generator_steps_run_in_the_span(self, spans: Spans, bridge: OtelBridge) -> None:
        """Each generator step runs in the span; the consumer's code between steps does not."""

        @promptrail.log_prompt(path="stream", model="m")
        def stream() -> Iterator[str]:
            for word in ("a", "b"):
                with spans.tracer.start_as_current_span(f"chunk {word}"):
                    pass
                yield word

        outside: list[bool] = []
        for _ in stream():
            outside.append(trace.get_current_span() is trace.INVALID_SPAN)
        span = spans.by_name("chat m")
        assert outside == [True, True]
        for word in ("a", "b"):
            assert parent_id(spans.by_name(f"chunk {word}")) == span.context.span_id
        assert span.end_time is not None

    def test_closed_generator_ends_its_span(self, spans: Spans, bridge: OtelBridge) -> None:
        """Closing a stream early ends the span and marks it incomplete."""

        @promptrail.log_prompt(path="stream", model="m")
        def stream() -> Generator[str, None, None]:
            yield "a"
            yield "b"

        gen = stream()
        next(gen)
        gen.close()
        (span,) = spans.finished()
        assert (span.attributes or {})["promptrail.incomplete"] == "closed"

    async def test_async_generator_steps_run_in_the_span(
        self, spans: Spans, bridge: OtelBridge
    ) -> None:
        """Async generator steps nest their inner spans under the promptrail span."""

        @promptrail.log_prompt(path="astream", model="m")
        async def astream() -> AsyncIterator[str]:
            for word in ("a", "b"):
                await asyncio.sleep(0)
                with spans.tracer.start_as_current_span(f"chunk {word}"):
                    pass
                yield word

        words = [w async for w in astream()]
        span = spans.by_name("chat m")
        assert words == ["a", "b"]
        assert {parent_id(spans.by_name(f"chunk {w}")) for w in words} == {span.context.span_id}

    async def test_gathered_calls_nest_under_the_flow(
        self, spans: Spans, bridge: OtelBridge
    ) -> None:
        """Async calls run with ``asyncio.gather`` are children of the enclosing flow span."""

        @promptrail.log_tool(path="fetch")
        async def fetch(n: int) -> int:
            await asyncio.sleep(0)
            return n

        async with promptrail.trace(path="fan-out"):
            await asyncio.gather(fetch(1), fetch(2))
        root = spans.by_name("invoke_workflow fan-out")
        children = [s for s in spans.finished() if s.name == "execute_tool fetch"]
        assert len(children) == 2
        assert {parent_id(c) for c in children} == {root.context.span_id}

    def test_child_running_outside_its_parent_still_links_to_it(
        self, spans: Spans, bridge: OtelBridge
    ) -> None:
        """A child started under another trace's span keeps its promptrail parent's span."""
        with promptrail.trace(path="outer"):
            other = spans.tracer.start_span("unrelated", context=otel_context.Context())
            token = otel_context.attach(trace.set_span_in_context(other))
            try:
                answer("q", messages=[])
            finally:
                otel_context.detach(token)
                other.end()
        outer = spans.by_name("invoke_workflow outer")
        assert parent_id(spans.by_name("chat gpt-4o")) == outer.context.span_id


class TestErrors:
    """Failed calls: ERROR status, ``error.type`` and an exception event."""

    def test_error_sets_status_and_type(self, spans: Spans, bridge: OtelBridge) -> None:
        """The exception propagates; the span is ERROR with ``error.type`` and an event."""

        @promptrail.log_prompt(path="p", model="m")
        def fail() -> None:
            raise ValueError("bad input")

        with pytest.raises(ValueError, match="bad input"):
            fail()
        (span,) = spans.finished()
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == "bad input"
        assert (span.attributes or {})["error.type"] == "ValueError"
        (event,) = span.events
        assert event.name == "exception"
        assert dict(event.attributes or {}) == {
            "exception.type": "ValueError",
            "exception.message": "bad input",
        }

    def test_secrets_in_error_messages_are_masked(self, spans: Spans, bridge: OtelBridge) -> None:
        """An API key quoted by an exception reaches neither the span status nor its event."""
        key = "sk-proj-" + "a" * 30

        @promptrail.log_prompt(path="p", model="m")
        def fail() -> None:
            raise PermissionError(f"invalid key {key}")

        with pytest.raises(PermissionError):
            fail()
        (span,) = spans.finished()
        assert key not in str(span.status.description)
        assert all(key not in str(dict(e.attributes or {})) for e in span.events)
        assert "[REDACTED]" in str(span.status.description)

    def test_exception_events_can_be_off(self, spans: Spans, records: InMemoryExporter) -> None:
        """``exception_events=False`` keeps status and type but adds no event."""
        install(records, OtelBridge(tracer_provider=spans.provider, exception_events=False))
        with pytest.raises(KeyError), promptrail.trace(path="f"):
            raise KeyError("k")
        (span,) = spans.finished()
        assert span.status.status_code is StatusCode.ERROR
        assert span.events == ()


class TestContent:
    """Message content: off by default, on by flag or environment, as JSON strings."""

    MESSAGES: Sequence[dict[str, Any]] = (
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Weather in Paris? key sk-abcdefghijklmnopqrstuvwxyz"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "rainy"},
    )

    @staticmethod
    def call() -> None:
        @promptrail.log_prompt(path="p", model="m")
        def chat(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
            promptrail.update_current(
                output_message={"role": "assistant", "content": "Rainy."},
                finish_reason="stop",
                prompt_tokens=1,
            )
            return {"ok": True}

        tool = {
            "type": "function",
            "function": {"name": "get_weather", "parameters": {"type": "object"}},
        }
        chat(list(TestContent.MESSAGES), tools=[tool])

    def test_off_by_default(self, spans: Spans, bridge: OtelBridge) -> None:
        """Without opting in, no message, instruction or tool-definition attribute is set."""
        assert bridge.capture_content is False
        self.call()
        (span,) = spans.finished()
        keys = set(span.attributes or {})
        assert not {k for k in keys if "messages" in k or "definitions" in k or "call." in k}
        assert "gen_ai.usage.input_tokens" in keys

    def test_on_via_environment(
        self, spans: Spans, records: InMemoryExporter, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY`` records messages."""
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "SPAN_ONLY")
        bridge = OtelBridge(tracer_provider=spans.provider)
        assert bridge.capture_content is True
        install(records, bridge)
        self.call()
        (span,) = spans.finished()
        attrs = span.attributes or {}
        inputs = json.loads(str(attrs["gen_ai.input.messages"]))
        assert inputs[0] == {"role": "system", "parts": [{"type": "text", "content": "Be terse."}]}
        assert "sk-abc" not in json.dumps(inputs)  # redacted like the record
        assert inputs[2]["parts"] == [
            {
                "type": "tool_call",
                "id": "call_1",
                "name": "get_weather",
                "arguments": {"city": "Paris"},
            }
        ]
        assert inputs[3] == {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy"}],
        }
        outputs = json.loads(str(attrs["gen_ai.output.messages"]))
        assert outputs == [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "Rainy."}],
                "finish_reason": "stop",
            }
        ]

    def test_flag_wins_over_environment(
        self, spans: Spans, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``capture_content=False`` turns capture off whatever the environment says."""
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
        assert (
            OtelBridge(tracer_provider=spans.provider, capture_content=False).capture_content
            is False
        )
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "NO_CONTENT")
        assert OtelBridge(tracer_provider=spans.provider).capture_content is False

    def test_separate_system_prompt_is_sent_once(
        self, spans: Spans, records: InMemoryExporter
    ) -> None:
        """Anthropic's ``system=`` goes to system instructions only, and reads back once."""
        from promptrail.otel.ingest._processor import records_from_spans

        install(records, OtelBridge(tracer_provider=spans.provider, capture_content=True))

        @promptrail.log_prompt(path="bridge/anthropic", provider="anthropic")
        def create(*, model: str, system: str, messages: list[dict[str, Any]]) -> str:
            return "ok"

        create(model="claude", system="Be terse.", messages=[{"role": "user", "content": "hi"}])
        (span,) = spans.finished()
        attrs = span.attributes or {}
        assert json.loads(str(attrs["gen_ai.system_instructions"])) == [
            {"type": "text", "content": "Be terse."}
        ]
        inputs = json.loads(str(attrs["gen_ai.input.messages"]))
        assert [m["role"] for m in inputs] == ["user"]
        (back,) = records_from_spans([span], include_bridge=True)
        assert back.messages is not None
        assert [(m.role, m.content) for m in back.messages] == [
            ("system", "Be terse."),
            ("user", "hi"),
        ]

    def test_tool_call_arguments_and_result(self, spans: Spans, records: InMemoryExporter) -> None:
        """A tool's arguments and result are recorded when content is on."""
        install(records, OtelBridge(tracer_provider=spans.provider, capture_content=True))
        get_weather("Paris")
        tool = spans.by_name("execute_tool get_weather").attributes or {}
        assert json.loads(str(tool["gen_ai.tool.call.arguments"])) == {"city": "Paris"}
        assert tool["gen_ai.tool.call.result"] == "rainy, 14C"

    def test_tool_definitions(self, spans: Spans, records: InMemoryExporter) -> None:
        """The prompt's tools (OpenAI or Anthropic shape) become ``gen_ai.tool.definitions``."""
        install(records, OtelBridge(tracer_provider=spans.provider, capture_content=True))
        tools = [
            {"type": "function", "function": {"name": "a", "parameters": {}}},
            {"name": "b", "description": "d", "input_schema": {"type": "object"}},
        ]

        def extractor(value: Any) -> dict[str, Any] | None:
            return {"output": "ok", "prompt": {"tools": tools}} if value == {"raw": 1} else None

        @promptrail.log_prompt(path="p", model="m")
        def chat() -> dict[str, int]:
            return {"raw": 1}

        promptrail.register_extractor(extractor)
        try:
            chat()
        finally:
            promptrail.unregister_extractor(extractor)
        (span,) = spans.finished()
        assert json.loads(str((span.attributes or {})["gen_ai.tool.definitions"])) == [
            {"type": "function", "name": "a", "parameters": {}},
            {"type": "function", "name": "b", "description": "d", "parameters": {"type": "object"}},
        ]

    def test_flow_inputs_and_output(self, spans: Spans, records: InMemoryExporter) -> None:
        """A flow's inputs become one user message and its output one assistant message."""
        install(records, OtelBridge(tracer_provider=spans.provider, capture_content=True))
        with promptrail.trace(path="f", inputs={"q": "hi"}) as t:
            t.output = "done"
        attrs = spans.by_name("invoke_workflow f").attributes or {}
        assert json.loads(str(attrs["gen_ai.input.messages"])) == [
            {"role": "user", "parts": [{"type": "text", "content": '{"q":"hi"}'}]}
        ]
        assert json.loads(str(attrs["gen_ai.output.messages"])) == [
            {"role": "assistant", "parts": [{"type": "text", "content": "done"}]}
        ]


class TestCheapPaths:
    """Unsampled spans and API-only installs do no serialisation."""

    @staticmethod
    def spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
        calls: list[str] = []
        original = ActiveLog.to_record
        original_dumps = _otel_attributes._dumps

        def to_record(self: ActiveLog, settings: Any) -> Any:
            calls.append("to_record")
            return original(self, settings)

        def dumps(value: Any) -> str:
            calls.append("dumps")
            return original_dumps(value)

        monkeypatch.setattr(ActiveLog, "to_record", to_record)
        monkeypatch.setattr(_otel_attributes, "_dumps", dumps)
        return calls

    def test_unsampled_spans_build_no_record(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A non-recording span skips the record build and all JSON, yet ids are stored."""
        spans = Spans(sampler=ALWAYS_OFF)
        bridge = OtelBridge(tracer_provider=spans.provider, capture_content=True)
        promptrail.configure(processors=[bridge])
        calls = self.spy(monkeypatch)
        seen: list[ActiveLog] = []

        class Keep(promptrail.BaseProcessor):
            def on_end(self, log: ActiveLog) -> None:
                seen.append(log)

        promptrail.configure(processors=[bridge, Keep()])
        flow("q")
        assert calls == []
        assert spans.finished() == ()
        assert len(seen) == 3
        assert all("otel.span_id" in (log.fields or {})["metadata"] for log in seen)

    def test_noop_provider_does_nothing(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With a no-op provider (API only) calls work, nothing is serialised or stored."""
        seen: list[ActiveLog] = []

        class Keep(promptrail.BaseProcessor):
            def on_end(self, log: ActiveLog) -> None:
                seen.append(log)

        bridge = OtelBridge(tracer_provider=trace.NoOpTracerProvider(), capture_content=True)
        promptrail.configure(processors=[bridge, Keep()])
        calls = self.spy(monkeypatch)
        assert flow("q") == "Paris"
        assert calls == []
        assert [log.fields for log in seen if log.fields and "metadata" in log.fields] == []
        assert bridge._spans == {}

    def test_noop_provider_keeps_the_apps_trace_id(self, spans: Spans) -> None:
        """API only under an app span: the record gets the app's trace id, not a span id."""
        seen: list[ActiveLog] = []

        class Keep(promptrail.BaseProcessor):
            def on_end(self, log: ActiveLog) -> None:
                seen.append(log)

        bridge = OtelBridge(tracer_provider=trace.NoOpTracerProvider())
        promptrail.configure(processors=[bridge, Keep()])
        with spans.tracer.start_as_current_span("request") as request:
            get_weather("Paris")
        (log,) = seen
        metadata = (log.fields or {})["metadata"]
        assert metadata == {
            "otel.trace_id": trace.format_trace_id(request.get_span_context().trace_id)
        }

    def test_api_only_install_works(self, tmp_path: Any) -> None:
        """Without opentelemetry-sdk importable, the bridge and decorated calls just work."""
        script = textwrap.dedent(
            """
            import sys

            class Block:
                def find_spec(self, name, path=None, target=None):
                    if name == "opentelemetry.sdk" or name.startswith("opentelemetry.sdk."):
                        raise ImportError("no sdk here")
                    return None

            sys.meta_path.insert(0, Block())
            import promptrail
            assert "opentelemetry" not in sys.modules
            from promptrail.exporters import InMemoryExporter
            memory = InMemoryExporter()
            bridge = promptrail.OtelBridge(capture_content=True)
            promptrail.configure(processors=[promptrail.SimpleProcessor(memory), bridge])

            @promptrail.log_prompt(path="p", model="m")
            def call(x):
                return "ok"

            assert call(1) == "ok"
            assert memory.records[0].output == "ok"
            assert "opentelemetry.sdk" not in sys.modules
            print("fine")
            """
        )
        result = run_python(script)
        assert result.stdout.strip() == "fine", result.stderr

    def test_promptrail_works_without_opentelemetry(self) -> None:
        """With no opentelemetry at all, promptrail imports and runs; only the bridge fails."""
        script = textwrap.dedent(
            """
            import sys

            class Block:
                def find_spec(self, name, path=None, target=None):
                    if name == "opentelemetry" or name.startswith("opentelemetry."):
                        raise ImportError("not installed")
                    return None

            sys.meta_path.insert(0, Block())
            import promptrail
            from promptrail import *
            from promptrail._runtime.suppression import suppress_instrumentation
            promptrail.configure(exporters=[])

            @promptrail.log_tool
            def tool(x):
                return x

            with suppress_instrumentation():
                assert tool(2) == 2
            try:
                promptrail.OtelBridge
            except ImportError:
                print("fine")
            """
        )
        result = run_python(script)
        assert result.stdout.strip() == "fine", result.stderr


def run_python(script: str) -> subprocess.CompletedProcess[str]:
    import os

    import promptrail as package

    src = os.path.dirname(os.path.dirname(package.__file__))
    env = {**os.environ, "PYTHONPATH": src, "PROMPTRAIL_FLUSH_AT_EXIT": "0"}
    env.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=20,
        env=env,
        check=False,
    )


class TestLifecycle:
    """Logs the bridge did not start, shutdown, and the lazy export."""

    def test_log_started_before_install_is_ignored(
        self, spans: Spans, records: InMemoryExporter
    ) -> None:
        """Installing the bridge during a call leaves that call without a span, and no error."""
        bridge = OtelBridge(tracer_provider=spans.provider)

        @promptrail.log_flow(path="outer")
        def outer() -> str:
            install(records, bridge)
            return get_weather("x")

        promptrail.configure(processors=[promptrail.SimpleProcessor(InMemoryExporter())])
        outer()
        assert [s.name for s in spans.finished()] == ["execute_tool get_weather"]
        assert spans.finished()[0].parent is None

    def test_shutdown_ends_open_spans(self, spans: Spans, bridge: OtelBridge) -> None:
        """Shutdown ends the spans of running logs, marked incomplete; later ends do nothing."""
        with promptrail.trace(path="open"):
            assert len(bridge._spans) == 1
            bridge.shutdown()
            assert bridge._spans == {}
            (span,) = spans.finished()
            assert (span.attributes or {})["promptrail.incomplete"] == "shutdown"
        assert len(spans.finished()) == 1
        assert bridge.force_flush() is True

    def test_threads_with_copied_context_nest(self, spans: Spans, bridge: OtelBridge) -> None:
        """Calls run through ContextThreadPoolExecutor are children of the submitting flow."""
        with promptrail.trace(path="pool"), promptrail.ContextThreadPoolExecutor(2) as pool:
            list(pool.map(get_weather, ["a", "b"]))
        root = spans.by_name("invoke_workflow pool")
        tools = [s for s in spans.finished() if s.name == "execute_tool get_weather"]
        assert len(tools) == 2
        assert {parent_id(t) for t in tools} == {root.context.span_id}

    def test_lazy_export(self) -> None:
        """``promptrail.OtelBridge`` is the bridge class; unknown names still raise."""
        assert promptrail.OtelBridge is OtelBridge
        with pytest.raises(AttributeError):
            promptrail.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


class TestSuppressInstrumentation:
    """The helper that keeps promptrail's own HTTP export out of traces."""

    def test_sets_both_keys_inside_only(self) -> None:
        """Inside the block both suppression keys are set; afterwards neither is."""
        key = otel_context._SUPPRESS_INSTRUMENTATION_KEY
        with suppress_instrumentation():
            assert otel_context.get_value("suppress_instrumentation") is True
            assert otel_context.get_value(key) is True
        assert otel_context.get_value("suppress_instrumentation") is None
        assert otel_context.get_value(key) is None

    def test_noop_when_opentelemetry_not_imported(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """When opentelemetry was never imported, it returns a do-nothing context manager."""
        monkeypatch.delitem(sys.modules, "opentelemetry.context")
        manager = suppress_instrumentation()
        with manager:
            pass
        assert type(manager).__name__ == "nullcontext"
