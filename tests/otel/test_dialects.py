"""Span dialects the ingest reads besides the GenAI conventions: OpenInference, OpenLLMetry 0.52.

OpenInference spans use its real semantic-conventions package's attribute names; the OpenLLMetry
0.52 spans are the attribute sets in ``tests.fixtures.openllmetry_052`` (a current release of that
package is the one installed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry._logs import LogRecord as ApiLogRecord
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.fixtures.openllmetry_052 import (
    OPENLLMETRY_052_STREAM,
    OPENLLMETRY_052_TOOL_CALL,
    PARAMETERS,
    TOOL_CALL_ARGS,
)

import promptrail
from promptrail._record.models import LogRecord
from promptrail._runtime.state import STATE
from promptrail.exporters import InMemoryExporter
from promptrail.otel.ingest._events import EventJoin, GenAiEvent, amend
from promptrail.otel.ingest._genai import genai_kind
from promptrail.otel.ingest._processor import records_from_spans


def finished(*spans: tuple[str, Mapping[str, Any]], scope: str = "instr") -> list[ReadableSpan]:
    """Finished SDK spans with these names and attributes (each a root)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer(scope)
    for name, attrs in spans:
        with tracer.start_as_current_span(name, attributes=dict(attrs)):
            pass
    return list(memory.get_finished_spans())


def one(name: str, attrs: Mapping[str, Any], scope: str = "instr") -> LogRecord:
    records = records_from_spans(finished((name, attrs), scope=scope))
    assert len(records) == 1
    return records[0]


class TestOpenLLMetry052:
    def test_tool_call_answer_and_tools_offered_arrive(self) -> None:
        """0.52's indexed tool calls, finish reason and ``llm.request.functions`` are read."""
        record = one("openai.chat", OPENLLMETRY_052_TOOL_CALL)
        assert record.path == "openai/gpt-4o"
        assert record.prompt is not None
        assert record.prompt.tools == [
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "The weather in a city",
                    "parameters": PARAMETERS,
                },
            }
        ]
        assert record.output_message is not None
        assert record.output_message.tool_calls is not None
        call = record.output_message.tool_calls[0]
        assert (call.id, call.function.name, call.function.arguments) == (
            "call_1",
            "weather",
            TOOL_CALL_ARGS,
        )
        assert record.finish_reason == "tool_calls"
        assert (record.prompt_tokens, record.output_tokens) == (1200, 300)
        assert record.metadata["cached_prompt_tokens"] == 1000

    def test_tool_calls_and_results_in_the_history_arrive(self) -> None:
        """An assistant turn's tool calls and a tool message's ``tool_call_id`` are kept."""
        record = one("openai.chat", OPENLLMETRY_052_STREAM)
        assert record.messages is not None
        assert [m.role for m in record.messages] == ["user", "assistant", "tool"]
        calls = record.messages[1].tool_calls
        assert calls is not None
        assert (calls[0].id, calls[0].function.name) == ("call_1", "weather")
        assert (record.messages[2].tool_call_id, record.messages[2].content) == ("call_1", "sunny")
        assert (record.output, record.finish_reason) == ("Paris.", "stop")

    def test_in_process_processor_reads_them(self, memory: InMemoryExporter) -> None:
        """The live span processor makes the same log as a batch conversion."""
        provider = TracerProvider()
        provider.add_span_processor(promptrail.GenAiSpanProcessor())
        with provider.get_tracer("instr").start_as_current_span(
            "openai.chat", attributes=OPENLLMETRY_052_STREAM
        ):
            pass
        promptrail.flush()
        (record,) = memory.records
        assert record.messages is not None
        assert record.messages[2].tool_call_id == "call_1"


