"""instrument_bedrock(): real boto3 clients answered by botocore's Stubber or raw event streams."""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

import promptrail
from promptrail import ConfigurationError, LogRecord, log_prompt
from promptrail.testing import capture_logs

boto3 = pytest.importorskip("boto3")
from botocore.awsrequest import AWSResponse  # noqa: E402
from botocore.client import BaseClient  # noqa: E402
from botocore.exceptions import ClientError, EventStreamError  # noqa: E402
from botocore.response import StreamingBody  # noqa: E402
from botocore.stub import Stubber  # noqa: E402

SONNET = "anthropic.claude-3-5-sonnet-20240620-v1:0"
SONNET_4 = "us.anthropic.claude-sonnet-4-20250514-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Capital of France?"}]}]
REPLY = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Paris."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 1000, "outputTokens": 1000, "totalTokens": 2000},
    "metrics": {"latencyMs": 5},
}


@pytest.fixture(autouse=True)
def _uninstrumented() -> Iterator[None]:
    yield
    promptrail.uninstrument_bedrock()


@pytest.fixture
def payloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Record provider_request/provider_response for the test."""
    import dataclasses

    from promptrail._runtime.state import STATE

    monkeypatch.setattr(
        STATE, "settings", dataclasses.replace(STATE.settings, capture_provider_payloads=True)
    )


def client() -> Any:
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )


def stubbed(*responses: tuple[str, dict[str, Any]]) -> Any:
    bedrock = client()
    stubber = Stubber(bedrock)
    for operation, response in responses:
        stubber.add_response(operation, response)
    stubber.activate()
    return bedrock


def only(logs: list[LogRecord]) -> LogRecord:
    assert len(logs) == 1, [r.path for r in logs]
    return logs[0]


# -- a ConverseStream answered from raw event-stream bytes (Stubber cannot make an EventStream) --


def _header(name: str, value: str) -> bytes:
    key, text = name.encode(), value.encode()
    return bytes([len(key)]) + key + b"\x07" + struct.pack(">H", len(text)) + text


def _message(name: str, payload: dict[str, Any], kind: str = "event") -> bytes:
    """One message of the AWS event-stream encoding (prelude, headers, payload, CRCs)."""
    headers = (
        _header(":event-type" if kind == "event" else ":exception-type", name)
        + _header(":content-type", "application/json")
        + _header(":message-type", kind)
    )
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 12 + len(headers) + len(body) + 4, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + headers + body
    return message + struct.pack(">I", zlib.crc32(message))


class _Raw:
    """The urllib3 response botocore reads an event stream from, in small pieces."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, amt: int = 1024, decode_content: Any = None) -> Iterator[bytes]:
        for start in range(0, len(self._data), 11):
            yield self._data[start : start + 11]

    def read(self, *args: Any) -> bytes:
        return self._data

    def close(self) -> None:
        pass


def streaming(events: list[tuple[str, dict[str, Any]]], error: str | None = None) -> Any:
    """A client whose ConverseStream answers ``events`` (then the exception ``error``)."""
    data = b"".join(_message(name, payload) for name, payload in events)
    if error is not None:
        data += _message(error, {"message": "stream broke"}, kind="exception")
    bedrock = client()

    def send(request: Any, **_: Any) -> AWSResponse:
        headers = {"content-type": "application/vnd.amazon.eventstream"}
        return AWSResponse(request.url, 200, headers, _Raw(data))

    bedrock.meta.events.register("before-send.bedrock-runtime.ConverseStream", send)
    return bedrock


STREAM_EVENTS = [
    ("messageStart", {"role": "assistant"}),
    ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Hm."}}}),
    ("contentBlockStop", {"contentBlockIndex": 0}),
    ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "Let me "}}),
    ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "look."}}),
    ("contentBlockStop", {"contentBlockIndex": 1}),
    (
        "contentBlockStart",
        {"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "t1", "name": "lookup"}}},
    ),
    ("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": '{"city": '}}}),
    ("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"toolUse": {"input": '"Paris"}'}}}),
    ("contentBlockStop", {"contentBlockIndex": 2}),
    ("messageStop", {"stopReason": "tool_use"}),
    (
        "metadata",
        {
            "usage": {"inputTokens": 20, "outputTokens": 9, "totalTokens": 29},
            "metrics": {"latencyMs": 7},
        },
    ),
]


