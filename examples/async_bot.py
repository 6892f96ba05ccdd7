"""Async: concurrent LLM calls under one trace, each nested correctly (no network).

python examples/async_bot.py
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import promptrail
from promptrail import log_prompt, trace
from promptrail.exporters import SqliteExporter


@log_prompt(path="translate/one", model="claude-sonnet-4-5", provider="anthropic")
async def translate(text: str, language: str) -> str:
    """Pretend to translate with a model."""
    await asyncio.sleep(0.01)
    promptrail.update_current(prompt_tokens=len(text.split()), output_tokens=len(text.split()))
    return f"[{language}] {text}"


@log_prompt(path="translate/stream")
async def stream_words(text: str):  # type: ignore[no-untyped-def]
    """An async generator: its log ends when the stream is exhausted."""
    for word in text.split():
        await asyncio.sleep(0)
        yield word + " "


async def main() -> None:
    """Translate into three languages concurrently, then stream one."""
    promptrail.configure(exporters=[SqliteExporter("async-example.db")])
    async with trace(path="translate/flow", inputs={"text": "good morning"}) as flow:
        results = await asyncio.gather(
            *(translate("good morning", lang) for lang in ("fr", "de", "ja"))
        )
        flow.output = " | ".join(results)
        print("".join([w async for w in stream_words("streamed words arrive one by one")]))
    promptrail.flush(timeout=10)
    show("async-example.db", 1)


def show(db: str, last: int) -> None:
    """Print the newest traces with the ``promptrail show`` command."""
    sys.stdout.flush()
    command = [sys.executable, "-m", "promptrail", "show", "--db", db, "--last", str(last)]
    subprocess.run(command, check=True)


if __name__ == "__main__":
    asyncio.run(main())
