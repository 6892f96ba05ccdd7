"""The receiver's OTLP/HTTP logs endpoint, and what it and the traces endpoint say they rejected."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("opentelemetry.proto")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")

import httpx2
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from tests.fixtures.openllmetry_052 import OPENLLMETRY_052_STREAM, OPENLLMETRY_052_TOOL_CALL

from promptrail.exporters import SqliteStore
from promptrail.server import ServerThread, create_app

KEY = "logs-key-0123456789"
TRACE_HEX = "5b8efff798038103d269b633813fc60c"
SPAN_HEX = "eee19b7ec3c1b174"


@pytest.fixture(name="db")
def fixture_db(tmp_path: Path) -> Path:
    """The receiver's SQLite file."""
    return tmp_path / "logs.db"


@pytest.fixture(name="server")
def fixture_server(db: Path) -> Iterator[ServerThread]:
    """The receiver app ``promptrail serve`` runs, on a free port of 127.0.0.1."""
    with ServerThread(create_app(db_path=db, api_keys=[KEY])) as server:
        yield server


def post(
    server: ServerThread,
    path: str,
    body: bytes,
    content_type: str | None = "application/json",
    key: str | None = KEY,
) -> httpx2.Response:
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return httpx2.post(server.url + path, content=body, headers=headers, timeout=5)


def kv(key: str, value: Any) -> dict[str, Any]:
    return {"key": key, "value": value}


def span_request(span_id: str = SPAN_HEX) -> bytes:
    """An OTLP/JSON traces export with one official-instrumentation chat span, no messages."""
    span = {
        "traceId": TRACE_HEX,
        "spanId": span_id,
        "name": "chat gpt-4o",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        "attributes": [
            kv("gen_ai.operation.name", {"stringValue": "chat"}),
            kv("gen_ai.system", {"stringValue": "openai"}),
            kv("gen_ai.request.model", {"stringValue": "gpt-4o"}),
        ],
    }
    scope = {"scope": {"name": "opentelemetry.instrumentation.openai_v2"}, "spans": [span]}
    return json.dumps({"resourceSpans": [{"scopeSpans": [scope]}]}).encode()


def event(name: str, body: dict[str, Any], trace_id: str | None, span_id: str | None) -> Any:
    values = [kv(k, {"stringValue": v}) for k, v in body.items() if isinstance(v, str)]
    record: dict[str, Any] = {"eventName": name, "body": {"kvlistValue": {"values": values}}}
    if trace_id is not None:
        record["traceId"] = trace_id
    if span_id is not None:
        record["spanId"] = span_id
    return record


def logs_request(*records: dict[str, Any]) -> bytes:
    scope = {"scope": {"name": "opentelemetry.instrumentation.openai_v2"}, "logRecords": records}
    return json.dumps({"resourceLogs": [{"scopeLogs": [scope]}]}).encode()


def user_and_choice(trace_id: str = TRACE_HEX, span_id: str = SPAN_HEX) -> bytes:
    choice = event("gen_ai.choice", {}, trace_id, span_id)
    message = {"kvlistValue": {"values": [kv("content", {"stringValue": "Paris."})]}}
    choice["body"]["kvlistValue"]["values"] = [
        kv("finish_reason", {"stringValue": "stop"}),
        kv("message", message),
    ]
    return logs_request(
        event("gen_ai.user.message", {"content": "Capital of France?"}, trace_id, span_id),
        choice,
    )


def only_log(db: Path) -> Any:
    (record,) = SqliteStore(db).logs()
    return record


@pytest.mark.parametrize("events_first", [True, False], ids=["events-first", "span-first"])
def test_events_join_their_span_in_either_order(
    server: ServerThread, db: Path, events_first: bool
) -> None:
    """Events posted before or after their span end up in the span's log."""
    requests = [("/v1/logs", user_and_choice()), ("/v1/traces", span_request())]
    for path, body in requests if events_first else requests[::-1]:
        response = post(server, path, body)
        assert response.status_code == 200
        assert response.json() == {}
    record = only_log(db)
    assert [(m.role, m.content) for m in record.messages] == [("user", "Capital of France?")]
    assert (record.output, record.finish_reason) == ("Paris.", "stop")