class TestConverse:
    """converse: request, response, tokens, costs and errors."""

    def test_converse_completes_the_decorated_log(self) -> None:
        """System, messages, inference config, tokens, stop reason and the list price."""
        bedrock = stubbed(("converse", REPLY))
        promptrail.instrument_bedrock()

        @log_prompt(path="p")
        def answer() -> str:
            reply = bedrock.converse(
                modelId=SONNET,
                messages=MESSAGES,
                system=[{"text": "Be brief."}],
                inferenceConfig={"maxTokens": 50, "temperature": 0.1, "stopSequences": ["."]},
            )
            return str(reply["output"]["message"]["content"][0]["text"])

        with capture_logs() as logs:
            text = answer()
        record = only(logs)
        assert record.path == "p"
        assert record.output == text == "Paris."
        assert [(m.role, m.content) for m in record.messages or []] == [
            ("system", "Be brief."),
            ("user", "Capital of France?"),
        ]
        assert record.prompt is not None
        assert (record.prompt.model, record.prompt.provider) == (SONNET, "bedrock")
        assert (record.prompt.max_tokens, record.prompt.temperature, record.prompt.stop) == (
            50,
            0.1,
            ["."],
        )
        assert (record.prompt_tokens, record.output_tokens) == (1000, 1000)
        assert record.finish_reason == "end_turn"
        # Claude 3.5 Sonnet on Bedrock: $3/M input, $15/M output
        assert record.prompt_cost == pytest.approx(1000 * 3.0 / 1e6)
        assert record.output_cost == pytest.approx(1000 * 15.0 / 1e6)
        assert record.metadata["price_source"].startswith("genai-prices ")

    @pytest.mark.usefixtures("payloads")
    def test_converse_outside_any_log_is_its_own_log(self) -> None:
        """Outside a log, a call is a prompt log at bedrock/converse."""
        bedrock = stubbed(("converse", REPLY))
        promptrail.instrument_bedrock()
        with capture_logs() as logs:
            bedrock.converse(modelId=SONNET, messages=MESSAGES)
        record = only(logs)
        assert record.path == "bedrock/converse"
        assert record.kind == "prompt"
        assert record.provider_response is not None
        assert record.provider_response["stopReason"] == "end_turn"

    def test_tool_use_and_tool_results_round_trip(self) -> None:
        """toolConfig, a tool use and its result are tools, tool calls and a tool message."""
        tool_config = {
            "tools": [
                {
                    "toolSpec": {
                        "name": "lookup",
                        "description": "Look a city up.",
                        "inputSchema": {"json": {"type": "object", "properties": {}}},
                    }
                }
            ],
            "toolChoice": {"tool": {"name": "lookup"}},
        }
        history = [
            *MESSAGES,
            {
                "role": "assistant",
                "content": [
                    {"text": "Checking."},
                    {"toolUse": {"toolUseId": "t1", "name": "lookup", "input": {"city": "Paris"}}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"toolResult": {"toolUseId": "t1", "content": [{"json": {"country": "FR"}}]}}
                ],
            },
        ]
        reply = {
            **REPLY,
            "output": {
                "message": {
                    "role": "assistant",
                    "content": [
                        {
                            "toolUse": {
                                "toolUseId": "t2",
                                "name": "lookup",
                                "input": {"city": "Lyon"},
                            }
                        }
                    ],
                }
            },
            "stopReason": "tool_use",
        }
        bedrock = stubbed(("converse", reply))
        promptrail.instrument_bedrock()
        with capture_logs() as logs:
            bedrock.converse(modelId=SONNET, messages=history, toolConfig=tool_config)
        record = only(logs)
        messages = record.messages or []
        assert [m.role for m in messages] == ["user", "assistant", "tool"]
        assert messages[1].content == "Checking."
        assert messages[1].tool_calls is not None
        sent = messages[1].tool_calls[0]
        assert (sent.id, sent.function.name) == ("t1", "lookup")
        assert json.loads(sent.function.arguments or "") == {"city": "Paris"}
        assert (messages[2].tool_call_id, messages[2].content) == ("t1", '{"country": "FR"}')
        assert record.prompt is not None
        assert record.prompt.tools == [
            {
                "name": "lookup",
                "description": "Look a city up.",
                "parameters": {"type": "object", "properties": {}},
            }
        ]
        assert record.tool_choice == {"type": "function", "function": {"name": "lookup"}}
        assert record.finish_reason == "tool_use"
        assert record.output_message is not None
        assert record.output_message.tool_calls is not None
        call = record.output_message.tool_calls[0]
        assert (call.id, json.loads(call.function.arguments or "")) == ("t2", {"city": "Lyon"})

    def test_cache_tokens_are_counted_and_priced(self) -> None:
        """Cache reads and writes join the prompt tokens and are priced at their own rates."""
        usage = {
            "inputTokens": 300,
            "outputTokens": 1000,
            "totalTokens": 2000,
            "cacheReadInputTokens": 500,
            "cacheWriteInputTokens": 200,
        }
        bedrock = stubbed(("converse", {**REPLY, "usage": usage}))
        promptrail.instrument_bedrock()
        with capture_logs() as logs:
            bedrock.converse(modelId=SONNET_4, messages=MESSAGES)
        record = only(logs)
        assert record.prompt_tokens == 1000
        assert record.metadata["cached_prompt_tokens"] == 500
        assert record.metadata["cache_creation_prompt_tokens"] == 200
        # Claude Sonnet 4 on Bedrock: $3/M input, $0.30/M cache read, $3.75/M cache write,
        # $15/M output
        assert record.prompt_cost == pytest.approx((300 * 3.0 + 500 * 0.30 + 200 * 3.75) / 1e6)
        assert record.output_cost == pytest.approx(1000 * 15.0 / 1e6)

    def test_client_error_is_recorded_and_reraised_unchanged(self) -> None:
        """A ClientError reaches the caller as botocore raised it; the log records it."""
        bedrock = client()
        stubber = Stubber(bedrock)
        stubber.add_client_error(
            "converse",
            service_error_code="ThrottlingException",
            service_message="Too many requests",
            http_status_code=429,
        )
        stubber.activate()
        promptrail.instrument_bedrock()
        with capture_logs() as logs, pytest.raises(ClientError) as raised:
            bedrock.converse(modelId=SONNET, messages=MESSAGES)
        assert type(raised.value).__name__ == "ThrottlingException"
        assert raised.value.response["Error"]["Code"] == "ThrottlingException"
        record = only(logs)
        assert record.error is not None
        assert "Too many requests" in record.error
        assert record.output is None
        assert record.metadata["error_status"] == 429
        assert record.metadata["error_type"] == "ThrottlingException"


