"""Decorated functions keep their exact types (checked by mypy --strict and pyright; not run).

Each ``assert_type`` fails the type check if a decorator erased or changed a signature.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any, assert_type

import promptrail
from promptrail import log_flow, log_prompt, log_tool, trace
from promptrail.exporters import InMemoryExporter, SqliteExporter


@log_prompt(path="support/answer", model="gpt-4o")
def answer(question: str, messages: list[dict[str, str]], *, temperature: float = 0.0) -> str:
    """Sync."""
    return question


@log_prompt
def bare(x: int) -> int:
    """Without parentheses."""
    return x


@log_prompt(path="a")
async def answer_async(question: str) -> dict[str, Any]:
    """Async."""
    return {"q": question}


@log_prompt(path="g")
def stream(n: int) -> Iterator[str]:
    """Generator."""
    yield from ("a" for _ in range(n))


@log_prompt(path="ag")
async def astream(n: int) -> AsyncIterator[str]:
    """Async generator."""
    for _ in range(n):
        yield "a"


@log_tool(path="tools/add")
def add(a: int, b: int) -> int:
    """Tool."""
    return a + b


@log_flow
def flow() -> None:
    """Flow."""


class Bot:
    """Methods keep their types too."""

    @log_prompt(path="bot")
    def reply(self, text: str) -> str:
        """Method."""
        return text


assert_type(answer("q", [], temperature=0.5), str)
assert_type(bare(1), int)
assert_type(stream(2), Iterator[str])
assert_type(astream(2), AsyncIterator[str])
assert_type(add(1, 2), int)
assert_type(flow(), None)
assert_type(Bot().reply("x"), str)

with trace(path="flow", inputs={"q": 1}) as t:
    assert_type(t, promptrail.Trace)
    t.output = "done"

promptrail.configure(exporters=[InMemoryExporter(), SqliteExporter("x.db")], environment="dev")
assert_type(promptrail.flush(timeout=1.0), bool)
assert_type(promptrail.stats().dropped, int)
assert_type(promptrail.update_current(prompt_tokens=3), bool)


async def use_async() -> None:
    """Awaiting the decorated coroutine function gives its return type."""
    assert_type(await answer_async("q"), dict[str, Any])


def my_extractor(value: object) -> dict[str, Any] | None:
    """A user extractor: a plain function matches the Extractor protocol."""
    return {"output": str(value)} if isinstance(value, int) else None


promptrail.register_extractor(my_extractor)
promptrail.unregister_extractor(my_extractor)
