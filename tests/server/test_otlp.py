"""The receiver's OTLP/HTTP traces endpoint: real OTLP exporters → uvicorn on 127.0.0.1 → store."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import sqlite3
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.proto")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

import httpx2
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanProcessor,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

import promptrail
from promptrail._record.models import LogRecord
from promptrail.exporters import InMemoryExporter, SqliteStore
from promptrail.otel._bridge import OtelBridge
from promptrail.otel.ingest import _genai, _processor
from promptrail.server import ServerThread, create_app

KEY = "otlp-key-0123456789"
LIMIT = 64_000
TRACE_HEX = "5b8efff798038103d269b633813fc60c"
PARENT_HEX = "eee19b7ec3c1b174"
CHILD_HEX = "eee19b7ec3c1b175"
APP_HEX = "eee19b7ec3c1b176"


@pytest.fixture(name="db")
def fixture_db(tmp_path: Path) -> Path:
    """The receiver's SQLite file."""
    return tmp_path / "otlp.db"


@pytest.fixture(name="server")
def fixture_server(db: Path) -> Iterator[ServerThread]:
    """The receiver app ``promptrail serve`` runs, on a free port of 127.0.0.1."""
    with ServerThread(create_app(db_path=db, api_keys=[KEY], max_body_bytes=LIMIT)) as server:
        yield server


@pytest.fixture(name="store")
def fixture_store(db: Path, server: ServerThread) -> SqliteStore:
    """A reader of the receiver's store."""
    return SqliteStore(db)


@pytest.fixture(name="local")
def fixture_local() -> InMemoryExporter:
    """promptrail's own records in the sending process (synchronous)."""
    return InMemoryExporter()


