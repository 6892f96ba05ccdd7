"""OpenTelemetry → promptrail: GenAI spans from an SDK tracer become promptrail records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import promptrail
from promptrail._record.models import LogRecord
from promptrail.exporters import InMemoryExporter
from promptrail.otel._bridge import OtelBridge
from promptrail.otel.ingest._genai import genai_kind
from promptrail.otel.ingest._processor import GenAiSpanProcessor, records_from_spans, span_log_id
from promptrail.pipeline._emit import emit_records


class Setup:
    """An SDK provider feeding a GenAiSpanProcessor, and promptrail's in-memory exporter."""

    def __init__(self) -> None:
        self.records = InMemoryExporter()
        promptrail.configure(processors=[promptrail.SimpleProcessor(self.records)])
        self.processor = GenAiSpanProcessor()
        self.provider = TracerProvider()
        self.provider.add_span_processor(self.processor)
        self.spans = InMemorySpanExporter()
        self.provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.tracer = self.provider.get_tracer("opentelemetry.instrumentation.openai_v2")

    def record(self, path: str) -> LogRecord:
        (record,) = [r for r in self.records.records if r.path == path]
        return record


@pytest.fixture(name="setup")
def fixture_setup() -> Iterator[Setup]:
    """A local provider (never the global one) and a synchronous promptrail pipeline."""
    setup = Setup()
    yield setup
    setup.provider.shutdown()


CHAT_ATTRIBUTES: dict[str, Any] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.request.temperature": 0.5,
    "gen_ai.request.max_tokens": 100,
    "gen_ai.request.stop_sequences": ["END"],
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.response.id": "chatcmpl-1",
    "gen_ai.response.finish_reasons": ["stop"],
    "gen_ai.usage.input_tokens": 20,
    "gen_ai.usage.output_tokens": 5,
    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be terse."}]),
    "gen_ai.input.messages": json.dumps(
        [
            {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
            {
                "role": "assistant",
                "parts": [
                    {
                        "type": "tool_call",
                        "id": "call_1",
                        "name": "get_weather",
                        "arguments": {"city": "Paris"},
                    }
                ],
            },
            {
                "role": "tool",
                "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy"}],
            },
        ]
    ),
    "gen_ai.output.messages": json.dumps(
        [
            {
                "role": "assistant",
                "parts": [{"type": "text", "content": "Rainy."}],
                "finish_reason": "stop",
            }
        ]
    ),
    "gen_ai.tool.definitions": json.dumps(
        [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    ),
}


