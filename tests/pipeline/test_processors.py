"""Custom processors and scopes, extractors, and the guards around them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

import promptrail
from promptrail import ActiveLog, BaseProcessor, SimpleProcessor, log_prompt, trace
from promptrail.exporters import InMemoryExporter


@log_prompt(path="step")
def step(x: int) -> int:
    """A decorated call."""
    return x


@log_prompt(path="gen")
def gen() -> Iterator[int]:
    """A decorated generator."""
    yield 1
    yield 2


class Recorder(BaseProcessor):
    """Records every hook call it receives."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def on_start(self, log: ActiveLog) -> None:
        self.events.append(("start", log.spec.path))

    def on_end(self, log: ActiveLog) -> None:
        self.events.append(("end", log.spec.path))

    def attach(self, log: ActiveLog) -> object:
        self.events.append(("attach", log.spec.path))
        return log.spec.path

    def detach(self, log: ActiveLog, token: object) -> None:
        assert token == log.spec.path
        self.events.append(("detach", log.spec.path))


class Broken(BaseProcessor):
    """Every hook raises."""

    def on_start(self, log: ActiveLog) -> None:
        raise RuntimeError("start")

    def on_end(self, log: ActiveLog) -> None:
        raise RuntimeError("end")

    def attach(self, log: ActiveLog) -> object:
        if log.spec.path == "step":
            raise RuntimeError("attach")
        return None

    def detach(self, log: ActiveLog, token: object) -> None:
        raise RuntimeError("detach")

    def force_flush(self, timeout: float = 30.0) -> bool:
        raise RuntimeError("flush")

    def shutdown(self, timeout: float = 30.0) -> None:
        raise RuntimeError("shutdown")

    def stats(self) -> dict[str, int]:
        raise RuntimeError("stats")


class TestCustomProcessors:
    """Processors see every log start, end, and every execution step when they are scopes."""

    def test_hooks_in_order(self) -> None:
        """A call is start, attach, detach, end; a generator attaches around each step."""
        recorder = Recorder()
        promptrail.configure(processors=[recorder])
        with trace(path="flow"):
            step(1)
        assert list(gen()) == [1, 2]
        assert recorder.events == [
            ("start", "flow"),
            ("attach", "flow"),
            ("start", "step"),
            ("attach", "step"),
            ("detach", "step"),
            ("end", "step"),
            ("detach", "flow"),
            ("end", "flow"),
            ("start", "gen"),
            ("attach", "gen"),
            ("detach", "gen"),
            ("attach", "gen"),
            ("detach", "gen"),
            ("attach", "gen"),
            ("end", "gen"),
            ("detach", "gen"),
        ]

    async def test_async_call_attaches(self) -> None:
        """An async call is attached while it runs."""

        @log_prompt(path="acall")
        async def acall() -> int:
            return 1

        recorder = Recorder()
        promptrail.configure(processors=[recorder])
        assert await acall() == 1
        assert recorder.events == [
            ("start", "acall"),
            ("attach", "acall"),
            ("detach", "acall"),
            ("end", "acall"),
        ]

    def test_failing_processor_never_reaches_user_code(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Every hook of a broken processor raises; calls, flush, stats and shutdown still work."""
        memory = InMemoryExporter()
        promptrail.configure(processors=[Broken(), SimpleProcessor(memory)])
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            assert step(3) == 3
            assert list(gen()) == [1, 2]
            with pytest.raises(ValueError, match="mine"), trace(path="t"):
                raise ValueError("mine")
            assert promptrail.flush(timeout=1) is False
            stats = promptrail.stats()
            promptrail.shutdown(timeout=1)
        assert [r.path for r in memory.records] == ["step", "gen", "t"]
        assert stats.errors["on_start:Broken"] == 3
        assert stats.errors["on_end:Broken"] == 3
        assert stats.errors["attach:Broken"] == 1  # then its detach is skipped
        assert stats.errors["detach:Broken"] == 4  # gen: 3 steps, t: 1
        for hook in ("start", "end", "attach", "detach", "flush", "shutdown", "stats"):
            assert f"RuntimeError: {hook}" in caplog.text

    def test_processor_without_stats(self) -> None:
        """A processor that has no stats() simply adds nothing to the counts."""

        class Minimal:
            def on_start(self, log: ActiveLog) -> None:
                pass

            def on_end(self, log: ActiveLog) -> None:
                pass

            def force_flush(self, timeout: float = 30.0) -> bool:
                return True

            def shutdown(self, timeout: float = 30.0) -> None:
                pass

        promptrail.configure(processors=[Minimal()])
        step(1)
        assert promptrail.flush()
        assert promptrail.stats().exported == 0

    def test_simple_processor_after_shutdown(self) -> None:
        """A shut-down SimpleProcessor counts later logs as dropped."""
        memory = InMemoryExporter()
        processor = SimpleProcessor(memory)
        promptrail.configure(processors=[processor])
        processor.shutdown()
        processor.shutdown()
        step(1)
        assert processor.stats() == {"exported": 0, "dropped": 1, "failed": 0, "queued": 0}
        assert processor.exporter is memory

    def test_global_shutdown_stops_logging(self, caplog: pytest.LogCaptureFixture) -> None:
        """After shutdown(), calls still work; their logs are counted as dropped and reported."""
        memory = InMemoryExporter()
        promptrail.configure(processors=[SimpleProcessor(memory)])
        step(1)
        promptrail.shutdown()
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            assert step(2) == 2
            assert step(3) == 3
        assert len(memory.records) == 1
        stats = promptrail.stats()
        assert (stats.exported, stats.dropped) == (1, 2)
        assert "no pipeline (after shutdown())" in caplog.text


class TestExtractors:
    """User extractors turn custom return types into log fields."""

    def test_register_and_unregister(self) -> None:
        """A registered extractor is used first; after unregistering it is not."""

        class Reply:
            def __init__(self, text: str) -> None:
                self.text = text

        def extractor(value: Any) -> dict[str, Any] | None:
            if isinstance(value, Reply):
                return {"output": value.text, "output_tokens": 2}
            return None

        @log_prompt(path="custom")
        def call() -> Reply:
            return Reply("hello")

        from promptrail.testing import capture_logs

        promptrail.register_extractor(extractor)
        try:
            with capture_logs() as logs:
                call()
                step(1)
        finally:
            promptrail.unregister_extractor(extractor)
        assert (logs[0].output, logs[0].output_tokens) == ("hello", 2)
        assert logs[1].output == "1"
        with capture_logs() as logs:
            call()
        assert logs[0].output is not None
        assert logs[0].output.startswith("<")

    def test_failing_extractor_is_reported_and_skipped(self) -> None:
        """An extractor that raises is skipped; the record is still built."""

        def broken(value: Any) -> dict[str, Any] | None:
            raise RuntimeError("extractor bug")

        from promptrail.testing import capture_logs

        promptrail.register_extractor(broken)
        try:
            with capture_logs() as logs:
                step(5)
        finally:
            promptrail.unregister_extractor(broken)
        assert logs[0].output == "5"
        assert any(k.startswith("extract:") for k in promptrail.stats().errors)