def provider_to(
    server: ServerThread,
    *,
    path: str = "/v1/traces",
    headers: dict[str, str] | None = None,
    batch: bool = True,
    compression: Compression | None = None,
) -> TracerProvider:
    """A local SDK provider exporting over OTLP/HTTP protobuf to the receiver (never global)."""
    exporter = OTLPSpanExporter(
        endpoint=server.url + path,
        headers=headers if headers is not None else {"X-API-KEY": KEY},
        timeout=5,
        compression=compression,
    )
    processor: SpanProcessor = (
        BatchSpanProcessor(exporter, schedule_delay_millis=60_000)
        if batch
        else SimpleSpanProcessor(exporter)
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider


def install(local: InMemoryExporter, provider: TracerProvider, *, content: bool) -> None:
    bridge = OtelBridge(tracer_provider=provider, capture_content=content)
    promptrail.configure(processors=[promptrail.SimpleProcessor(local), bridge])


@promptrail.log_prompt(path="support/answer", model="gpt-4o", provider="openai")
def answer(question: str, messages: list[dict[str, Any]]) -> str:
    promptrail.update_current(prompt_tokens=12, output_tokens=3, finish_reason="stop")
    return "Paris"


@promptrail.log_tool(path="tools/get_weather")
def get_weather(city: str) -> str:
    if city == "Atlantis":
        raise LookupError("no such city")
    return "rainy, 14C"


@promptrail.log_flow(path="support/flow")
def flow(question: str) -> str:
    get_weather("Paris")
    with contextlib.suppress(LookupError):
        get_weather("Atlantis")
    return answer(question, messages=[{"role": "user", "content": question}])


def run_flow(local: InMemoryExporter, provider: TracerProvider) -> list[LogRecord]:
    """Run the flow, export every span, and return promptrail's own records."""
    assert flow("Capital of France?") == "Paris"
    assert provider.force_flush(5_000)
    promptrail.flush()
    provider.shutdown()
    records = list(local.records)
    assert len(records) == 4
    return records


def assert_same_logs(sent: list[LogRecord], stored: list[LogRecord], *, content: bool) -> None:
    """The receiver holds the same logs: ids, tree, kinds, paths, times, tokens, errors."""
    by_id = {r.log_id: r for r in stored}
    assert set(by_id) == {r.log_id for r in sent}
    for record in sent:
        got = by_id[record.log_id]
        assert (got.path, got.kind) == (record.path, record.kind)
        assert (got.trace_id, got.trace_parent_id) == (record.trace_id, record.trace_parent_id)
        assert (got.start_time, got.end_time) == (record.start_time, record.end_time)
        assert (got.prompt_tokens, got.output_tokens) == (
            record.prompt_tokens,
            record.output_tokens,
        )
        assert got.finish_reason == record.finish_reason
        assert got.error == record.error
        assert got.metadata["otel.span_id"] == record.metadata["otel.span_id"]
        assert got.metadata["otel.trace_id"] == record.metadata["otel.trace_id"]
        if record.kind == "prompt":
            assert got.prompt is not None
            assert record.prompt is not None
            assert (got.prompt.model, got.prompt.provider) == (
                record.prompt.model,
                record.prompt.provider,
            )
        if content:
            assert got.messages == record.messages
            assert got.output == record.output
            if record.kind != "prompt":  # a prompt's arguments are not span attributes
                assert got.inputs == record.inputs
        else:
            assert got.messages is None
            assert got.output is None


class TestOtlpRoundTrip:
    """promptrail → OtelBridge → OTLPSpanExporter → the receiver → the same logs."""

    def test_protobuf_batch_with_content(
        self, server: ServerThread, store: SqliteStore, local: InMemoryExporter
    ) -> None:
        """A batched protobuf export stores every log, tree and messages included."""
        provider = provider_to(server)
        install(local, provider, content=True)
        sent = run_flow(local, provider)
        stored = store.logs(limit=100)
        assert_same_logs(sent, stored, content=True)
        root = next(r for r in sent if r.kind == "flow")
        (tree_root,) = [r for r in store.trace(root.trace_id) if r.trace_parent_id is None]
        assert tree_root.log_id == root.log_id
        errors = [r for r in stored if r.error]
        assert len(errors) == 1
        assert errors[0].error == "LookupError: no such city"
        prompt = next(r for r in stored if r.kind == "prompt")
        assert prompt.messages is not None
        assert prompt.messages[0].content == "Capital of France?"

    def test_content_off_sends_no_messages(
        self, server: ServerThread, store: SqliteStore, local: InMemoryExporter
    ) -> None:
        """Without content capture the logs arrive with structure and tokens, no messages."""
        provider = provider_to(server)
        install(local, provider, content=False)
        sent = run_flow(local, provider)
        assert_same_logs(sent, store.logs(limit=100), content=False)

    def test_one_request_per_span_keeps_the_tree(
        self, server: ServerThread, store: SqliteStore, local: InMemoryExporter
    ) -> None:
        """Children exported before their parent, one request each, still get their parents."""
        provider = provider_to(server, batch=False)
        install(local, provider, content=True)
        sent = run_flow(local, provider)
        assert_same_logs(sent, store.logs(limit=100), content=True)

    def test_gzip_and_bearer_on_the_v5_path(
        self, server: ServerThread, store: SqliteStore, local: InMemoryExporter
    ) -> None:
        """A gzip-compressed export to /v5/import/otel/v1/traces with a Bearer key is stored."""
        provider = provider_to(
            server,
            path="/v5/import/otel/v1/traces",
            headers={"Authorization": f"Bearer {KEY}"},
            compression=Compression.Gzip,
        )
        install(local, provider, content=True)
        sent = run_flow(local, provider)
        assert_same_logs(sent, store.logs(limit=100), content=True)

    def test_app_spans_are_ignored_and_skipped_in_the_tree(
        self, server: ServerThread, store: SqliteStore, local: InMemoryExporter
    ) -> None:
        """Non-GenAI spans make no log; a GenAI span under one still links to its log parent."""
        provider = provider_to(server)
        install(local, provider, content=False)
        tracer = provider.get_tracer("app")

        @promptrail.log_flow(path="app/flow")
        def outer() -> None:
            with tracer.start_as_current_span("GET /weather"):
                get_weather("Paris")

        with tracer.start_as_current_span("request"):
            outer()
        assert provider.force_flush(5_000)
        provider.shutdown()
        stored = {r.path: r for r in store.logs(limit=100)}
        assert set(stored) == {"app/flow", "tools/get_weather"}
        assert stored["tools/get_weather"].trace_parent_id == stored["app/flow"].log_id

    def test_repeated_export_is_idempotent(
        self, server: ServerThread, store: SqliteStore, local: InMemoryExporter
    ) -> None:
        """The same spans sent twice (an exporter retry) are stored once."""
        memory = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        install(local, provider, content=False)
        flow("q")
        body = encode_spans(memory.get_finished_spans()).SerializeToString()
        for _ in range(2):
            response = post(server, body)
            assert response.status_code == 200
        assert store.count() == 4


def post(
    server: ServerThread,
    body: bytes,
    *,
    content_type: str = "application/x-protobuf",
    path: str = "/v1/traces",
    headers: dict[str, str] | None = None,
) -> httpx2.Response:
    """POST a raw body to the OTLP endpoint (the key in X-API-KEY unless ``headers`` say)."""
    sent = {"X-API-KEY": KEY} if headers is None else dict(headers)
    sent["Content-Type"] = content_type
    return httpx2.post(server.url + path, content=body, headers=sent, timeout=5)


def kv(key: str, value: Any) -> dict[str, Any]:
    """An OTLP/JSON KeyValue."""
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, list):
        return {
            "key": key,
            "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}},
        }
    return {"key": key, "value": {"stringValue": value}}


