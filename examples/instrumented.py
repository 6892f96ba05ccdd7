"""Instrumented clients: the prompt is recorded however your function is written.

The most common LLM function builds its prompt in the body and returns text. With
``promptrail.instrument_openai()`` the call the SDK really makes completes the decorated
function's log: messages, model, parameters, tokens, cost and finish reason. Run it (no network,
no API key: the OpenAI client talks to a fake transport)::

    pip install -e . openai && python examples/instrumented.py
"""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai

import promptrail
from promptrail import log_flow, log_prompt
from promptrail.exporters import InMemoryExporter

SNAPSHOTS = {"gpt-4o": "gpt-4o-2024-08-06", "gpt-4o-mini": "gpt-4o-mini-2024-07-18"}
"""The dated model the API answers with for the model asked for."""


def fake_openai(request: httpx2.Request) -> httpx2.Response:
    """Answer like the OpenAI API would (the SDK builds its real objects from this)."""
    body = json.loads(request.content)
    text = "Arr, 'tis Paris, matey!" if "pirate" in str(body["messages"]) else "Paris."
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-example",
            "object": "chat.completion",
            "created": 0,
            "model": SNAPSHOTS.get(body["model"], body["model"]),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
            ],
            "usage": {"prompt_tokens": 21, "completion_tokens": 7, "total_tokens": 28},
        },
    )


client = openai.OpenAI(
    api_key="sk-example-not-a-real-key",
    base_url="http://127.0.0.1/v1",
    http_client=httpx2.Client(transport=httpx2.MockTransport(fake_openai)),
)


@log_prompt(path="support/answer")
def answer(q: str) -> str:
    """Ask the model; the prompt is built here, in the body."""
    resp = client.chat.completions.create(
        model="gpt-4o",
        temperature=0.7,
        messages=[
            {"role": "system", "content": "Answer like a pirate."},
            {"role": "user", "content": q},
        ],
    )
    return resp.choices[0].message.content or ""


@log_flow(path="support/flow")
def support(q: str) -> str:
    """A flow: the decorated prompt, then a plain SDK call (a prompt log of its own)."""
    reply = answer(q)
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"Translate: {reply}"}]
    )
    return reply


def show(record: Any, depth: int) -> None:
    prompt = record.prompt
    print(f"{'  ' * depth}{record.kind} {record.path}")
    if prompt is not None:
        pad = "  " * (depth + 1)
        print(f"{pad}model={prompt.model} temperature={prompt.temperature}")
        print(f"{pad}messages={[m.role for m in record.messages or []]}")
        tokens = f"{record.prompt_tokens}+{record.output_tokens}"
        print(f"{pad}tokens={tokens} cost={record.prompt_cost}")
        print(f"{pad}finish_reason={record.finish_reason} version={record.version_id}")


def main() -> None:
    memory = InMemoryExporter()
    promptrail.configure(exporters=[memory])
    promptrail.instrument_openai()
    print(support("What is the capital of France?"))
    promptrail.flush()
    records = sorted(memory.records, key=lambda r: r.start_time)
    depth = {r.log_id: 0 for r in records if r.trace_parent_id is None}
    for record in records:
        depth.setdefault(record.log_id, depth.get(record.trace_parent_id or "", -1) + 1)
        show(record, depth[record.log_id])
    promptrail.uninstrument_openai()
    promptrail.shutdown()


if __name__ == "__main__":
    main()
