"""``@flush_after``: a serverless handler's logs are exported before it returns."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

import promptrail
from promptrail import BatchProcessor, ConfigurationError, flush_after, log_prompt
from promptrail.exporters import InMemoryExporter


@log_prompt(path="lambda/answer")
def answer(question: str) -> str:
    """A decorated LLM call made inside a handler."""
    return question.upper()


@pytest.fixture(name="memory")
def fixture_memory() -> Iterator[InMemoryExporter]:
    """A batch pipeline whose worker would wait a minute before exporting on its own."""
    memory = InMemoryExporter()
    promptrail.configure(processors=[BatchProcessor(memory, schedule_delay=60.0)])
    yield memory
    promptrail.shutdown(5)


class TestFlushAfter:
    def test_sync_handler_returns_after_its_logs_are_exported(
        self, memory: InMemoryExporter
    ) -> None:
        """When the handler returns, the logs it made are already exported."""

        @flush_after
        def handler(event: dict[str, str], context: object) -> str:
            return answer(event["q"])

        assert handler({"q": "hi"}, None) == "HI"
        assert [r.output for r in memory.records] == ["HI"]

    def test_without_it_the_logs_wait_for_the_worker(self, memory: InMemoryExporter) -> None:
        """The same handler undecorated returns before its log is exported (what it fixes)."""

        def handler(event: dict[str, str], context: object) -> str:
            return answer(event["q"])

        handler({"q": "hi"}, None)
        assert memory.records == []

    def test_exception_passes_through_and_logs_are_still_exported(
        self, memory: InMemoryExporter
    ) -> None:
        """A failing handler raises its own exception, after its logs were exported."""

        @flush_after(timeout=2)
        def handler(event: dict[str, str], context: object) -> str:
            answer(event["q"])
            raise KeyError("missing")

        with pytest.raises(KeyError, match="missing"):
            handler({"q": "x"}, None)
        assert [r.output for r in memory.records] == ["X"]

    def test_async_handler(self, memory: InMemoryExporter) -> None:
        """An async handler is awaited, then flushed; its name and result are kept."""

        @flush_after
        async def handler(event: dict[str, str], context: object) -> str:
            await asyncio.sleep(0)
            return answer(event["q"])

        assert handler.__name__ == "handler"
        assert asyncio.run(handler({"q": "ok"}, None)) == "OK"
        assert [r.output for r in memory.records] == ["OK"]

    @pytest.mark.parametrize("timeout", [0, -1, float("nan"), "5", True])
    def test_bad_timeout_is_a_configuration_error(self, timeout: object) -> None:
        """A timeout that is not a positive number is refused when decorating."""
        with pytest.raises(ConfigurationError, match="timeout"):
            flush_after(timeout=timeout)  # type: ignore[arg-type]

    def test_generator_is_refused(self) -> None:
        """A generator function is not a handler that returns: refused clearly."""

        def stream() -> Iterator[int]:
            yield 1

        with pytest.raises(ConfigurationError, match="generator"):
            flush_after(stream)
