"""Spans as the Humanloop SDK uploads them: protobuf-JSON, no Content-Type, every value a string.

Bodies are made by the SDK's own ``serialize_span`` from real SDK spans and posted like its
upload thread does (``requests``-style: no Content-Type, ``X-API-KEY``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("humanloop")

import httpx2
from humanloop.otel.exporter.proto import serialize_span
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from promptrail.exporters import SqliteStore
from promptrail.otel.ingest._humanloop import parse_attributes, parse_value, unflatten
from promptrail.server import ServerThread, create_app

KEY = "hl-span-key-0123456789"
URL_PATH = "/v5/import/otel/v1/traces"


@pytest.fixture(name="db")
def fixture_db(tmp_path: Path) -> Path:
    """The receiver's SQLite file."""
    return tmp_path / "spans.db"


@pytest.fixture(name="server")
def fixture_server(db: Path) -> Iterator[ServerThread]:
    """A receiver on 127.0.0.1."""
    with ServerThread(create_app(db_path=db, api_keys=[KEY])) as server:
        yield server


@pytest.fixture(name="store")
def fixture_store(db: Path, server: ServerThread) -> Iterator[SqliteStore]:
    """The receiver's store, read directly."""
    store = SqliteStore(db)
    yield store
    store.close()


def make_span(
    name: str, attributes: dict[str, Any], *, scope: str = "humanloop.sdk"
) -> ReadableSpan:
    """A finished SDK span with these attributes."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    kind = (
        SpanKind.CLIENT if scope.startswith("opentelemetry.instrumentation") else SpanKind.INTERNAL
    )
    with provider.get_tracer(scope).start_as_current_span(name, kind=kind) as span:
        span.set_attributes(attributes)
    (finished,) = exporter.get_finished_spans()
    return finished


def upload(server: ServerThread, span: ReadableSpan) -> httpx2.Response:
    """Post one span as the SDK's upload thread does."""
    return httpx2.post(
        server.url + URL_PATH, content=serialize_span(span).encode(), headers={"X-API-KEY": KEY}
    )


def tool_span(**extra: Any) -> ReadableSpan:
    """A @tool span, attributes flattened as the SDK writes them."""
    return make_span(
        "humanloop.tool",
        {
            "humanloop.file.path": "demo/lookup",
            "humanloop.file.type": "tool",
            "humanloop.file.function.name": "lookup",
            "humanloop.file.function.parameters.required": ("city",),
            "humanloop.log.inputs.city": "Paris",
            "humanloop.log.inputs.count": 2,
            "humanloop.log.output": "Paris x2",
            **extra,
        },
    )


class TestParse:
    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("42", 42),
            ("0.25", 0.25),
            ("True", True),
            ("('stop',)", ("stop",)),
            ("('a', 'b')", ("a", "b")),
            ("hello", "hello"),
            ("(not a tuple", "(not a tuple"),
            ("({'a': 1},)", "({'a': 1},)"),
        ],
    )
    def test_values(self, text: str, value: Any) -> None:
        """Stringified numbers, booleans and tuples of scalars come back; other text stays."""
        assert parse_value(text) == value

    def test_text_keys_stay_text(self) -> None:
        """Content, ids and model names keep a value that looks like a number."""
        parsed = parse_attributes(
            {
                "gen_ai.usage.input_tokens": "42",
                "gen_ai.response.finish_reasons": "('stop',)",
                "gen_ai.prompt.0.content": "42",
                "gen_ai.response.id": "7",
                "gen_ai.request.model": "1",
            }
        )
        assert parsed == {
            "gen_ai.usage.input_tokens": 42,
            "gen_ai.response.finish_reasons": ("stop",),
            "gen_ai.prompt.0.content": "42",
            "gen_ai.response.id": "7",
            "gen_ai.request.model": "1",
        }

    def test_unflatten(self) -> None:
        """Dotted keys nest again; index keys become lists; a tuple string becomes a list."""
        attrs = {
            "humanloop.log.inputs.a": "1",
            "humanloop.log.items.0": "x",
            "humanloop.log.items.1": "y",
            "humanloop.log.required": "('a',)",
            "humanloop.log.output": "3",
        }
        assert unflatten(attrs, "humanloop.log.") == {
            "inputs": {"a": 1},
            "items": ["x", "y"],
            "required": ["a"],
            "output": "3",
        }


