"""instrument_ollama() and instrument_mistral(): real SDK clients on mock transports."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import promptrail
from promptrail import LogRecord, log_prompt
from promptrail.testing import capture_logs

httpx = pytest.importorskip("httpx")
ollama = pytest.importorskip("ollama")
mistral_client = pytest.importorskip("mistralai.client")

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Capital of France?"},
]


@pytest.fixture(autouse=True)
def _uninstrumented() -> Iterator[None]:
    yield
    promptrail.uninstrument_ollama()
    promptrail.uninstrument_mistral()


def only(logs: list[LogRecord]) -> LogRecord:
    assert len(logs) == 1, [r.path for r in logs]
    return logs[0]


def transport(reply: Callable[[dict[str, Any]], httpx.Response]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        return reply(json.loads(request.content or b"{}"))

    return httpx.MockTransport(handler)


OLLAMA_DONE = {
    "model": "llama3.2",
    "created_at": "2026-12-01T00:00:00Z",
    "message": {"role": "assistant", "content": "Paris."},
    "done": True,
    "done_reason": "stop",
    "prompt_eval_count": 26,
    "eval_count": 3,
}


class TestOllama:
    """Ollama chat, non-streamed and streamed; tool calls; options as parameters."""

    def test_chat_completes_the_decorated_log(self) -> None:
        """Messages, options, tokens and finish reason reach the log."""
        client = ollama.Client(
            host="http://127.0.0.1:1",
            transport=transport(lambda _: httpx.Response(200, json=OLLAMA_DONE)),
        )
        promptrail.instrument_ollama()

        @log_prompt(path="p")
        def answer() -> str:
            reply = client.chat(
                model="llama3.2", messages=MESSAGES, options={"temperature": 0.1, "num_predict": 50}
            )
            return str(reply.message.content)

        with capture_logs() as logs:
            answer()
        record = only(logs)
        assert record.output == "Paris."
        assert [m.role for m in record.messages or []] == ["system", "user"]
        assert record.prompt is not None
        assert (record.prompt.model, record.prompt.temperature, record.prompt.max_tokens) == (
            "llama3.2",
            0.1,
            50,
        )
        assert (record.prompt_tokens, record.output_tokens) == (26, 3)
        assert record.finish_reason == "stop"
        assert record.prompt_cost is None  # a local model: no price, none guessed

    def test_stream_is_one_log_with_tokens(self) -> None:
        """A streamed chat outside any log: one log, text and counts from the last chunk."""
        chunks = [
            {**OLLAMA_DONE, "message": {"role": "assistant", "content": "Par"}, "done": False},
            {**OLLAMA_DONE, "message": {"role": "assistant", "content": "is."}},
        ]
        body = "".join(json.dumps(c) + "\n" for c in chunks)
        client = ollama.Client(
            host="http://127.0.0.1:1",
            transport=transport(lambda _: httpx.Response(200, text=body)),
        )
        promptrail.instrument_ollama()
        with capture_logs() as logs:
            text = "".join(
                c.message.content
                for c in client.chat(model="llama3.2", messages=MESSAGES, stream=True)
            )
        record = only(logs)
        assert record.path == "ollama/chat"
        assert record.output == text == "Paris."
        assert (record.prompt_tokens, record.output_tokens) == (26, 3)
        assert record.finish_reason == "stop"

    def test_tool_calls(self) -> None:
        """An Ollama tool call is an OpenAI-shaped tool call on the output message."""
        done = {
            **OLLAMA_DONE,
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": "lookup", "arguments": {"city": "Paris"}}}],
            },
        }
        client = ollama.Client(
            host="http://127.0.0.1:1", transport=transport(lambda _: httpx.Response(200, json=done))
        )
        promptrail.instrument_ollama()
        with capture_logs() as logs:
            client.chat(model="llama3.2", messages=MESSAGES)
        record = only(logs)
        assert record.finish_reason == "tool_calls"
        assert record.output_message is not None
        assert record.output_message.tool_calls is not None
        call = record.output_message.tool_calls[0]
        assert (call.function.name, json.loads(call.function.arguments)) == (
            "lookup",
            {"city": "Paris"},
        )


MISTRAL_REPLY = {
    "id": "cmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "mistral-large-latest",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Paris."}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1000, "completion_tokens": 1000, "total_tokens": 2000},
}


def mistral(reply: Callable[[dict[str, Any]], httpx.Response]) -> Any:
    return mistral_client.Mistral(
        api_key="test-key",
        server_url="http://127.0.0.1:1",
        client=httpx.Client(transport=transport(reply)),
    )


class TestMistral:
    """Mistral chat.complete and chat.stream."""

    def test_complete_is_priced_as_invoiced(self) -> None:
        """mistral-large: $2/M in, $6/M out, the provider recorded."""
        client = mistral(lambda _: httpx.Response(200, json=MISTRAL_REPLY))
        promptrail.instrument_mistral()
        with capture_logs() as logs:
            client.chat.complete(model="mistral-large-latest", messages=MESSAGES, temperature=0.3)
        record = only(logs)
        assert record.path == "mistral/chat.complete"
        assert record.prompt is not None
        assert (record.prompt.provider, record.prompt.temperature) == ("mistral", 0.3)
        assert record.prompt_cost == pytest.approx(1000 * 2.0 / 1e6)
        assert record.output_cost == pytest.approx(1000 * 6.0 / 1e6)

    def test_stream(self) -> None:
        """chat.stream: the events' text, usage and finish reason make one log."""
        chunks = [
            {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "mistral-small-latest",
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": "Par"},
                        "finish_reason": None,
                    }
                ],
            },
            {
                "id": "c",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "mistral-small-latest",
                "choices": [{"index": 0, "delta": {"content": "is."}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
            },
        ]
        body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        client = mistral(
            lambda _: httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
        )
        promptrail.instrument_mistral()
        with capture_logs() as logs:
            stream = client.chat.stream(model="mistral-small-latest", messages=MESSAGES)
            text = "".join(event.data.choices[0].delta.content or "" for event in stream)
        record = only(logs)
        assert record.output == text == "Paris."
        assert (record.prompt_tokens, record.output_tokens) == (10, 2)
        assert record.finish_reason == "stop"


LITELLM_SCRIPT = """
import json, os
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no fetch of LiteLLM's price list
import litellm, promptrail
from promptrail.testing import capture_logs
promptrail.instrument_litellm()
messages = [{"role": "user", "content": "hi"}]
with capture_logs() as logs:
    litellm.completion(
        model="anthropic/claude-sonnet-4-5", messages=messages, mock_response="Paris."
    )
    stream = litellm.completion(
        model="gpt-4o", messages=messages, mock_response="Paris!", stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream)
print(json.dumps([
    {"path": r.path, "output": r.output, "model": r.prompt.model, "provider": r.prompt.provider,
     "tokens": [r.prompt_tokens, r.output_tokens], "cost": r.prompt_cost}
    for r in logs
] + [text]))
"""


def run_litellm(script: str, cwd: Any) -> Any:
    """The JSON ``script`` printed last, run in a fresh interpreter (LiteLLM reads its settings,
    such as the local price list, when imported)."""
    import subprocess
    import sys

    pytest.importorskip("litellm")
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_litellm_records_the_provider_it_routed_to(tmp_path: Any) -> None:
    """litellm.completion: the routed provider and model, tokens, cost; streams too."""
    first, streamed, text = run_litellm(LITELLM_SCRIPT, tmp_path)
    assert first["path"] == "litellm/completion"
    assert (first["model"], first["provider"]) == ("anthropic/claude-sonnet-4-5", "anthropic")
    assert first["output"] == "Paris."
    assert first["tokens"][0] is not None
    assert first["cost"] is not None
    assert (streamed["output"], streamed["provider"]) == (text, "openai")


GEMINI_REPLY = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "Thinking about capitals.", "thought": True},
                    {"text": "Paris."},
                ],
            },
            "finishReason": "STOP",
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 300000,
        "candidatesTokenCount": 10,
        "thoughtsTokenCount": 90,
        "totalTokenCount": 300100,
    },
    "modelVersion": "gemini-2.5-pro",
}


