"""Fixtures for capture tests: real SDK clients answered by a fake API over httpx2.MockTransport.

The ``openai`` and ``anthropic`` packages are optional: tests that need them skip without them.
Every reply is recorded JSON (or SSE text) shaped like the providers' real answers, so the objects
promptrail sees are exactly what the SDKs build from a real response. No network is used.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx2
import pytest

OPENAI_MODEL = "gpt-4o-2024-08-06"
ANTHROPIC_MODEL = "claude-sonnet-4-20250514"

USER = [{"role": "user", "content": "What is the capital of France?"}]

CHAT_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": OPENAI_MODEL,
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris.", "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1000},
        "completion_tokens_details": {"reasoning_tokens": 100},
    },
}


def chat_chunks(*, usage: bool = True) -> list[dict[str, Any]]:
    """The streamed form of :data:`CHAT_COMPLETION` (with a final usage chunk if asked)."""
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000}
    base["model"] = OPENAI_MODEL

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {**base, "choices": [choice]}

    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Par"}),
        chunk({"content": "is."}),
        chunk({}, "stop"),
    ]
    if usage:
        chunks.append({**base, "choices": [], "usage": CHAT_COMPLETION["usage"]})
    return chunks


ANTHROPIC_MESSAGE: dict[str, Any] = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": ANTHROPIC_MODEL,
    "content": [
        {"type": "thinking", "thinking": "The user asks about France.", "signature": "sig"},
        {"type": "text", "text": "Paris."},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"city": "Paris"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 100,
        "output_tokens": 50,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 200,
    },
}


def anthropic_events() -> list[tuple[str, dict[str, Any]]]:
    """The streamed form of :data:`ANTHROPIC_MESSAGE`, as (event name, data) pairs."""
    start = {**ANTHROPIC_MESSAGE, "content": [], "stop_reason": None}
    start["usage"] = {**ANTHROPIC_MESSAGE["usage"], "output_tokens": 1}
    return [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "The user asks about France."},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": "sig"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "text_delta", "text": "Par"},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "text_delta", "text": "is."},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": "lookup"}
                | {"input": {}},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": '{"city": '},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 2}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": 50},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


RESPONSE: dict[str, Any] = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1700000000,
    "model": "o4-mini-2025-04-16",
    "status": "completed",
    "output": [
        {
            "id": "rs_1",
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "Look it up."}],
        },
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Paris.", "annotations": []}],
        },
        {
            "id": "fc_1",
            "type": "function_call",
            "call_id": "call_1",
            "name": "lookup",
            "arguments": '{"city": "Paris"}',
            "status": "completed",
        },
    ],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "usage": {
        "input_tokens": 40,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 12},
        "total_tokens": 60,
    },
}


class FakeAPI:
    """A fake provider API: answers each request with the next queued reply.

    Attributes:
        requests: The JSON bodies received, in order.
    """

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._replies: deque[Callable[[], httpx2.Response]] = deque()

    def json(self, body: dict[str, Any], status: int = 200) -> FakeAPI:
        """Queue a JSON reply."""
        self._replies.append(lambda: httpx2.Response(status, json=body))
        return self

    def sse(self, events: list[Any], *, done: bool = False) -> FakeAPI:
        """Queue a server-sent-events reply: items are data dicts or (event, data) pairs."""
        lines = []
        for item in events:
            if isinstance(item, tuple):
                lines.append(f"event: {item[0]}\ndata: {json.dumps(item[1])}\n\n")
            else:
                lines.append(f"data: {json.dumps(item)}\n\n")
        if done:
            lines.append("data: [DONE]\n\n")
        content = "".join(lines).encode()
        headers = {"content-type": "text/event-stream"}
        self._replies.append(lambda: httpx2.Response(200, content=content, headers=headers))
        return self

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        """The MockTransport handler."""
        self.requests.append(json.loads(request.content or b"{}"))
        return self._replies.popleft()()

    async def async_handler(self, request: httpx2.Request) -> httpx2.Response:
        """The MockTransport handler for async clients."""
        await request.aread()
        return self.handler(request)


@pytest.fixture(name="api")
def fixture_api() -> FakeAPI:
    """A fresh fake API with no queued reply."""
    return FakeAPI()


def sdk_client(api: FakeAPI, sdk: str, cls: str, *, is_async: bool = False) -> Any:
    """A real SDK client (``openai.OpenAI``, ``anthropic.AsyncAnthropic``, ...) on the fake API."""
    module = pytest.importorskip(sdk)
    if is_async:
        http: Any = httpx2.AsyncClient(transport=httpx2.MockTransport(api.async_handler))
    else:
        http = httpx2.Client(transport=httpx2.MockTransport(api.handler))
    key, base_url = (
        ("sk-test", "http://127.0.0.1/v1")
        if sdk == "openai"
        else ("sk-ant-test", "http://127.0.0.1")
    )
    return getattr(module, cls)(api_key=key, base_url=base_url, http_client=http, max_retries=0)


@pytest.fixture(name="openai_client")
def fixture_openai_client(api: FakeAPI) -> Any:
    """A real ``openai.OpenAI`` client talking to the fake API."""
    return sdk_client(api, "openai", "OpenAI")


@pytest.fixture(name="async_openai_client")
def fixture_async_openai_client(api: FakeAPI) -> Any:
    """A real ``openai.AsyncOpenAI`` client talking to the fake API."""
    return sdk_client(api, "openai", "AsyncOpenAI", is_async=True)


@pytest.fixture(name="anthropic_client")
def fixture_anthropic_client(api: FakeAPI) -> Any:
    """A real ``anthropic.Anthropic`` client talking to the fake API."""
    return sdk_client(api, "anthropic", "Anthropic")


@pytest.fixture(name="async_anthropic_client")
def fixture_async_anthropic_client(api: FakeAPI) -> Any:
    """A real ``anthropic.AsyncAnthropic`` client talking to the fake API."""
    return sdk_client(api, "anthropic", "AsyncAnthropic", is_async=True)


@pytest.fixture(name="data")
def fixture_data() -> SimpleNamespace:
    """Deep copies of the recorded payloads above (tests may change them)."""
    return SimpleNamespace(
        OPENAI_MODEL=OPENAI_MODEL,
        ANTHROPIC_MODEL=ANTHROPIC_MODEL,
        USER=copy.deepcopy(USER),
        CHAT_COMPLETION=copy.deepcopy(CHAT_COMPLETION),
        ANTHROPIC_MESSAGE=copy.deepcopy(ANTHROPIC_MESSAGE),
        RESPONSE=copy.deepcopy(RESPONSE),
        chat_chunks=chat_chunks,
        anthropic_events=anthropic_events,
    )
