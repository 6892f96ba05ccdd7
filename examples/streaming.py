"""OpenAI- and Anthropic-style calls, plain and streamed, logged with no extra code.

The real ``openai`` and ``anthropic`` SDK clients are used, but their HTTP goes to a fake API
(``httpx2.MockTransport``) that answers with recorded JSON and server-sent events: no network and
no API key. Each function just returns what the SDK returns; promptrail reads the answer, the
tokens, the finish reason, the cost and the prompt version from it, and a returned stream is
logged when it has been read, with the same fields as the plain call plus the time to first token.

Run: ``pip install openai anthropic`` then ``python examples/streaming.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any

import httpx2

import promptrail
from promptrail.exporters import SqliteExporter, SqliteStore

try:
    import anthropic
    import openai
except ImportError:  # pragma: no cover - the example needs the SDKs
    raise SystemExit("this example needs: pip install openai anthropic") from None

# -- a fake provider API: recorded answers --------------------------------------------------

USAGE = {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris is the capital."},
            "finish_reason": "stop",
        }
    ],
    "usage": USAGE,
}
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5-20251001",
    "content": [{"type": "text", "text": "Paris is the capital."}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 30, "output_tokens": 7},
}


def _sse(events: list[tuple[str | None, dict[str, Any]]], done: bool) -> httpx2.Response:
    text = "".join(
        (f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n"
        for name, data in events
    )
    text += "data: [DONE]\n\n" if done else ""
    return httpx2.Response(
        200, content=text.encode(), headers={"content-type": "text/event-stream"}
    )


def _openai_chunks() -> list[tuple[str | None, dict[str, Any]]]:
    base = {k: COMPLETION[k] for k in ("id", "created", "model")}
    base["object"] = "chat.completion.chunk"
    pieces = ["Paris", " is the", " capital."]
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": p}}]}
        for p in pieces
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({**base, "choices": [], "usage": USAGE})
    return [(None, c) for c in chunks]


def _anthropic_events() -> list[tuple[str | None, dict[str, Any]]]:
    start = {**MESSAGE, "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": 30, "output_tokens": 1}
    events: list[tuple[str | None, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
    ]
    for piece in ["Paris", " is the", " capital."]:
        delta = {"type": "text_delta", "text": piece}
        events.append(
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 7},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


def fake_api(request: httpx2.Request) -> httpx2.Response:
    """Answer like the provider would, streamed when the request asks for it."""
    body = json.loads(request.content)
    anthropic_style = request.url.path.endswith("/messages")
    if body.get("stream"):
        if anthropic_style:
            return _sse(_anthropic_events(), done=False)
        return _sse(_openai_chunks(), done=True)
    return httpx2.Response(200, json=MESSAGE if anthropic_style else COMPLETION)


oai = openai.OpenAI(
    api_key="sk-fake-key-not-used-anywhere",
    base_url="http://fake.invalid/v1",
    http_client=httpx2.Client(transport=httpx2.MockTransport(fake_api)),
)
claude = anthropic.Anthropic(
    api_key="sk-ant-fake-key-not-used",
    base_url="http://fake.invalid",
    http_client=httpx2.Client(transport=httpx2.MockTransport(fake_api)),
)

# -- the application: decorated functions that return what the SDK returns ------------------


QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@promptrail.log_prompt(path="geo/openai")
def ask_openai(
    messages: list[dict[str, str]],
    *,
    model: str = "gpt-4o-mini",
    temperature: float = 0.2,
    stream: bool = False,
) -> Any:
    options = {"stream_options": {"include_usage": True}} if stream else {}
    return oai.chat.completions.create(
        model=model, messages=messages, temperature=temperature, stream=stream, **options
    )


@promptrail.log_prompt(path="geo/anthropic")
def ask_claude(
    messages: list[dict[str, str]],
    *,
    system: str = "Answer in one sentence.",
    model: str = "claude-haiku-4-5",
    max_tokens: int = 100,
    stream: bool = False,
) -> Any:
    return claude.messages.create(
        model=model, system=system, messages=messages, max_tokens=max_tokens, stream=stream
    )


def main() -> None:
    db = os.path.join(tempfile.mkdtemp(), "streaming.db")
    promptrail.configure(exporters=[SqliteExporter(db)])

    with promptrail.trace(path="geo/flow", inputs={"question": QUESTION[0]["content"]}) as t:
        print("openai:         ", ask_openai(QUESTION).choices[0].message.content)
        stream = ask_openai(QUESTION, stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        print("openai streamed:", text)
        print("claude:         ", ask_claude(QUESTION).content[0].text)
        with ask_claude(QUESTION, stream=True) as events:
            text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
        print("claude streamed:", text)
        t.output = text

    promptrail.flush()
    store = SqliteStore(db, create=False)
    records = store.trace(t.trace_id or "")
    print()
    show(db, 1)
    print()
    for record in records:
        if record.kind != "prompt":
            continue
        ttft = record.metadata.get("time_to_first_token")
        print(
            f"{record.path:14} tokens={record.prompt_tokens}+{record.output_tokens} "
            f"cost=${(record.prompt_cost or 0) + (record.output_cost or 0):.6f} "
            f"finish={record.finish_reason} version={record.version_id} "
            f"messages={[m.role for m in record.messages or []]} "
            + (f"ttft={ttft * 1000:.1f}ms" if ttft is not None else "(not streamed)")
        )
    promptrail.shutdown()


def show(db: str, last: int) -> None:
    """Print the newest traces with the ``promptrail show`` command."""
    sys.stdout.flush()
    command = [sys.executable, "-m", "promptrail", "show", "--db", db, "--last", str(last)]
    subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