class TestConversion:
    """One GenAI span → one record with the right fields."""

    def test_chat_span_becomes_a_prompt_record(self, setup: Setup) -> None:
        """Model, parameters, messages, output, tokens, times and OTel ids are all carried over."""
        span = setup.tracer.start_span(
            "chat gpt-4o",
            kind=SpanKind.CLIENT,
            attributes=CHAT_ATTRIBUTES,
            start_time=1_767_225_600_000_000_000,
        )
        span.end(end_time=1_767_225_601_500_000_000)
        (record,) = setup.records.records
        ctx = span.get_span_context()
        assert record.kind == "prompt"
        assert record.path == "openai/gpt-4o"
        assert record.log_id == span_log_id(ctx.trace_id, ctx.span_id, 1_767_225_600_000_000_000)
        assert record.trace_id == record.log_id
        assert record.trace_parent_id is None
        assert record.start_time == datetime(2026, 1, 1, tzinfo=UTC)
        assert record.provider_latency == 1.5
        assert record.prompt is not None
        assert (record.prompt.model, record.prompt.provider, record.prompt.endpoint) == (
            "gpt-4o",
            "openai",
            "chat",
        )
        assert (record.prompt.temperature, record.prompt.max_tokens) == (0.5, 100)
        assert record.prompt.stop == ["END"]
        assert record.prompt.tools == [
            {
                "type": "function",
                "function": {"name": "get_weather", "parameters": {"type": "object"}},
            }
        ]
        assert record.messages is not None
        assert [m.role for m in record.messages] == ["system", "user", "assistant", "tool"]
        assert record.messages[0].content == "Be terse."
        tool_calls = record.messages[2].tool_calls or []
        assert tool_calls[0].function.name == "get_weather"
        assert json.loads(tool_calls[0].function.arguments or "") == {"city": "Paris"}
        assert (record.messages[3].tool_call_id, record.messages[3].content) == ("call_1", "rainy")
        assert record.output == "Rainy."
        assert record.output_message is not None
        assert record.output_message.role == "assistant"
        assert (record.prompt_tokens, record.output_tokens, record.finish_reason) == (20, 5, "stop")
        assert record.metadata["otel.trace_id"] == trace.format_trace_id(ctx.trace_id)
        assert record.metadata["otel.span_id"] == trace.format_span_id(ctx.span_id)
        assert record.metadata["gen_ai.response.model"] == "gpt-4o-2024-08-06"
        assert record.metadata["response_model"] == "gpt-4o-2024-08-06"  # it differs from gpt-4o
        assert record.metadata["otel.scope"] == "opentelemetry.instrumentation.openai_v2"

    def test_structured_message_attributes(self, setup: Setup) -> None:
        """Messages given as structured values (API 1.45 AnyValue) are read like JSON strings."""
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "m",
            "gen_ai.prompt.name": "support/answer",
            "gen_ai.input.messages": [
                {"role": "user", "parts": [{"type": "text", "content": "hi"}]}
            ],
            "gen_ai.output.messages": [
                {"role": "assistant", "parts": [{"type": "text", "content": "hello"}]}
            ],
        }
        setup.tracer.start_span("chat m", attributes=attributes).end()  # type: ignore[arg-type]
        record = setup.record("support/answer")
        assert record.messages is not None
        assert record.messages[0].content == "hi"
        assert record.output == "hello"

    def test_tool_span_becomes_a_tool_record(self, setup: Setup) -> None:
        """``execute_tool`` spans become tool records with arguments as inputs."""
        attributes = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.arguments": '{"city": "Paris", "api_key": "hunter2"}',
            "gen_ai.tool.call.result": "rainy",
        }
        setup.tracer.start_span("execute_tool get_weather", attributes=attributes).end()
        record = setup.record("get_weather")
        assert record.kind == "tool"
        assert record.inputs == {"city": "Paris", "api_key": "[REDACTED]"}
        assert record.output == "rainy"
        assert record.prompt is None

    def test_error_span_records_the_error(self, setup: Setup) -> None:
        """A span with ERROR status becomes a record with ``error`` set from type and message."""
        span = setup.tracer.start_span("chat m", attributes={"gen_ai.operation.name": "chat"})
        span.set_attribute("error.type", "RateLimitError")
        span.set_status(StatusCode.ERROR, "slow down")
        span.end()
        (record,) = setup.records.records
        assert record.error == "RateLimitError: slow down"

    def test_error_from_exception_event(self, setup: Setup) -> None:
        """Without ``error.type`` the error comes from the recorded exception."""
        attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a"}

        def agent() -> None:
            with setup.tracer.start_as_current_span("invoke_agent a", attributes=attributes):
                raise TimeoutError("late")

        with pytest.raises(TimeoutError):
            agent()
        record = setup.record("a")
        assert record.kind == "flow"
        assert record.error == "TimeoutError: late"

    def test_exception_stacktrace_becomes_the_records_traceback(self, setup: Setup) -> None:
        """The exception event's stack trace is kept as a decorated call's traceback is."""
        attributes = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "b"}

        def failing_agent_step() -> None:
            with setup.tracer.start_as_current_span("invoke_agent b", attributes=attributes):
                raise TimeoutError("late")

        with pytest.raises(TimeoutError):
            failing_agent_step()
        traceback = setup.record("b").metadata["error_traceback"]
        assert "failing_agent_step" in traceback
        assert traceback.rstrip().endswith("TimeoutError: late")

    def test_openllmetry_attributes(self, setup: Setup) -> None:
        """OpenLLMetry's older flattened names (``gen_ai.prompt.0.*``, ``llm.*``) are read."""
        attributes = {
            "llm.request.type": "chat",
            "gen_ai.system": "OpenAI",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "hi",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "hello",
            "gen_ai.completion.0.finish_reason": "stop",
            "gen_ai.usage.prompt_tokens": 3,
            "gen_ai.usage.completion_tokens": 1,
        }
        setup.tracer.start_span("openai.chat", attributes=attributes).end()
        record = setup.record("openai/gpt-4o-mini")
        assert record.messages is not None
        assert record.messages[0].content == "hi"
        assert record.output == "hello"
        assert (record.prompt_tokens, record.output_tokens, record.finish_reason) == (3, 1, "stop")

    def test_non_genai_spans_are_ignored(self, setup: Setup) -> None:
        """HTTP, DB and other spans without GenAI attributes make no record."""
        with setup.tracer.start_as_current_span("GET /", attributes={"http.method": "GET"}):
            setup.tracer.start_span("SELECT").end()
        assert setup.records.records == []
        assert len(setup.spans.get_finished_spans()) == 2

    def test_kinds_by_operation(self) -> None:
        """Operation names map to prompt, tool and flow; unrelated attributes to nothing."""
        assert genai_kind({"gen_ai.operation.name": "embeddings"}) == "prompt"
        assert genai_kind({"gen_ai.operation.name": "retrieval"}) == "tool"
        assert genai_kind({"gen_ai.operation.name": "invoke_workflow"}) == "flow"
        assert genai_kind({"gen_ai.operation.name": "custom"}) == "flow"
        assert genai_kind({"gen_ai.operation.name": "custom", "gen_ai.request.model": "m"}) == (
            "prompt"
        )
        assert genai_kind({"traceloop.span.kind": "workflow"}) == "flow"
        assert genai_kind({"traceloop.span.kind": "tool"}) == "tool"
        assert genai_kind({"http.method": "GET"}) is None


