"""Gemini, Ollama, Mistral and LiteLLM: tool calls, async clients and errors on mock transports."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest

import promptrail
from promptrail import LogRecord, log_prompt
from promptrail.testing import capture_logs

httpx = pytest.importorskip("httpx")
ollama = pytest.importorskip("ollama")
mistral_client = pytest.importorskip("mistralai.client")
genai = pytest.importorskip("google.genai")

from tests.integrations.test_more_providers import (  # noqa: E402
    GEMINI_REPLY,
    MESSAGES,
    MISTRAL_REPLY,
    OLLAMA_DONE,
    run_litellm,
)

Reply = Callable[[dict[str, Any]], Any]


@pytest.fixture(autouse=True)
def _uninstrumented() -> Iterator[None]:
    yield
    promptrail.uninstrument_gemini()
    promptrail.uninstrument_ollama()
    promptrail.uninstrument_mistral()


def only(logs: list[LogRecord]) -> LogRecord:
    assert len(logs) == 1, [r.path for r in logs]
    return logs[0]


def handler(reply: Reply) -> Callable[[Any], Any]:
    def handle(request: Any) -> Any:
        return reply(json.loads(request.content or b"{}"))

    return handle


def gemini(reply: Reply) -> Any:
    from google.genai import types

    handle = handler(reply)
    options = types.HttpOptions(
        base_url="http://127.0.0.1:1",
        httpx_client=httpx.Client(transport=httpx.MockTransport(handle)),
        httpx_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
    )
    return genai.Client(api_key="test-key", http_options=options)


def mistral(reply: Reply) -> Any:
    handle = handler(reply)
    return mistral_client.Mistral(
        api_key="test-key",
        server_url="http://127.0.0.1:1",
        client=httpx.Client(transport=httpx.MockTransport(handle)),
        async_client=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
    )


def ollama_async(reply: Reply) -> Any:
    return ollama.AsyncClient(
        host="http://127.0.0.1:1", transport=httpx.MockTransport(handler(reply))
    )


def error_reply(status: int, body: dict[str, Any]) -> Reply:
    return lambda _: httpx.Response(status, json=body)


def assert_lookup_call(record: LogRecord, call_id: str | None = None) -> None:
    assert record.output_message is not None
    assert record.output_message.tool_calls is not None
    call = record.output_message.tool_calls[0]
    assert call.function.name == "lookup"
    assert json.loads(call.function.arguments or "") == {"city": "Paris"}
    if call_id is not None:
        assert call.id == call_id


LOOKUP_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}


class TestGemini:
    """google-genai: function calls and their responses, the async client, errors."""

    CALL_REPLY: ClassVar[dict[str, Any]] = {
        **GEMINI_REPLY,
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"functionCall": {"name": "lookup", "args": {"city": "Paris"}}}],
                },
                "finishReason": "STOP",
            }
        ],
    }

    def test_function_call_and_function_response_round_trip(self) -> None:
        """Declarations are tools; a function call and its response are a tool call and result."""
        from google.genai import types

        client = gemini(lambda _: httpx.Response(200, json=self.CALL_REPLY))
        promptrail.instrument_gemini()
        contents = [
            types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]),
            types.Content(
                role="model",
                parts=[
                    types.Part(
                        function_call=types.FunctionCall(
                            id="c1", name="lookup", args={"city": "Paris"}
                        )
                    )
                ],
            ),
            types.Content(
                role="user",
                parts=[
                    types.Part(
                        function_response=types.FunctionResponse(
                            id="c1", name="lookup", response={"temp": 21}
                        )
                    )
                ],
            ),
        ]
        config = types.GenerateContentConfig(
            tools=[
                types.Tool(
                    function_declarations=[
                        types.FunctionDeclaration(
                            name="lookup",
                            description="Look a city up.",
                            parameters_json_schema=LOOKUP_SCHEMA,
                        )
                    ]
                )
            ]
        )
        with capture_logs() as logs:
            client.models.generate_content(model="gemini-2.5-pro", contents=contents, config=config)
        record = only(logs)
        assert_lookup_call(record)
        assert record.finish_reason == "tool_calls"
        assert record.prompt is not None
        assert record.prompt.tools == [
            {"name": "lookup", "description": "Look a city up.", "parameters": LOOKUP_SCHEMA}
        ]
        messages = record.messages or []
        assert [m.role for m in messages] == ["user", "assistant", "tool"]
        assert messages[1].tool_calls is not None
        sent = messages[1].tool_calls[0]
        assert (sent.id, sent.function.name) == ("c1", "lookup")
        assert json.loads(sent.function.arguments or "") == {"city": "Paris"}
        assert messages[2].tool_call_id == "c1"
        assert json.loads(str(messages[2].content)) == {"temp": 21}

    def test_streamed_function_call(self) -> None:
        """A function call in a stream chunk is the log's tool call."""
        body = f"data: {json.dumps(self.CALL_REPLY)}\n\n"
        client = gemini(
            lambda _: httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
        )
        promptrail.instrument_gemini()
        with capture_logs() as logs:
            list(client.models.generate_content_stream(model="gemini-2.5-pro", contents="Hi"))
        record = only(logs)
        assert_lookup_call(record)
        assert record.finish_reason == "tool_calls"

    def test_audio_prompt_tokens_are_priced_at_the_audio_price(self) -> None:
        """promptTokensDetails' AUDIO count: gemini-2.5-flash, $0.30/M text, $1/M audio in."""
        usage = {
            "promptTokenCount": 1000,
            "candidatesTokenCount": 100,
            "totalTokenCount": 1100,
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": 200},
                {"modality": "AUDIO", "tokenCount": 800},
            ],
        }
        reply = {**GEMINI_REPLY, "usageMetadata": usage, "modelVersion": "gemini-2.5-flash"}
        client = gemini(lambda _: httpx.Response(200, json=reply))
        promptrail.instrument_gemini()
        with capture_logs() as logs:
            client.models.generate_content(model="gemini-2.5-flash", contents="Transcribe this.")
        record = only(logs)
        assert record.metadata["audio_prompt_tokens"] == 800
        assert record.prompt_cost == pytest.approx((200 * 0.30 + 800 * 1.00) / 1e6)
        assert record.output_cost == pytest.approx(100 * 2.50 / 1e6)

    async def test_async_generate_content_and_stream(self) -> None:
        """client.aio.models: one log per call, streamed or not."""
        body = f"data: {json.dumps(GEMINI_REPLY)}\n\n"

        def reply(_: dict[str, Any]) -> Any:
            return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

        client = gemini(reply)
        plain = gemini(lambda _: httpx.Response(200, json=GEMINI_REPLY))
        promptrail.instrument_gemini()
        with capture_logs() as logs:
            answer = await plain.aio.models.generate_content(model="gemini-2.5-pro", contents="Hi")
            chunks = [
                chunk
                async for chunk in await client.aio.models.generate_content_stream(
                    model="gemini-2.5-pro", contents="Hi"
                )
            ]
        assert answer.text == "Paris."
        assert len(chunks) == 1
        first, streamed = logs
        assert first.path == "gemini/models.generate_content"
        assert streamed.path == "gemini/models.generate_content_stream"
        for record in logs:
            assert (record.output, record.prompt_tokens, record.output_tokens) == (
                "Paris.",
                300000,
                100,
            )

    def test_an_api_error_is_recorded_and_reraised(self) -> None:
        """A 429 raises google-genai's ClientError to the caller; the log records it."""
        from google.genai import errors

        body = {"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}
        client = gemini(error_reply(429, body))
        promptrail.instrument_gemini()

        @log_prompt(path="p")
        def answer() -> Any:
            return client.models.generate_content(model="gemini-2.5-pro", contents="Hi")

        with capture_logs() as logs, pytest.raises(errors.ClientError):
            answer()
        record = only(logs)
        assert record.error is not None
        assert "Quota exceeded" in record.error
        assert (record.metadata["error_status"], record.metadata["error_type"]) == (
            429,
            "ClientError",
        )

    async def test_an_async_error_is_recorded(self) -> None:
        """The async client's error is recorded too."""
        from google.genai import errors

        body = {"error": {"code": 500, "message": "Backend down", "status": "INTERNAL"}}
        client = gemini(error_reply(500, body))
        promptrail.instrument_gemini()
        with capture_logs() as logs, pytest.raises(errors.ServerError):
            await client.aio.models.generate_content(model="gemini-2.5-pro", contents="Hi")
        assert "Backend down" in (only(logs).error or "")


class TestOllama:
    """ollama.AsyncClient and errors."""

    async def test_async_chat_and_stream(self) -> None:
        """AsyncClient.chat, streamed or not: one log each with tokens."""
        chunks = [
            {**OLLAMA_DONE, "message": {"role": "assistant", "content": "Par"}, "done": False},
            {**OLLAMA_DONE, "message": {"role": "assistant", "content": "is."}},
        ]
        body = "".join(json.dumps(c) + "\n" for c in chunks)

        def reply(request: dict[str, Any]) -> Any:
            if request.get("stream"):
                return httpx.Response(200, text=body)
            return httpx.Response(200, json=OLLAMA_DONE)

        client = ollama_async(reply)
        promptrail.instrument_ollama()
        with capture_logs() as logs:
            answer = await client.chat(model="llama3.2", messages=MESSAGES)
            stream = await client.chat(model="llama3.2", messages=MESSAGES, stream=True)
            text = "".join([part.message.content async for part in stream])
        assert answer.message.content == text == "Paris."
        assert [r.path for r in logs] == ["ollama/chat", "ollama/chat"]
        for record in logs:
            assert (record.output, record.prompt_tokens, record.output_tokens) == (
                "Paris.",
                26,
                3,
            )

    async def test_async_generate(self) -> None:
        """AsyncClient.generate: the response text and counts."""
        done = {k: v for k, v in OLLAMA_DONE.items() if k != "message"}
        client = ollama_async(lambda _: httpx.Response(200, json={**done, "response": "Paris."}))
        promptrail.instrument_ollama()
        with capture_logs() as logs:
            await client.generate(model="llama3.2", prompt="Capital of France?")
        record = only(logs)
        assert (record.path, record.output, record.output_tokens) == (
            "ollama/generate",
            "Paris.",
            3,
        )

    def test_an_error_is_recorded_and_reraised(self) -> None:
        """A missing model raises ollama's ResponseError; the log records it."""
        client = ollama.Client(
            host="http://127.0.0.1:1",
            transport=httpx.MockTransport(handler(error_reply(404, {"error": "model not found"}))),
        )
        promptrail.instrument_ollama()
        with capture_logs() as logs, pytest.raises(ollama.ResponseError):
            client.chat(model="nope", messages=MESSAGES)
        assert "model not found" in (only(logs).error or "")
        assert only(logs).metadata["error_status"] == 404

    async def test_an_async_error_is_recorded(self) -> None:
        """The async client's error is recorded too."""
        client = ollama_async(error_reply(500, {"error": "out of memory"}))
        promptrail.instrument_ollama()
        with capture_logs() as logs, pytest.raises(ollama.ResponseError):
            await client.chat(model="llama3.2", messages=MESSAGES)
        assert "out of memory" in (only(logs).error or "")


class TestMistral:
    """Mistral tool calls, async calls and errors."""

    TOOLS: ClassVar[list[dict[str, Any]]] = [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a city up.",
                "parameters": LOOKUP_SCHEMA,
            },
        }
    ]

    def test_tool_calls(self) -> None:
        """Tools, tool choice and the answer's tool calls; the tool result sent back."""
        reply = {
            **MISTRAL_REPLY,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [
                            {
                                "id": "abc123def",
                                "type": "function",
                                "function": {"name": "lookup", "arguments": '{"city": "Paris"}'},
                            }
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
        }
        client = mistral(lambda _: httpx.Response(200, json=reply))
        promptrail.instrument_mistral()
        history = [
            *MESSAGES,
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "prev00001",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"city": "Lyon"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "prev00001", "name": "lookup", "content": "21C"},
        ]
        with capture_logs() as logs:
            client.chat.complete(
                model="mistral-large-latest", messages=history, tools=self.TOOLS, tool_choice="any"
            )
        record = only(logs)
        assert_lookup_call(record, "abc123def")
        assert record.finish_reason == "tool_calls"
        assert record.prompt is not None
        assert record.prompt.tools == [
            {"name": "lookup", "description": "Look a city up.", "parameters": LOOKUP_SCHEMA}
        ]
        assert record.tool_choice == "any"
        assert [m.role for m in record.messages or []] == ["system", "user", "assistant", "tool"]
        assert (record.messages or [])[3].tool_call_id == "prev00001"

    def test_streamed_tool_call(self) -> None:
        """A tool call sent whole in a chunk (as Mistral does) is the log's tool call."""

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "mistral-large-latest",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        call = {
            "index": 0,
            "id": "abc123def",
            "function": {"name": "lookup", "arguments": '{"city": "Paris"}'},
        }
        chunks = [
            chunk({"role": "assistant", "content": "", "tool_calls": [call]}),
            chunk({"content": ""}, "tool_calls"),
        ]
        body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        client = mistral(
            lambda _: httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
        )
        promptrail.instrument_mistral()
        with capture_logs() as logs:
            list(
                client.chat.stream(
                    model="mistral-large-latest", messages=MESSAGES, tools=self.TOOLS
                )
            )
        record = only(logs)
        assert_lookup_call(record, "abc123def")
        assert record.finish_reason == "tool_calls"

    async def test_complete_async_and_stream_async(self) -> None:
        """chat.complete_async and chat.stream_async: one log each."""
        chunk = {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "mistral-large-latest",
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": "Paris."},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 1000, "total_tokens": 2000},
        }
        body = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n"

        def reply(request: dict[str, Any]) -> Any:
            if request.get("stream"):
                headers = {"content-type": "text/event-stream"}
                return httpx.Response(200, text=body, headers=headers)
            return httpx.Response(200, json=MISTRAL_REPLY)

        client = mistral(reply)
        promptrail.instrument_mistral()
        with capture_logs() as logs:
            await client.chat.complete_async(model="mistral-large-latest", messages=MESSAGES)
            stream = await client.chat.stream_async(model="mistral-large-latest", messages=MESSAGES)
            text = "".join([event.data.choices[0].delta.content or "" async for event in stream])
        assert text == "Paris."
        assert [r.path for r in logs] == ["mistral/chat.complete", "mistral/chat.stream"]
        for record in logs:
            assert (record.output, record.prompt_tokens, record.output_tokens) == (
                "Paris.",
                1000,
                1000,
            )
            assert record.prompt_cost == pytest.approx(1000 * 2.0 / 1e6)

    def test_an_error_is_recorded_and_reraised(self) -> None:
        """A 401 raises Mistral's SDKError; the log records it."""
        from mistralai.client import errors

        client = mistral(error_reply(401, {"message": "Unauthorized"}))
        promptrail.instrument_mistral()
        with capture_logs() as logs, pytest.raises(errors.SDKError):
            client.chat.complete(model="mistral-large-latest", messages=MESSAGES)
        assert "401" in (only(logs).error or "")
        assert only(logs).metadata["error_status"] == 401

    async def test_an_async_error_is_recorded(self) -> None:
        """The async call's error is recorded too."""
        from mistralai.client import errors

        client = mistral(error_reply(401, {"message": "Unauthorized"}))
        promptrail.instrument_mistral()
        with capture_logs() as logs, pytest.raises(errors.SDKError):
            await client.chat.complete_async(model="mistral-large-latest", messages=MESSAGES)
        assert "401" in (only(logs).error or "")


