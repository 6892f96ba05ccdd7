"""Quick start: trace a small support bot made of fake LLM calls into SQLite, then show it.

Run it from anywhere (no network, no API keys)::

    pip install -e . && python examples/quickstart.py

With no ``configure()`` call, promptrail writes to the embedded default store: the SQLite file
named by ``$PROMPTRAIL_DB`` (default ``./promptrail.db``). Afterwards, ``promptrail show`` prints
the same trees again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import promptrail
from promptrail import log_prompt, log_tool, trace

KNOWLEDGE = {
    "refund": "Refunds are issued within 5 business days to the original payment method.",
    "shipping": "Standard shipping takes 3-7 days; express takes 1-2 days.",
}


def fake_chat_completion(model: str, messages: list[dict[str, Any]], text: str) -> dict[str, Any]:
    """Return an OpenAI-shaped chat completion, as a real client would (no network)."""
    time.sleep(0.01)  # pretend the model thinks
    prompt_tokens = sum(len(str(m["content"]).split()) for m in messages)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": text},
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(text.split()),
            "total_tokens": prompt_tokens + len(text.split()),
        },
    }


@log_prompt(path="support/classify", model="gpt-4o-mini", provider="openai")
def classify(question: str, messages: list[dict[str, Any]]) -> str:
    """Ask the (fake) model which topic the question is about."""
    topic = "refund" if "refund" in question.lower() else "shipping"
    completion = fake_chat_completion("gpt-4o-mini", messages, topic)
    usage = completion["usage"]
    promptrail.update_current(
        prompt_tokens=usage["prompt_tokens"], output_tokens=usage["completion_tokens"]
    )
    return str(completion["choices"][0]["message"]["content"])


@log_tool(path="support/search_kb")
def search_kb(topic: str) -> str:
    """Look the topic up in the knowledge base (a tool call)."""
    return KNOWLEDGE[topic]


@log_prompt(path="support/answer", model="gpt-4o", provider="openai")
def answer(question: str, messages: list[dict[str, Any]]) -> str:
    """Write the final answer with the (fake) model."""
    completion = fake_chat_completion(
        "gpt-4o", messages, f"Happy to help! {messages[-1]['content']}"
    )
    usage = completion["usage"]
    promptrail.update_current(
        prompt_tokens=usage["prompt_tokens"],
        output_tokens=usage["completion_tokens"],
        finish_reason=completion["choices"][0]["finish_reason"],
    )
    return str(completion["choices"][0]["message"]["content"])


def support_bot(question: str) -> str:
    """Classify, search, answer: one trace with three children."""
    with trace(path="support/flow", inputs={"question": question}) as flow:
        messages = [
            {"role": "system", "content": "You are a helpful support agent."},
            {"role": "user", "content": question},
        ]
        topic = classify(question, messages)
        facts = search_kb(topic)
        messages.append({"role": "system", "content": facts})
        reply = answer(question, messages)
        flow.output = reply
        return reply


def main() -> None:
    """Run the bot on two questions and print the traces."""
    for question in ("Where is my refund?", "How long does shipping take?"):
        print(f"Q: {question}\nA: {support_bot(question)}\n")
    promptrail.flush(timeout=10)
    db = os.environ.get("PROMPTRAIL_DB", "promptrail.db")
    print(f"Traces stored in {os.path.abspath(db)}:\n")
    show(db, 2)


def show(db: str, last: int) -> None:
    """Print the newest traces with the ``promptrail show`` command."""
    sys.stdout.flush()
    command = [sys.executable, "-m", "promptrail", "show", "--db", db, "--last", str(last)]
    subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