class TestOpenInference:
    def test_kinds(self) -> None:
        """LLM spans are prompts, TOOL spans tools, CHAIN and AGENT spans flows."""
        si = pytest.importorskip("openinference.semconv.trace")
        kind = si.SpanAttributes.OPENINFERENCE_SPAN_KIND
        assert genai_kind({kind: si.OpenInferenceSpanKindValues.LLM.value}) == "prompt"
        assert genai_kind({kind: si.OpenInferenceSpanKindValues.TOOL.value}) == "tool"
        assert genai_kind({kind: si.OpenInferenceSpanKindValues.CHAIN.value}) == "flow"
        assert genai_kind({kind: si.OpenInferenceSpanKindValues.AGENT.value}) == "flow"
        assert genai_kind({kind: "UNKNOWN"}) is None

    def test_tool_and_chain_spans_nest_with_inputs_and_output(self) -> None:
        """A CHAIN span is a flow and a TOOL span under it a tool log, with input and output."""
        si = pytest.importorskip("openinference.semconv.trace")
        attrs = si.SpanAttributes
        memory = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer = provider.get_tracer("openinference.instrumentation.smolagents")
        chain = {
            attrs.OPENINFERENCE_SPAN_KIND: "CHAIN",
            attrs.INPUT_VALUE: json.dumps({"question": "Weather?"}),
            attrs.INPUT_MIME_TYPE: "application/json",
            attrs.OUTPUT_VALUE: "It is sunny.",
            attrs.SESSION_ID: "session-1",
        }
        tool = {
            attrs.OPENINFERENCE_SPAN_KIND: "TOOL",
            attrs.TOOL_NAME: "weather",
            attrs.INPUT_VALUE: TOOL_CALL_ARGS,
            attrs.INPUT_MIME_TYPE: "application/json",
            attrs.OUTPUT_VALUE: "sunny",
        }
        with tracer.start_as_current_span("agent run", attributes=chain):
            with tracer.start_as_current_span("weather", attributes=tool):
                pass
        records = {r.kind: r for r in records_from_spans(memory.get_finished_spans())}
        flow, tool_log = records["flow"], records["tool"]
        assert (flow.path, flow.inputs, flow.output) == (
            "agent run",
            {"question": "Weather?"},
            "It is sunny.",
        )
        assert flow.session_id == "session-1"
        assert (tool_log.path, tool_log.inputs, tool_log.output) == (
            "weather",
            {"city": "Paris"},
            "sunny",
        )
        assert tool_log.trace_parent_id == flow.log_id

    def test_contents_parts_and_invocation_parameters(self) -> None:
        """Multi-part ``contents`` and JSON invocation parameters become message and kernel."""
        record = one(
            "ChatCompletion",
            {
                "openinference.span.kind": "LLM",
                "llm.provider": "openai",
                "llm.model_name": "gpt-4o-2024-08-06",
                "llm.invocation_parameters": json.dumps(
                    {"model": "gpt-4o", "max_completion_tokens": 50, "stop": ["END"]}
                ),
                "llm.input_messages.0.message.role": "user",
                "llm.input_messages.0.message.contents.0.message_content.type": "text",
                "llm.input_messages.0.message.contents.0.message_content.text": "What is this?",
                "llm.input_messages.0.message.contents.1.message_content.type": "image",
                "llm.input_messages.0.message.contents.1.message_content.image.image.url": (
                    "https://example.com/cat.png"
                ),
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "A cat.",
                "llm.token_count.prompt": 10,
                "llm.token_count.completion": 2,
                "llm.token_count.prompt_details.cache_write": 8,
            },
        )
        assert record.prompt is not None
        assert (record.prompt.model, record.prompt.max_tokens, record.prompt.stop) == (
            "gpt-4o",
            50,
            ["END"],
        )
        assert record.metadata["response_model"] == "gpt-4o-2024-08-06"
        assert record.metadata["cache_creation_prompt_tokens"] == 8
        assert record.messages is not None
        assert record.messages[0].content == [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        ]
        assert (record.output, record.prompt_tokens, record.output_tokens) == ("A cat.", 10, 2)

    def test_prompt_template_variables_and_metadata(self) -> None:
        """``llm.prompt_template.*`` become the template and inputs, ``metadata`` is merged."""
        si = pytest.importorskip("openinference.semconv.trace")
        attrs = si.SpanAttributes
        record = one(
            "ChatCompletion",
            {
                attrs.OPENINFERENCE_SPAN_KIND: "LLM",
                attrs.LLM_MODEL_NAME: "gpt-4o",
                attrs.LLM_PROMPT_TEMPLATE: "Weather in {city}?",
                attrs.LLM_PROMPT_TEMPLATE_VARIABLES: json.dumps({"city": "Paris"}),
                attrs.METADATA: json.dumps({"team": "support", "otel.span_id": "forged"}),
            },
        )
        assert record.prompt is not None
        assert record.prompt.template == "Weather in {city}?"
        assert record.inputs == {"city": "Paris"}
        assert record.metadata["team"] == "support"
        assert record.metadata["otel.span_id"] != "forged"