class TestConverseStream:
    """converse_stream: the events reach the caller unchanged; one log when they end."""

    def test_stream_is_one_log_with_text_tool_use_reasoning_and_usage(self) -> None:
        """Text pieces, tool input pieces, reasoning and the metadata usage make one log."""
        bedrock = streaming(STREAM_EVENTS)
        promptrail.instrument_bedrock()
        with capture_logs() as logs:
            response = bedrock.converse_stream(modelId=SONNET, messages=MESSAGES)
            events = list(response["stream"])
        assert events == [{name: payload} for name, payload in STREAM_EVENTS]
        record = only(logs)
        assert record.path == "bedrock/converse_stream"
        assert record.output == "Let me look."
        assert record.output_message is not None
        assert record.output_message.thinking == "Hm."
        assert record.output_message.tool_calls is not None
        call = record.output_message.tool_calls[0]
        assert (call.id, call.function.name) == ("t1", "lookup")
        assert json.loads(call.function.arguments or "") == {"city": "Paris"}
        assert (record.prompt_tokens, record.output_tokens) == (20, 9)
        assert record.finish_reason == "tool_use"
        assert record.prompt is not None
        assert (record.prompt.model, record.prompt.provider) == (SONNET, "bedrock")
        assert record.prompt_cost == pytest.approx(20 * 3.0 / 1e6)
        assert "time_to_first_token" in record.metadata

    def test_stream_in_a_decorated_function_and_the_same_log_as_without(self) -> None:
        """A streamed call completes the enclosing log like the same call without streaming."""
        bedrock = streaming(STREAM_EVENTS)
        promptrail.instrument_bedrock()

        @log_prompt(path="p")
        def answer() -> int:
            response = bedrock.converse_stream(modelId=SONNET, messages=MESSAGES)
            return sum(1 for _ in response["stream"])

        with capture_logs() as logs:
            count = answer()
        assert count == len(STREAM_EVENTS)
        record = only(logs)
        assert record.path == "p"
        assert record.output_message is not None
        assert record.output_message.content == "Let me look."
        assert (record.prompt_tokens, record.output_tokens, record.finish_reason) == (
            20,
            9,
            "tool_use",
        )

    def test_a_decorated_function_returning_the_response_ends_with_its_stream(self) -> None:
        """Returning converse_stream's response: the log ends when the caller's loop does."""
        bedrock = streaming(STREAM_EVENTS)
        promptrail.instrument_bedrock()

        @log_prompt(path="p")
        def ask() -> Any:
            return bedrock.converse_stream(modelId=SONNET, messages=MESSAGES)

        with capture_logs() as logs:
            response = ask()
            assert logs == []
            assert isinstance(response, dict)
            events = list(response["stream"])
        assert events == [{name: payload} for name, payload in STREAM_EVENTS]
        record = only(logs)
        assert (record.path, record.output, record.prompt_tokens) == ("p", "Let me look.", 20)

    def test_an_exception_event_is_recorded_and_reraised(self) -> None:
        """A stream that breaks raises botocore's error to the caller; the log keeps the part."""
        bedrock = streaming(STREAM_EVENTS[:5], error="throttlingException")
        promptrail.instrument_bedrock()
        seen: list[Any] = []

        def consume() -> None:
            seen.extend(bedrock.converse_stream(modelId=SONNET, messages=MESSAGES)["stream"])

        with capture_logs() as logs, pytest.raises(EventStreamError):
            consume()
        assert len(seen) == 5
        record = only(logs)
        assert record.error is not None
        assert "stream broke" in record.error
        assert record.output == "Let me look."