class TestTree:
    """Parent links and trace ids from the span tree."""

    def test_tree_becomes_linked_records(self, setup: Setup) -> None:
        """agent → (app span) → chat, agent → tool: parents skip app spans, one trace id."""
        tracer = setup.tracer
        with (
            tracer.start_as_current_span("GET /ask", attributes={"http.method": "GET"}),
            tracer.start_as_current_span(
                "invoke_agent planner",
                attributes={
                    "gen_ai.operation.name": "invoke_agent",
                    "gen_ai.agent.name": "planner",
                },
            ) as agent,
        ):
            with (
                tracer.start_as_current_span("step"),
                tracer.start_as_current_span(
                    "chat m",
                    attributes={"gen_ai.operation.name": "chat", "gen_ai.prompt.name": "p"},
                ),
            ):
                pass
            with tracer.start_as_current_span(
                "execute_tool t",
                attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "t"},
            ):
                pass
        assert sorted(r.path for r in setup.records.records) == ["p", "planner", "t"]
        root, chat, tool = setup.record("planner"), setup.record("p"), setup.record("t")
        ctx = agent.get_span_context()
        assert root.log_id == span_log_id(ctx.trace_id, ctx.span_id, agent.start_time)  # type: ignore[attr-defined]
        assert root.trace_parent_id is None
        assert root.trace_id == root.log_id
        assert chat.trace_parent_id == root.log_id
        assert tool.trace_parent_id == root.log_id
        assert {chat.trace_id, tool.trace_id} == {root.log_id}

    def test_child_ending_after_its_parent(self, setup: Setup) -> None:
        """A child that ends after its parent (fire and forget) still links to it."""
        tracer = setup.tracer
        parent = tracer.start_span(
            "invoke_workflow w",
            attributes={"gen_ai.operation.name": "invoke_workflow", "gen_ai.workflow.name": "w"},
        )
        child = tracer.start_span(
            "chat m",
            context=trace.set_span_in_context(parent),
            attributes={"gen_ai.operation.name": "chat", "gen_ai.prompt.name": "c"},
        )
        parent.end()
        child.end()
        assert setup.record("c").trace_parent_id == setup.record("w").log_id
        assert setup.record("c").trace_id == setup.record("w").log_id

    def test_bridge_spans_are_not_ingested_but_parent_genai_spans(self, setup: Setup) -> None:
        """promptrail's own spans make no second record; GenAI spans inside them link to the log."""
        bridge = OtelBridge(tracer_provider=setup.provider)
        setup.records = InMemoryExporter()
        promptrail.configure(processors=[promptrail.SimpleProcessor(setup.records), bridge])

        @promptrail.log_prompt(path="support/answer", model="gpt-4o")
        def answer() -> str:
            # what an OpenAI auto-instrumentation would add under promptrail's span
            attrs = {"gen_ai.operation.name": "chat", "gen_ai.prompt.name": "instrumented"}
            setup.tracer.start_span("chat gpt-4o", attributes=attrs).end()
            return "ok"

        with promptrail.trace(path="flow"):
            answer()
        assert sorted(r.path for r in setup.records.records) == [
            "flow",
            "instrumented",
            "support/answer",
        ]
        ours, flow = setup.record("support/answer"), setup.record("flow")
        inner = setup.record("instrumented")
        assert inner.trace_parent_id == ours.log_id
        assert inner.trace_id == flow.log_id

    def test_promptrail_trace_wins_under_an_outer_genai_span(self, setup: Setup) -> None:
        """Under an app agent span, spans inside a promptrail flow take promptrail's trace id."""
        setup.records = InMemoryExporter()
        bridge = OtelBridge(tracer_provider=setup.provider)
        promptrail.configure(processors=[promptrail.SimpleProcessor(setup.records), bridge])
        outer = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "outer"}
        chat = {"gen_ai.operation.name": "chat", "gen_ai.prompt.name": "inner"}
        with (
            setup.tracer.start_as_current_span("invoke_agent outer", attributes=outer),
            promptrail.trace(path="flow"),
        ):
            setup.tracer.start_span("chat m", attributes=chat).end()
        flow, inner = setup.record("flow"), setup.record("inner")
        assert inner.trace_parent_id == flow.log_id
        assert inner.trace_id == flow.trace_id == flow.log_id
        assert setup.record("outer").trace_parent_id is None

    def test_live_spans_are_bounded(self, setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
        """Spans that never end are forgotten oldest first beyond the bound."""
        monkeypatch.setattr("promptrail.otel.ingest._processor._MAX_LIVE", 2)
        spans = [setup.tracer.start_span(f"s{i}") for i in range(3)]
        assert len(setup.processor._live) == 2
        assert spans[0].get_span_context().span_id not in setup.processor._live

    def test_spans_started_before_the_processor(self, setup: Setup) -> None:
        """A GenAI span whose start was not seen is still converted (as a root)."""
        other = TracerProvider()
        late = GenAiSpanProcessor()
        span = other.get_tracer("x").start_span(
            "chat m", attributes={"gen_ai.operation.name": "chat", "gen_ai.prompt.name": "late"}
        )
        other.add_span_processor(late)
        span.end()
        assert setup.record("late").trace_parent_id is None
        late.shutdown()
        other.shutdown()


class TestBatch:
    """``records_from_spans``: a batch of finished spans (an OTLP request) → records."""

    def test_batch_links_match_the_live_processor(self, setup: Setup) -> None:
        """Spans in any order give the same records and links as the live processor."""
        tracer = setup.tracer
        agent_attrs = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a"}
        with tracer.start_as_current_span("invoke_agent a", attributes=agent_attrs):
            with tracer.start_as_current_span("db query"):
                chat = {"gen_ai.operation.name": "chat", "gen_ai.prompt.name": "c"}
                tracer.start_span("chat m", attributes=chat).end()
            tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "t"}
            tracer.start_span("execute_tool t", attributes=tool).end()
        finished = list(reversed(setup.spans.get_finished_spans()))
        batch = records_from_spans(finished)
        live = {r.path: r for r in setup.records.records}
        assert sorted(r.path for r in batch) == ["a", "c", "t"]
        for record in batch:
            expected = live[record.path]
            assert (record.log_id, record.trace_id, record.trace_parent_id) == (
                expected.log_id,
                expected.trace_id,
                expected.trace_parent_id,
            )
            assert record.model_dump(exclude={"created_at"}) == expected.model_dump(
                exclude={"created_at"}
            )

    def test_missing_parent_makes_a_root(self, setup: Setup) -> None:
        """A span whose GenAI parent is not in the batch becomes a root."""
        tracer = setup.tracer
        flow = {"gen_ai.operation.name": "invoke_workflow", "gen_ai.workflow.name": "w"}
        with tracer.start_as_current_span("invoke_workflow w", attributes=flow):
            tracer.start_span("chat m", attributes={"gen_ai.operation.name": "chat"}).end()
        child = [s for s in setup.spans.get_finished_spans() if s.name == "chat m"]
        (record,) = records_from_spans(child)
        assert record.trace_parent_id is None
        assert record.trace_id == record.log_id

    def test_bridge_spans_in_a_batch(self, setup: Setup) -> None:
        """Bridge spans in a batch make no record but parent the GenAI spans under them."""
        setup.records = InMemoryExporter()
        bridge = OtelBridge(tracer_provider=setup.provider)
        promptrail.configure(processors=[promptrail.SimpleProcessor(setup.records), bridge])
        with promptrail.trace(path="flow"):
            chat = {"gen_ai.operation.name": "chat", "gen_ai.prompt.name": "inner"}
            setup.tracer.start_span("chat m", attributes=chat).end()
        (inner,) = records_from_spans(setup.spans.get_finished_spans())
        flow = setup.record("flow")
        assert (inner.path, inner.trace_parent_id, inner.trace_id) == (
            "inner",
            flow.log_id,
            flow.log_id,
        )