def json_export() -> dict[str, Any]:
    """An OTLP/JSON export (hex ids, lowerCamelCase): an agent span, a chat child, an app span."""
    messages = [{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]
    chat = {
        "traceId": TRACE_HEX,
        "spanId": CHILD_HEX,
        "parentSpanId": APP_HEX,
        "name": "chat gpt-4o-mini",
        "kind": 3,
        "startTimeUnixNano": "1767225600000000000",
        "endTimeUnixNano": "1767225600500000000",
        "attributes": [
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.provider.name", "openai"),
            kv("gen_ai.request.model", "gpt-4o-mini"),
            kv("gen_ai.usage.input_tokens", 21),
            kv("gen_ai.usage.output_tokens", 4),
            kv("gen_ai.response.finish_reasons", ["stop"]),
            kv("gen_ai.input.messages", json.dumps(messages)),
        ],
        "status": {"code": 2, "message": "rate limited"},
        "unknownField": {"is": "ignored"},
    }
    app = {
        "traceId": TRACE_HEX,
        "spanId": APP_HEX,
        "parentSpanId": PARENT_HEX,
        "name": "POST /chat",
        "startTimeUnixNano": "1767225599900000000",
        "endTimeUnixNano": "1767225600600000000",
        "attributes": [kv("http.request.method", "POST")],
    }
    agent = {
        "traceId": TRACE_HEX,
        "spanId": PARENT_HEX,
        "name": "invoke_agent helper",
        "startTimeUnixNano": "1767225599000000000",
        "endTimeUnixNano": "1767225601000000000",
        "attributes": [
            kv("gen_ai.operation.name", "invoke_agent"),
            kv("gen_ai.agent.name", "helper"),
        ],
    }
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [kv("service.name", "chat-app")]},
                "scopeSpans": [
                    {"scope": {"name": "opentelemetry.instrumentation.openai_v2"}, "spans": [chat]},
                    {"scope": {"name": "app"}, "spans": [app, agent]},
                ],
            }
        ]
    }