class TestUpload:
    def test_tool_span_without_content_type_and_base64_ids(
        self, server: ServerThread, store: SqliteStore
    ) -> None:
        """The SDK's body (no Content-Type, base64 ids) is accepted and its tool log stored."""
        span = tool_span()
        body = json.loads(serialize_span(span))
        assert len(body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]) == 24
        response = upload(server, span)
        assert (response.status_code, response.json()) == (200, {})
        (record,) = store.logs()
        assert (record.kind, record.path, record.output) == ("tool", "demo/lookup", "Paris x2")
        assert record.inputs == {"city": "Paris", "count": 2}
        assert record.tool == {"function": {"name": "lookup", "parameters": {"required": ["city"]}}}

    def test_same_span_twice_is_one_log(self, server: ServerThread, store: SqliteStore) -> None:
        """A re-sent span does not make a second log."""
        span = tool_span()
        assert upload(server, span).status_code == upload(server, span).status_code == 200
        assert store.count() == 1

    def test_flow_span_completes_its_log(self, server: ServerThread, store: SqliteStore) -> None:
        """A flow span completes the incomplete flow log it names, keeping its inputs."""
        created = httpx2.post(
            server.url + "/v5/flows/log",
            json={"path": "demo/agent", "log_status": "incomplete", "inputs": {"q": "?"}},
            headers={"X-API-KEY": KEY},
        ).json()
        span = make_span(
            "humanloop.flow",
            {
                "humanloop.file.path": "demo/agent",
                "humanloop.file.type": "flow",
                "humanloop.log.id": created["id"],
                "humanloop.log.log_status": "complete",
                "humanloop.log.output": "42",
                "humanloop.log.output_message.role": "assistant",
                "humanloop.log.output_message.content": "42",
            },
        )
        assert upload(server, span).status_code == 200
        record = store.get(created["id"])
        assert record is not None
        assert (record.output, record.log_status, record.inputs) == ("42", "complete", {"q": "?"})
        assert record.output_message is not None
        assert record.output_message.content == "42"
        assert record.end_time is not None

    def test_flow_span_without_stored_log_creates_it(
        self, server: ServerThread, store: SqliteStore
    ) -> None:
        """A flow span whose log was never created becomes that log."""
        span = make_span(
            "humanloop.flow",
            {
                "humanloop.file.path": "demo/agent",
                "humanloop.file.type": "flow",
                "humanloop.log.id": "lost-flow",
                "humanloop.log.log_status": "complete",
                "humanloop.log.error": "boom",
            },
        )
        assert upload(server, span).status_code == 200
        record = store.get("lost-flow")
        assert record is not None
        assert (record.kind, record.path, record.error) == ("flow", "demo/agent", "boom")

    def test_prompt_span_with_stringified_values(
        self, server: ServerThread, store: SqliteStore
    ) -> None:
        """An LLM call inside @prompt becomes a prompt log at its path with numbers restored."""
        span = make_span(
            "openai.chat",
            {
                "humanloop.file.path": "demo/ask",
                "humanloop.file.type": "prompt",
                "humanloop.log.trace_parent_id": "flow-1",
                "gen_ai.system": "openai",
                "llm.request.type": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.request.temperature": 0.5,
                "gen_ai.usage.input_tokens": 42,
                "gen_ai.usage.output_tokens": 7,
                "gen_ai.response.finish_reasons": ("stop",),
                "gen_ai.prompt.0.role": "user",
                "gen_ai.prompt.0.content": "7",
                "gen_ai.completion.0.role": "assistant",
                "gen_ai.completion.0.content": "Paris",
                "gen_ai.completion.0.finish_reason": "stop",
            },
            scope="opentelemetry.instrumentation.openai.v1",
        )
        assert "('stop',)" in serialize_span(span)
        assert upload(server, span).status_code == 200
        (record,) = store.logs()
        assert (record.kind, record.path, record.trace_parent_id) == (
            "prompt",
            "demo/ask",
            "flow-1",
        )
        assert (record.prompt_tokens, record.output_tokens, record.finish_reason) == (42, 7, "stop")
        assert record.prompt is not None
        assert (record.prompt.model, record.prompt.temperature) == ("gpt-4o-mini", 0.5)
        assert record.messages is not None
        assert record.messages[0].content == "7"
        assert record.output == "Paris"

    def test_unbuildable_span_is_reported(self, server: ServerThread, store: SqliteStore) -> None:
        """A span whose log cannot be built is counted in partialSuccess; the rest is stored."""
        bad = make_span(
            "humanloop.flow",
            {
                "humanloop.file.path": "demo/agent",
                "humanloop.file.type": "flow",
                "humanloop.log.id": "bad-flow",
                "humanloop.log.output_message.role": "wizard",
            },
        )
        response = upload(server, bad)
        assert response.status_code == 200
        assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
        assert store.count() == 0
        assert upload(server, tool_span()).status_code == 200


class TestOtlpJsonIds:
    def test_invalid_id_is_400(self, server: ServerThread) -> None:
        """An id that is neither hex nor base64 of the right length is refused."""
        body = json.loads(serialize_span(tool_span()))
        body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = "not an id!"
        response = httpx2.post(
            server.url + URL_PATH, content=json.dumps(body).encode(), headers={"X-API-KEY": KEY}
        )
        assert response.status_code == 400
        assert "spanId" in response.json()["message"]

    def test_hex_ids_still_work_without_content_type(
        self, server: ServerThread, store: SqliteStore
    ) -> None:
        """OTLP JSON's own hex ids are read too, with or without a Content-Type."""
        body = json.loads(serialize_span(tool_span()))
        span = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        span["traceId"] = "5b8efff798038103d269b633813fc60c"
        span["spanId"] = "eee19b7ec3c1b174"
        response = httpx2.post(
            server.url + URL_PATH, content=json.dumps(body).encode(), headers={"X-API-KEY": KEY}
        )
        assert response.status_code == 200
        (record,) = store.logs()
        assert record.path == "demo/lookup"