ANTHROPIC_BODY = {
    "id": "msg_bdrk_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-3-5-sonnet-20240620",
    "content": [{"type": "text", "text": "Paris."}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 1000, "output_tokens": 1000},
}


class TestInvokeModel:
    """invoke_model with Anthropic-on-Bedrock bodies."""

    @pytest.mark.usefixtures("payloads")
    def test_anthropic_body_is_read_and_the_caller_can_still_read_it(self) -> None:
        """The body is read once for the log; the caller reads the same bytes."""
        data = json.dumps(ANTHROPIC_BODY).encode()
        body = StreamingBody(io.BytesIO(data), len(data))
        bedrock = stubbed(("invoke_model", {"body": body, "contentType": "application/json"}))
        promptrail.instrument_bedrock()
        request = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 100,
            "system": "Be brief.",
            "messages": [{"role": "user", "content": "Capital of France?"}],
            "temperature": 0.2,
        }
        with capture_logs() as logs:
            response = bedrock.invoke_model(modelId=SONNET, body=json.dumps(request))
            assert json.loads(response["body"].read()) == ANTHROPIC_BODY
        record = only(logs)
        assert record.path == "bedrock/invoke_model"
        assert record.output == "Paris."
        assert [(m.role, m.content) for m in record.messages or []] == [
            ("system", "Be brief."),
            ("user", "Capital of France?"),
        ]
        assert record.prompt is not None
        assert (record.prompt.model, record.prompt.provider) == (SONNET, "bedrock")
        assert (record.prompt.max_tokens, record.prompt.temperature) == (100, 0.2)
        assert (record.prompt_tokens, record.output_tokens) == (1000, 1000)
        assert record.finish_reason == "end_turn"
        assert record.prompt_cost == pytest.approx(1000 * 3.0 / 1e6)
        assert record.output_cost == pytest.approx(1000 * 15.0 / 1e6)
        assert record.provider_response == ANTHROPIC_BODY

    def test_a_body_that_is_not_json_is_kept_as_text(self) -> None:
        """A body of another shape is the output as it came, and the caller still reads it."""
        body = StreamingBody(io.BytesIO(b"plain words"), 11)
        bedrock = stubbed(("invoke_model", {"body": body, "contentType": "text/plain"}))
        promptrail.instrument_bedrock()
        with capture_logs() as logs:
            response = bedrock.invoke_model(modelId="some.model-v1", body=b"hello")
            assert response["body"].read() == b"plain words"
        assert only(logs).output == "plain words"