def gemini_client(reply: Callable[[dict[str, Any]], httpx.Response], *, aio: bool = False) -> Any:
    genai = pytest.importorskip("google.genai")
    from google.genai import types

    handler_transport = transport(reply)
    options = types.HttpOptions(
        base_url="http://127.0.0.1:1",
        httpx_client=httpx.Client(transport=handler_transport),
        httpx_async_client=httpx.AsyncClient(transport=handler_transport) if aio else None,
    )
    return genai.Client(api_key="test-key", http_options=options)


class TestGemini:
    """google-genai generate_content: the long-context invoice, thinking, system instruction."""

    def test_generate_content_in_a_decorated_function(self) -> None:
        """Contents and system instruction become messages; thinking is reasoning tokens."""
        from google.genai import types

        client = gemini_client(lambda _: httpx.Response(200, json=GEMINI_REPLY))
        promptrail.instrument_gemini()

        @log_prompt(path="p")
        def answer() -> str:
            reply = client.models.generate_content(
                model="gemini-2.5-pro",
                contents="Capital of France?",
                config=types.GenerateContentConfig(
                    system_instruction="Be brief.", temperature=0.2, max_output_tokens=200
                ),
            )
            return str(reply.text)

        try:
            with capture_logs() as logs:
                text = answer()
        finally:
            promptrail.uninstrument_gemini()
        record = only(logs)
        assert record.output == text == "Paris."
        assert [(m.role, m.content) for m in record.messages or []] == [
            ("system", "Be brief."),
            ("user", "Capital of France?"),
        ]
        assert record.prompt is not None
        assert (record.prompt.temperature, record.prompt.max_tokens) == (0.2, 200)
        assert (record.prompt_tokens, record.output_tokens, record.reasoning_tokens) == (
            300000,
            100,
            90,
        )
        assert record.finish_reason == "stop"
        # gemini-2.5-pro above 200k prompt tokens: $2.50/M input, $15/M output
        assert record.prompt_cost == pytest.approx(300000 * 2.50 / 1e6)
        assert record.output_cost == pytest.approx(100 * 15.0 / 1e6)

    def test_stream_outside_any_log(self) -> None:
        """generate_content_stream: one log with the text of every chunk and the last usage."""
        first = {
            **GEMINI_REPLY,
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Par"}]}}],
        }
        last = {
            **GEMINI_REPLY,
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "is."}]}, "finishReason": "STOP"}
            ],
        }
        body = "".join(f"data: {json.dumps(c)}\n\n" for c in (first, last))
        client = gemini_client(
            lambda _: httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
        )
        promptrail.instrument_gemini()
        try:
            with capture_logs() as logs:
                chunks = list(
                    client.models.generate_content_stream(model="gemini-2.5-pro", contents="Hi")
                )
        finally:
            promptrail.uninstrument_gemini()
        record = only(logs)
        assert len(chunks) == 2
        assert record.path == "gemini/models.generate_content_stream"
        assert record.output == "Paris."
        assert record.finish_reason == "stop"
        assert record.output_tokens == 100