def test_base64_ids_without_content_type_under_v5(server: ServerThread, db: Path) -> None:
    """Protobuf's JSON mapping (base64 ids), sent with no Content-Type, is read too."""
    assert post(server, "/v1/traces", span_request()).status_code == 200
    trace_b64 = base64.b64encode(bytes.fromhex(TRACE_HEX)).decode()
    span_b64 = base64.b64encode(bytes.fromhex(SPAN_HEX)).decode()
    body = user_and_choice(trace_b64, span_b64)
    response = post(server, "/v5/import/otel/v1/logs", body, content_type=None)
    assert response.status_code == 200
    assert only_log(db).output == "Paris."


def test_events_without_a_span_are_a_partial_success(server: ServerThread) -> None:
    """GenAI events with no trace or span id are counted as rejected, in protobuf too."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    body = logs_request(
        event("gen_ai.user.message", {"content": "Hi"}, None, None),
        event("app.started", {}, None, None),
    )
    response = post(server, "/v1/logs", body)
    assert response.json()["partialSuccess"]["rejectedLogRecords"] == "1"
    message = json_format.Parse(body, ExportLogsServiceRequest())
    raw = post(server, "/v1/logs", message.SerializeToString(), "application/x-protobuf")
    parsed = ExportLogsServiceResponse.FromString(raw.content)
    assert parsed.partial_success.rejected_log_records == 1
    assert "trace and span id" in parsed.partial_success.error_message


def test_logs_need_a_key_and_a_known_encoding(server: ServerThread) -> None:
    """No key is 401, an unknown Content-Type 415, an undecodable body 400."""
    assert post(server, "/v1/logs", user_and_choice(), key=None).status_code == 401
    assert post(server, "/v1/logs", b"x", content_type="text/plain").status_code == 415
    assert post(server, "/v1/logs", b"{not json").status_code == 400
    bad_id = logs_request(event("gen_ai.user.message", {}, "zz", SPAN_HEX))
    assert post(server, "/v1/logs", bad_id).status_code == 400


def test_spans_without_valid_ids_are_a_partial_success(server: ServerThread, db: Path) -> None:
    """A span whose id is all zeros is counted as rejected; the valid one is stored."""
    good = json.loads(span_request())
    bad = json.loads(span_request("0000000000000000"))
    spans = good["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans += bad["resourceSpans"][0]["scopeSpans"][0]["spans"]
    response = post(server, "/v1/traces", json.dumps(good).encode())
    assert response.status_code == 200
    success = response.json()["partialSuccess"]
    assert success["rejectedSpans"] == "1"
    assert "valid trace or span id" in success["errorMessage"]
    assert SqliteStore(db).count() == 1


def test_openllmetry_052_spans_over_otlp(server: ServerThread, db: Path) -> None:
    """OpenLLMetry 0.52's tool calls and tools offered arrive through the OTLP receiver."""
    exporter = OTLPSpanExporter(endpoint=server.url + "/v1/traces", headers={"X-API-KEY": KEY})
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("opentelemetry.instrumentation.openai.v1")
    for attrs in (OPENLLMETRY_052_TOOL_CALL, OPENLLMETRY_052_STREAM):
        with tracer.start_as_current_span("openai.chat", attributes=attrs):
            pass
    provider.shutdown()
    first, second = sorted(SqliteStore(db).logs(), key=lambda r: r.start_time)
    assert first.prompt is not None
    assert first.prompt.tools is not None
    assert first.prompt.tools[0]["function"]["name"] == "weather"
    assert first.output_message is not None
    assert first.output_message.tool_calls is not None
    assert first.output_message.tool_calls[0].id == "call_1"
    assert second.messages is not None
    assert second.messages[2].tool_call_id == "call_1"