class TestOtlpJson:
    """The OTLP JSON encoding (hex ids, lowerCamelCase names)."""

    def test_json_export_is_stored(self, server: ServerThread, store: SqliteStore) -> None:
        """GenAI spans of a JSON export become logs; the app span between them is skipped."""
        response = post(server, json.dumps(json_export()).encode(), content_type="application/json")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == {}
        stored = {r.kind: r for r in store.logs(limit=10)}
        assert set(stored) == {"prompt", "flow"}
        chat, agent = stored["prompt"], stored["flow"]
        assert agent.path == "helper"
        assert chat.path == "openai/gpt-4o-mini"
        assert chat.trace_parent_id == agent.log_id
        assert chat.trace_id == agent.log_id
        assert chat.log_id == _processor.span_log_id(
            int(TRACE_HEX, 16), int(CHILD_HEX, 16), 1767225600000000000
        )
        assert (chat.prompt_tokens, chat.output_tokens) == (21, 4)
        assert chat.finish_reason == "stop"
        assert chat.error == "Error: rate limited"
        assert chat.messages is not None
        assert chat.messages[0].content == "Hi"
        assert chat.metadata["otel.trace_id"] == TRACE_HEX
        assert chat.metadata["otel.span_id"] == CHILD_HEX
        assert chat.metadata["otel.scope"] == "opentelemetry.instrumentation.openai_v2"

    def test_json_and_protobuf_give_the_same_records(
        self, server: ServerThread, db: Path, tmp_path: Path
    ) -> None:
        """The exporter's protobuf, re-encoded as OTLP/JSON, stores identical records."""
        provider = TracerProvider()
        memory = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer = provider.get_tracer("instr")
        with tracer.start_as_current_span(
            "chat m", kind=SpanKind.CLIENT, attributes={"gen_ai.operation.name": "chat"}
        ) as span:
            span.set_attributes({"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 5})
            span.set_status(Status(StatusCode.ERROR, "boom"))
        message = encode_spans(memory.get_finished_spans())
        as_json = to_otlp_json(json_format.MessageToDict(message))
        assert post(server, message.SerializeToString()).status_code == 200
        (from_protobuf,) = SqliteStore(db).logs()
        with ServerThread(create_app(db_path=tmp_path / "json.db", api_keys=[KEY])) as other:
            response = post(other, json.dumps(as_json).encode(), content_type="application/json")
            assert response.status_code == 200
        (from_json,) = SqliteStore(tmp_path / "json.db").logs()
        assert from_json.to_body() == from_protobuf.to_body()

    def test_spans_without_valid_ids_are_dropped(
        self, server: ServerThread, store: SqliteStore
    ) -> None:
        """A span with an all-zero or missing span id makes no log; the rest are stored."""
        data = json_export()
        scopes = data["resourceSpans"][0]["scopeSpans"]
        scopes[0]["spans"][0]["spanId"] = "0" * 16
        del scopes[1]["spans"][1]["spanId"]
        response = post(server, json.dumps(data).encode(), content_type="application/json")
        assert response.status_code == 200
        assert store.count() == 0
        del scopes[0]["spans"][0]["spanId"]
        scopes[1]["spans"][1]["spanId"] = PARENT_HEX
        response = post(server, json.dumps(data).encode(), content_type="application/json")
        assert response.status_code == 200
        assert [r.kind for r in store.logs()] == ["flow"]

    def test_bad_hex_id_is_400(self, server: ServerThread, store: SqliteStore) -> None:
        """An id that is not hex is refused as undecodable, in the JSON Status shape."""
        data = json_export()
        data["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = "not-hex!"
        response = post(server, json.dumps(data).encode(), content_type="application/json")
        assert response.status_code == 400
        assert "spanId" in response.json()["message"]
        assert store.count() == 0


def to_otlp_json(value: Any) -> Any:
    """protobuf's JSON (base64 ids) → OTLP/JSON (hex ids)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(item, str):
                out[key] = base64.b64decode(item).hex()
            else:
                out[key] = to_otlp_json(item)
        return out
    if isinstance(value, list):
        return [to_otlp_json(v) for v in value]
    return value


def chat_export() -> bytes:
    """A protobuf export of one GenAI chat span."""
    provider = TracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("instr").start_as_current_span(
        "chat m", attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
    ):
        pass
    return encode_spans(memory.get_finished_spans()).SerializeToString()


class TestOtlpErrors:
    """Auth, limits, content types and undecodable bodies, answered as a collector would."""

    @pytest.mark.parametrize(
        "headers",
        [{}, {"X-API-KEY": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}],
    )
    def test_missing_or_wrong_key_is_401(
        self, server: ServerThread, store: SqliteStore, headers: dict[str, str]
    ) -> None:
        """Without a valid key nothing is stored, on both paths."""
        for path in ("/v1/traces", "/v5/import/otel/v1/traces"):
            response = post(server, chat_export(), path=path, headers=headers)
            assert response.status_code == 401
            assert response.headers["content-type"] == "application/x-protobuf"
            assert b"API key" in response.content
        assert store.count() == 0

    def test_protobuf_success_is_an_export_response(
        self, server: ServerThread, store: SqliteStore
    ) -> None:
        """200 with a (decodable, empty) ExportTraceServiceResponse."""
        response = post(server, chat_export(), headers={"Authorization": f"Bearer {KEY}"})
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/x-protobuf"
        parsed = ExportTraceServiceResponse.FromString(response.content)
        assert not parsed.HasField("partial_success")
        assert store.count() == 1

    def test_body_over_the_limit_is_413(self, server: ServerThread, store: SqliteStore) -> None:
        """A body over ``max_body_bytes`` is refused, nothing stored."""
        response = post(server, b"\x00" * (LIMIT + 1))
        assert response.status_code == 413
        assert store.count() == 0

    def test_gzip_bomb_is_413(self, server: ServerThread, store: SqliteStore) -> None:
        """A small gzip body that inflates past the limit is refused."""
        bomb = gzip.compress(b"\x00" * (LIMIT * 20))
        assert len(bomb) < LIMIT
        response = post(server, bomb, headers={"X-API-KEY": KEY, "Content-Encoding": "gzip"})
        assert response.status_code == 413
        assert store.count() == 0

    @pytest.mark.parametrize("encoding", ["gzip", "deflate", "identity"])
    def test_compressed_body_is_accepted(
        self, server: ServerThread, store: SqliteStore, encoding: str
    ) -> None:
        """A gzip or deflate Content-Encoding is undone before decoding."""
        compress = {"gzip": gzip.compress, "deflate": zlib.compress, "identity": bytes}[encoding]
        body = compress(chat_export())
        response = post(server, body, headers={"X-API-KEY": KEY, "Content-Encoding": encoding})
        assert response.status_code == 200
        assert store.count() == 1

    def test_json_errors_are_json_status(self, server: ServerThread) -> None:
        """A JSON request's error is a JSON google.rpc.Status (code and message)."""
        body = json.dumps(json_export()).encode()
        response = post(server, body, content_type="application/json", headers={})
        assert response.status_code == 401
        assert response.json()["code"] == 16  # UNAUTHENTICATED
        assert "API key" in response.json()["message"]

    def test_locked_store_is_503_with_retry_after(
        self, db: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A store locked past its busy timeout answers 503 + Retry-After (exporters retry)."""
        app = create_app(db_path=db, api_keys=[KEY])

        def locked(records: Any) -> None:
            raise sqlite3.OperationalError("database is locked")

        monkeypatch.setattr(app.state.store, "insert", locked)
        with ServerThread(app) as server:
            response = post(server, chat_export())
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"


class TestBearerKey:
    """``Authorization: Bearer <key>`` is accepted wherever ``X-API-KEY`` is."""

    def test_bearer_key_reads_the_log_api(self, server: ServerThread) -> None:
        """The /v5 API accepts a Bearer key; a wrong one is 401."""
        good = httpx2.get(server.url + "/v5/logs", headers={"Authorization": f"bearer {KEY}"})
        assert good.status_code == 200
        bad = httpx2.get(server.url + "/v5/logs", headers={"Authorization": f"Basic {KEY}"})
        assert bad.status_code == 401


class TestLazyImport:
    """The receiver imports opentelemetry-proto and the SDK on the first OTLP request only."""

    def test_create_app_does_not_import_proto(self, tmp_path: Path) -> None:
        """Building the app leaves opentelemetry.proto and opentelemetry.sdk unimported."""
        code = (
            "import sys\n"
            "from promptrail.server import create_app\n"
            f"create_app(db_path={str(tmp_path / 'x.db')!r}, api_keys=['k'])\n"
            "lazy = ('opentelemetry.proto', 'opentelemetry.sdk', 'google.protobuf')\n"
            "print(sorted(m for m in sys.modules if m.startswith(lazy)))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
        )
        assert out.stdout.strip() == "[]"

    @pytest.mark.parametrize(
        ("content_type", "encoding"),
        [("text/plain", None), ("", None), ("application/x-protobuf", "br")],
    )
    def test_unknown_content_type_or_encoding_is_415(
        self, server: ServerThread, store: SqliteStore, content_type: str, encoding: str | None
    ) -> None:
        """Only protobuf and JSON, plain or gzip, are accepted."""
        headers = {"X-API-KEY": KEY}
        if encoding is not None:
            headers["Content-Encoding"] = encoding
        response = post(server, chat_export(), content_type=content_type, headers=headers)
        assert response.status_code == 415
        assert store.count() == 0

    @pytest.mark.parametrize(
        ("body", "content_type"),
        [
            (b"\xff\xff\xff\xff", "application/x-protobuf"),
            (b"{not json", "application/json"),
            (b"[1, 2]", "application/json"),
            (b'{"resourceSpans": 7}', "application/json"),
            (b"\x1f\x8b\x08\x00garbage", "gzip"),
        ],
    )
    def test_undecodable_body_is_400(
        self, server: ServerThread, store: SqliteStore, body: bytes, content_type: str
    ) -> None:
        """Bodies that do not decode get 400 with a Status message, nothing stored."""
        headers = {"X-API-KEY": KEY}
        if content_type == "gzip":
            headers["Content-Encoding"] = "gzip"
            content_type = "application/x-protobuf"
        response = post(server, body, content_type=content_type, headers=headers)
        assert response.status_code == 400
        assert store.count() == 0

    def test_unconvertible_span_is_a_partial_success(
        self, server: ServerThread, store: SqliteStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A span whose record cannot be built is skipped and counted; the others are stored."""
        real = _genai.span_record

        def flaky(span: ReadableSpan, *args: Any) -> LogRecord:
            if span.name == "chat bad":
                raise ValueError("bad span")
            return real(span, *args)

        monkeypatch.setattr(_processor, "span_record", flaky)
        provider = TracerProvider()
        memory = InMemorySpanExporter()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer = provider.get_tracer("instr")
        for name in ("chat good", "chat bad"):
            with tracer.start_as_current_span(name, attributes={"gen_ai.operation.name": "chat"}):
                pass
        body = encode_spans(memory.get_finished_spans()).SerializeToString()
        response = post(server, body)
        assert response.status_code == 200
        parsed = ExportTraceServiceResponse.FromString(response.content)
        assert parsed.partial_success.rejected_spans == 1
        assert "chat bad" in parsed.partial_success.error_message
        assert [r.metadata["otel.span_name"] for r in store.logs()] == ["chat good"]


class TestServeCommand:
    """``promptrail serve`` itself, in a subprocess, takes an OTLP export."""

    def test_serve_accepts_otlp(self, tmp_path: Path, serve_command: Callable[..., Any]) -> None:
        """The command's receiver stores the GenAI spans of a real OTLP exporter."""
        db = tmp_path / "served.db"
        served = serve_command("--db", str(db), keys=KEY)
        exporter = OTLPSpanExporter(
            endpoint=served.url + "/v1/traces",
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=5,
        )
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with provider.get_tracer("instr").start_as_current_span(
            "chat m", attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"}
        ):
            pass
        provider.shutdown()
        output = served.stop()
        assert served.url + "/v1/traces" in output
        assert [r.path for r in SqliteStore(db, create=False).logs()] == ["genai/m"]