def test_stream_finish_reason_on_the_output_message_only() -> None:
    """A finish reason only in ``gen_ai.output.messages[0].finish_reason`` is read."""
    output = [{"role": "assistant", "parts": [{"type": "text", "content": "Hi"}]}]
    output[0]["finish_reason"] = "length"
    record = one(
        "chat gpt-4o",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.output.messages": json.dumps(output),
        },
    )
    assert record.finish_reason == "length"


class TestEvents:
    def record(self) -> LogRecord:
        return one("chat gpt-4o", {"gen_ai.operation.name": "chat", "gen_ai.system": "openai"})

    def test_amend_reads_messages_choice_and_tool_results(self) -> None:
        """Message events become the messages (tool calls and results too); a choice the answer."""
        call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        events = [
            GenAiEvent("gen_ai.system.message", {"content": "Be brief."}),
            GenAiEvent("gen_ai.user.message", {"content": "Hi"}),
            GenAiEvent("gen_ai.assistant.message", {"tool_calls": [call]}),
            GenAiEvent("gen_ai.tool.message", {"content": "done", "id": "call_1"}),
            GenAiEvent(
                "gen_ai.choice",
                {"index": 0, "finish_reason": "stop", "message": {"content": "Bye"}},
            ),
        ]
        record = amend(self.record(), events, STATE.settings)
        assert record.messages is not None
        assert [m.role for m in record.messages] == ["system", "user", "assistant", "tool"]
        assert record.messages[3].tool_call_id == "call_1"
        assert (record.output, record.finish_reason) == ("Bye", "stop")

    def test_join_waits_for_the_span_and_then_names_its_log(self) -> None:
        """Events before their span go into its log; events after it name the log to update."""
        join = EventJoin()
        record = self.record()
        key = (record.metadata["otel.trace_id"], record.metadata["otel.span_id"])
        assert join.add_events(key, [GenAiEvent("gen_ai.user.message", {"content": "Hi"})]) is None
        (joined,) = join.join([record], STATE.settings)
        assert joined.messages is not None
        assert joined.messages[0].content == "Hi"
        later = join.add_events(key, [GenAiEvent("gen_ai.choice", {"message": {"content": "Yo"}})])
        assert later is not None
        log_id, events = later
        assert (log_id, len(events)) == (record.log_id, 2)

    def test_join_forgets_old_and_surplus_spans(self) -> None:
        """Waiting events are dropped past the age and span limits, and counted."""
        now = [0.0]
        join = EventJoin(max_spans=2, max_age=10.0, clock=lambda: now[0])
        event = GenAiEvent("gen_ai.user.message", {"content": "Hi"})
        for span in ("a", "b", "c"):
            join.add_events(("t", span), [event])
        assert join.dropped_events == 1
        now[0] = 11.0
        join.add_events(("t", "d"), [event])
        assert join.dropped_events == 3

    def test_event_processor_fills_in_process_logs(self, memory: InMemoryExporter) -> None:
        """Log events emitted inside a span reach its log through ``event_processor()``."""
        processor = promptrail.GenAiSpanProcessor()
        provider = TracerProvider()
        provider.add_span_processor(processor)
        logger_provider = LoggerProvider()
        logger_provider.add_log_record_processor(processor.event_processor())
        logger = logger_provider.get_logger("opentelemetry.instrumentation.openai_v2")
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.system": "openai"}
        with provider.get_tracer("instr").start_as_current_span("chat", attributes=attrs):
            logger.emit(ApiLogRecord(event_name="gen_ai.user.message", body={"content": "Hi"}))
            logger.emit(
                ApiLogRecord(
                    event_name="gen_ai.choice",
                    body={"index": 0, "finish_reason": "stop", "message": {"content": "Yo"}},
                )
            )
            logger.emit(ApiLogRecord(event_name="app.other", body="ignored"))
        promptrail.flush()
        (record,) = memory.records
        assert record.messages is not None
        assert [(m.role, m.content) for m in record.messages] == [("user", "Hi")]
        assert (record.output, record.finish_reason) == ("Yo", "stop")