class TestInstrumenting:
    """Which calls are traced, one client alone, and undoing it."""

    def test_other_operations_and_services_are_not_traced(self) -> None:
        """Only Converse, ConverseStream and InvokeModel of bedrock-runtime make logs."""
        bedrock = stubbed(("list_async_invokes", {"asyncInvokeSummaries": []}))
        s3 = boto3.client(
            "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        s3_stub = Stubber(s3)
        s3_stub.add_response("list_buckets", {"Buckets": []})
        s3_stub.activate()
        promptrail.instrument_bedrock()
        with capture_logs() as logs:
            s3.list_buckets()
            bedrock.list_async_invokes()
        assert logs == []

    def test_one_client_alone(self) -> None:
        """instrument_bedrock(client) traces that client, not another one."""
        traced = stubbed(("converse", REPLY))
        other = stubbed(("converse", REPLY))
        promptrail.instrument_bedrock(traced, path="mine")
        promptrail.instrument_bedrock(traced, path="mine")  # idempotent
        with capture_logs() as logs:
            traced.converse(modelId=SONNET, messages=MESSAGES)
            other.converse(modelId=SONNET, messages=MESSAGES)
        assert only(logs).path == "mine"

    def test_a_client_and_every_client_trace_a_call_once(self) -> None:
        """A client instrumented alone and globally makes one log per call."""
        bedrock = stubbed(("converse", REPLY))
        promptrail.instrument_bedrock(bedrock)
        promptrail.instrument_bedrock()
        with capture_logs() as logs:
            bedrock.converse(modelId=SONNET, messages=MESSAGES)
        assert len(logs) == 1

    def test_not_a_bedrock_client_is_a_configuration_error(self) -> None:
        """Another service's client, or any other object, is refused."""
        s3 = boto3.client(
            "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        )
        with pytest.raises(ConfigurationError, match="bedrock-runtime"):
            promptrail.instrument_bedrock(s3)
        with pytest.raises(ConfigurationError):
            promptrail.instrument_bedrock(object())
        with pytest.raises(ConfigurationError):
            promptrail.instrument_bedrock(path="")

    def test_uninstrument_restores(self) -> None:
        """After uninstrument_bedrock(), botocore's method is its own and no call is logged."""
        original = vars(BaseClient)["_make_api_call"]
        bedrock = stubbed(("converse", REPLY), ("converse", REPLY))
        promptrail.instrument_bedrock()
        promptrail.instrument_bedrock(bedrock)
        promptrail.uninstrument_bedrock()
        assert vars(BaseClient)["_make_api_call"] is original
        assert "_make_api_call" not in vars(bedrock)
        with capture_logs() as logs:
            bedrock.converse(modelId=SONNET, messages=MESSAGES)
        assert logs == []

    def test_missing_boto3_is_a_configuration_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without botocore installed, instrumenting raises a clear ConfigurationError."""
        import sys

        monkeypatch.setitem(sys.modules, "botocore.client", None)
        with pytest.raises(ConfigurationError, match="pip install boto3"):
            promptrail.instrument_bedrock()

    def test_importing_promptrail_imports_no_botocore(self) -> None:
        """A fresh interpreter importing promptrail has no botocore in sys.modules."""
        import subprocess
        import sys

        code = "import sys, promptrail; print('botocore' in sys.modules)"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
        assert out.stdout.strip() == "False"