class TestPipeline:
    """Ingested records go through promptrail's configured processors."""

    def test_disabled_promptrail_emits_nothing(self, setup: Setup) -> None:
        """With promptrail disabled, GenAI spans make no records."""
        promptrail.configure(enabled=False)
        setup.tracer.start_span("chat m", attributes={"gen_ai.operation.name": "chat"}).end()
        assert setup.records.records == []

    def test_batch_pipeline_builds_records_in_the_worker(self, setup: Setup) -> None:
        """With the default batch processor, records arrive after ``flush()``."""
        records = InMemoryExporter()
        promptrail.configure(exporters=[records])
        setup.tracer.start_span("chat m", attributes={"gen_ai.operation.name": "chat"}).end()
        assert setup.processor.force_flush(5000) is True
        assert [r.kind for r in records.records] == ["prompt"]
        assert promptrail.stats().exported == 1

    def test_emit_records_feeds_ready_records(self, setup: Setup) -> None:
        """``emit_records`` hands finished records to the exporters unchanged."""
        record = LogRecord(
            log_id="x1",
            path="imported",
            trace_id="x1",
            start_time=datetime(2026, 1, 1, tzinfo=UTC),
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        emit_records([record])
        assert setup.records.records == [record]

    def test_default_pipeline_is_built_on_first_use(self) -> None:
        """Unconfigured, ingested logs go to the default SQLite store."""
        provider = TracerProvider()
        provider.add_span_processor(GenAiSpanProcessor())
        provider.get_tracer("x").start_span(
            "chat m", attributes={"gen_ai.operation.name": "chat"}
        ).end()
        assert promptrail.flush(5) is True
        assert promptrail.stats().exported == 1
        provider.shutdown()

    def test_context_is_untouched(self, setup: Setup) -> None:
        """The processor does not change the current OTel context."""
        before = otel_context.get_current()
        setup.tracer.start_span("chat m", attributes={"gen_ai.operation.name": "chat"}).end()
        assert otel_context.get_current() == before


class TestMessageMapping:
    """promptrail chat messages ↔ GenAI ``role``/``parts`` messages."""

    def test_round_trip(self) -> None:
        """Text, multi-part, reasoning, tool calls and tool results survive both conversions."""
        from promptrail._record.models import ChatMessage
        from promptrail.otel._attributes import input_messages
        from promptrail.otel.ingest._genai import _message_from_parts

        messages = [
            ChatMessage(role="user", name="ann", content="hi"),
            ChatMessage(
                role="user",
                content=[
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
                    {"type": "input_audio", "input_audio": {"data": "AAA"}},
                ],
            ),
            ChatMessage.model_validate(
                {
                    "role": "assistant",
                    "thinking": "hmm",
                    "content": "calling",
                    "tool_calls": [
                        {"id": "c1", "function": {"name": "f", "arguments": "not json"}}
                    ],
                }
            ),
            ChatMessage(role="tool", tool_call_id="c1", content="42"),
        ]
        genai = input_messages(messages)
        assert genai[1]["parts"][1] == {
            "type": "uri",
            "modality": "image",
            "uri": "https://x/cat.png",
        }
        assert genai[2]["parts"][0] == {"type": "reasoning", "content": "hmm"}
        assert genai[2]["parts"][2]["arguments"] == "not json"
        back = [ChatMessage.model_validate(_message_from_parts(m)) for m in genai]
        assert back == messages

    def test_tool_response_objects_become_json_text(self) -> None:
        """A structured tool response is kept as JSON text; unknown roles become user."""
        from promptrail.otel.ingest._genai import _message_from_parts

        body = _message_from_parts(
            {"role": "tool", "parts": [{"type": "tool_call_response", "response": {"t": 14}}]}
        )
        assert body == {"role": "tool", "content": '{"t": 14}'}
        assert _message_from_parts({"role": "robot", "parts": ["bad", {"type": "text"}]}) == {
            "role": "user",
            "content": "",
        }


class TestEmit:
    """Feeding external logs to the processors."""

    def test_failing_processor_does_not_stop_the_others(self, setup: Setup) -> None:
        """A processor raising in on_end is reported; the next one still gets the log."""

        class Broken(promptrail.BaseProcessor):
            def on_end(self, log: Any) -> None:
                raise RuntimeError("broken")

        records = InMemoryExporter()
        promptrail.configure(processors=[Broken(), promptrail.SimpleProcessor(records)])
        setup.tracer.start_span("chat m", attributes={"gen_ai.operation.name": "chat"}).end()
        assert len(records.records) == 1
        assert promptrail.stats().errors["on_end:Broken"] == 1

    def test_external_log_ids(self) -> None:
        """An external log answers ids and parents like a decorated call's log."""
        from promptrail.pipeline._emit import ExternalLog

        log = ExternalLog(
            path="p",
            kind="tool",
            log_id="id-2",
            trace_id="id-1",
            trace_parent_id="id-1",
            start_ns=0,
            build=lambda settings: None,  # type: ignore[arg-type,return-value]
        )
        assert (log.log_id, log.trace_id, log.trace_parent_id) == ("id-2", "id-1", "id-1")
        assert log.ended
        assert log.spec.kind == "tool"