LITELLM_SCRIPT = """
import asyncio, json, os
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no fetch of LiteLLM's price list
import litellm, promptrail
from promptrail.testing import capture_logs
promptrail.instrument_litellm()
messages = [{"role": "user", "content": "hi"}]
tools = [{"type": "function", "function": {
    "name": "lookup", "description": "Look up.", "parameters": {"type": "object"}}}]
calls = [{"id": "call_1", "type": "function",
          "function": {"name": "lookup", "arguments": '{"city": "Paris"}'}}]
def limited():
    return litellm.RateLimitError("slow down", llm_provider="openai", model="gpt-4o")

async def main():
    await litellm.acompletion(model="gpt-4o", messages=messages, mock_response="Paris.")
    stream = await litellm.acompletion(
        model="gpt-4o", messages=messages, mock_response="Lyon.", stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    try:
        await litellm.acompletion(model="gpt-4o", messages=messages, mock_response=limited())
    except litellm.RateLimitError:
        return text
    return None

with capture_logs() as logs:
    litellm.completion(model="gpt-4o", messages=messages, tools=tools, tool_choice="auto",
                       mock_response="", mock_tool_calls=calls)
    try:
        litellm.completion(model="gpt-4o", messages=messages, mock_response=limited())
        raised = False
    except litellm.RateLimitError:
        raised = True
    text = asyncio.run(main())
out = []
for r in logs:
    calls = r.output_message.tool_calls if r.output_message else None
    out.append({"path": r.path, "output": r.output,
      "provider": r.prompt.provider if r.prompt else None,
      "tools": r.prompt.tools if r.prompt else None, "tool_choice": r.tool_choice,
      "calls": [[c.id, c.function.name, c.function.arguments] for c in calls or []],
      "tokens": [r.prompt_tokens, r.output_tokens], "error": r.error})
print(json.dumps({"logs": out, "text": text, "raised": raised}))
"""


def test_litellm_tool_calls_async_calls_and_errors(tmp_path: Any) -> None:
    """litellm: a tool call, acompletion streamed or not, errors sync and async."""
    result = run_litellm(LITELLM_SCRIPT, tmp_path)
    tool, error, plain, streamed, async_error = result["logs"]
    assert tool["calls"] == [["call_1", "lookup", '{"city": "Paris"}']]
    assert tool["tools"] == [
        {"name": "lookup", "description": "Look up.", "parameters": {"type": "object"}}
    ]
    assert (tool["tool_choice"], tool["provider"]) == ("auto", "openai")
    assert result["raised"] is True
    assert "slow down" in error["error"]
    assert (plain["output"], plain["provider"], plain["tokens"]) == ("Paris.", "openai", [10, 20])
    assert streamed["output"] == result["text"] == "Lyon."
    assert "slow down" in async_error["error"]
    assert all(r["path"] == "litellm/completion" for r in result["logs"])
