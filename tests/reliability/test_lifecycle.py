"""Abandoned generators, exceptions (including BaseException) and interpreter exit."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import subprocess
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

import promptrail
from promptrail import log_prompt, log_tool, trace
from promptrail.exporters import InMemoryExporter

RunScript = Callable[..., subprocess.CompletedProcess[str]]

INCOMPLETE = "promptrail.incomplete"


class Payload:
    """An argument object whose lifetime the tests watch through a weakref."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        return f"Payload({self.n})"


@log_prompt(path="stream")
def stream(payload: Payload) -> Generator[str, None, None]:
    """A streaming call yielding payload.n chunks."""
    for i in range(payload.n):
        yield f"chunk{i}"


@log_prompt(path="astream")
async def astream(payload: Payload) -> AsyncGenerator[str, None]:
    """An async streaming call yielding payload.n chunks."""
    for i in range(payload.n):
        await asyncio.sleep(0)
        yield f"chunk{i}"


def only(memory: InMemoryExporter) -> promptrail.LogRecord:
    """The single exported record."""
    (record,) = memory.records
    return record


class TestAbandonedGenerator:
    """A generator the consumer stops reading: the log ends, is marked, and nothing leaks."""

    def test_break_then_drop(self, memory: InMemoryExporter) -> None:
        """Breaking out of the loop and dropping the generator ends the log as closed."""
        payload = Payload(10)
        payload_ref = weakref.ref(payload)
        gen = stream(payload)
        gen_ref = weakref.ref(gen)
        for chunk in gen:
            if chunk == "chunk2":
                break
        assert memory.records == []  # still open while the consumer holds it
        del gen, payload
        gc.collect()
        record = only(memory)
        assert record.metadata[INCOMPLETE] == "closed"
        assert record.end_time is not None
        assert record.error is None
        assert gen_ref() is None
        assert payload_ref() is None
        assert promptrail.get_current_log_id() is None

    def test_close(self, memory: InMemoryExporter) -> None:
        """close() after one item ends the log at once, marked closed."""
        gen = stream(Payload(10))
        assert next(gen) == "chunk0"
        gen.close()
        assert only(memory).metadata[INCOMPLETE] == "closed"

    def test_garbage_collected_in_a_cycle(self, memory: InMemoryExporter) -> None:
        """A started generator only reachable through a reference cycle ends when collected."""
        holder: dict[str, Any] = {}
        holder["self"] = holder
        holder["gen"] = stream(Payload(10))
        next(holder["gen"])
        gen_ref = weakref.ref(holder["gen"])
        del holder
        gc.collect()
        assert gen_ref() is None
        assert only(memory).metadata[INCOMPLETE] == "closed"

    def test_never_started(self, memory: InMemoryExporter) -> None:
        """A generator created and dropped without being iterated still ends its log."""
        payload = Payload(3)
        payload_ref = weakref.ref(payload)
        gen = stream(payload)
        gen_ref = weakref.ref(gen)
        del gen, payload
        gc.collect()
        promptrail.flush()  # finalizers queue the end; a flush (or the worker) runs it
        record = only(memory)
        assert record.metadata[INCOMPLETE] == "never_started"
        assert gen_ref() is None
        assert payload_ref() is None

    def test_exhausted_is_not_incomplete(self, memory: InMemoryExporter) -> None:
        """A generator read to the end is complete, with every chunk."""
        assert list(stream(Payload(3))) == ["chunk0", "chunk1", "chunk2"]
        assert INCOMPLETE not in only(memory).metadata

    async def test_async_break_and_aclose(self, memory: InMemoryExporter) -> None:
        """An async generator left mid-stream and closed ends its log, marked closed."""
        payload = Payload(10)
        payload_ref = weakref.ref(payload)
        agen = astream(payload)
        agen_ref = weakref.ref(agen)
        async for chunk in agen:
            if chunk == "chunk1":
                break
        await agen.aclose()
        del agen, payload
        gc.collect()
        assert only(memory).metadata[INCOMPLETE] == "closed"
        assert agen_ref() is None
        assert payload_ref() is None

    async def test_async_dropped_without_aclose(self, memory: InMemoryExporter) -> None:
        """An async generator dropped mid-stream is finalised by the event loop; its log ends."""
        agen = astream(Payload(10))
        assert await agen.__anext__() == "chunk0"
        del agen
        gc.collect()
        for _ in range(20):  # the loop's finaliser schedules aclose() as a task
            if memory.records:
                break
            await asyncio.sleep(0.01)
        assert only(memory).metadata[INCOMPLETE] == "closed"

    async def test_async_never_started(self, memory: InMemoryExporter) -> None:
        """An async generator never iterated ends its log as never_started."""
        agen = astream(Payload(1))
        del agen
        gc.collect()
        promptrail.flush()  # finalizers queue the end; a flush (or the worker) runs it
        assert only(memory).metadata[INCOMPLETE] == "never_started"


def swallow_exit() -> Generator[str, None, str]:
    """A generator that treats GeneratorExit as its end and returns."""
    try:
        yield "first"
    except GeneratorExit:
        return "swallowed"
    return "done"


async def aswallow_exit() -> AsyncGenerator[str, None]:
    """An async generator that treats GeneratorExit as its end."""
    try:
        yield "first"
    except GeneratorExit:
        return


class TestGeneratorExitThrownIn:
    """``throw(GeneratorExit)`` reaches the generator as it does undecorated."""

    def test_throw_generator_exit_returns_as_undecorated(self, memory: InMemoryExporter) -> None:
        """A generator that catches it and returns raises StopIteration, decorated or not."""
        outcomes = []
        for func in (swallow_exit, log_tool(path="swallow")(swallow_exit)):
            gen = func()
            assert next(gen) == "first"
            with pytest.raises(StopIteration) as stopped:
                gen.throw(GeneratorExit)
            outcomes.append(stopped.value.value)
        assert outcomes == ["swallowed", "swallowed"]
        assert only(memory).metadata[INCOMPLETE] == "closed"

    def test_contextmanager_that_swallows_generator_exit(self, memory: InMemoryExporter) -> None:
        """A ``@contextmanager`` over it keeps its meaning: the GeneratorExit is suppressed."""
        managed = contextlib.contextmanager(log_tool(path="swallow")(swallow_exit))
        with managed() as value:
            raise GeneratorExit
        assert value == "first"
        assert only(memory).metadata[INCOMPLETE] == "closed"

    async def test_async_athrow_generator_exit(self, memory: InMemoryExporter) -> None:
        """An async generator that catches it and returns ends with StopAsyncIteration."""
        agen = log_tool(path="aswallow")(aswallow_exit)()
        assert await agen.__anext__() == "first"
        with pytest.raises(StopAsyncIteration):
            await agen.athrow(GeneratorExit)
        assert only(memory).metadata[INCOMPLETE] == "closed"


class TestExceptions:
    """Exceptions in user code propagate unchanged and end the log."""

    def test_exception_inside_trace(self, memory: InMemoryExporter) -> None:
        """The same exception object propagates; the flow and its children are recorded."""

        @log_tool(path="tool")
        def tool() -> int:
            return 1

        error = ValueError("bad input")

        def run() -> None:
            with trace(path="flow"):
                tool()
                raise error

        with pytest.raises(ValueError, match="bad input") as info:
            run()
        assert info.value is error
        assert promptrail.get_current_log_id() is None
        records = {r.path: r for r in memory.records}
        assert records["flow"].error == "ValueError: bad input"
        assert records["flow"].end_time is not None
        assert records["tool"].trace_parent_id == records["flow"].log_id
        assert records["tool"].error is None

    @pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
    def test_base_exceptions_inside_trace(
        self, memory: InMemoryExporter, exc_type: type[BaseException]
    ) -> None:
        """KeyboardInterrupt/SystemExit inside trace() propagate; the flow log is ended."""
        error = exc_type()

        def run() -> None:
            with trace(path="flow"):
                raise error

        with pytest.raises(exc_type) as info:
            run()
        assert info.value is error
        record = only(memory)
        assert record.error == exc_type.__name__
        assert record.end_time is not None
        assert promptrail.get_current_log_id() is None

    @pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
    def test_base_exceptions_propagate_and_end_the_log(
        self, memory: InMemoryExporter, exc_type: type[BaseException]
    ) -> None:
        """KeyboardInterrupt/SystemExit inside a decorated call propagate; the log is ended."""
        error = exc_type()

        @log_prompt(path="interrupted")
        def interrupted() -> None:
            raise error

        with pytest.raises(exc_type) as info:
            interrupted()
        assert info.value is error
        record = only(memory)
        assert record.error == exc_type.__name__
        assert record.end_time is not None
        assert promptrail.get_current_log_id() is None

    @pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
    async def test_base_exceptions_in_async_calls(
        self, memory: InMemoryExporter, exc_type: type[BaseException]
    ) -> None:
        """The same holds for ``async def`` calls."""

        @log_prompt(path="interrupted")
        async def interrupted() -> None:
            await asyncio.sleep(0)
            raise exc_type("stop")

        with pytest.raises(exc_type):
            await interrupted()
        assert only(memory).error == f"{exc_type.__name__}: stop"

    def test_keyboard_interrupt_inside_a_stream(self, memory: InMemoryExporter) -> None:
        """A KeyboardInterrupt raised by a generator mid-stream ends its log with the error."""

        @log_prompt(path="stream")
        def interrupted_stream() -> Iterator[int]:
            yield 1
            raise KeyboardInterrupt

        gen = interrupted_stream()
        assert next(gen) == 1
        with pytest.raises(KeyboardInterrupt):
            next(gen)
        assert only(memory).error == "KeyboardInterrupt"


EXIT_SCRIPT = """
import sys, promptrail
from promptrail.exporters import JsonlExporter

promptrail.configure(exporters=[JsonlExporter(sys.argv[1])])

@promptrail.log_tool(path="work")
def work(i):
    return i

for i in range(int(sys.argv[2])):
    work(i)
print(promptrail.stats().queued > 0)
"""

HANGING_EXIT_SCRIPT = """
import sys, threading, promptrail

class Hanging:
    def export(self, records):
        threading.Event().wait(60)
    def force_flush(self, timeout=30.0):
        return True
    def shutdown(self):
        pass

promptrail.configure(exporters=[Hanging()], exit_timeout=float(sys.argv[1]))

@promptrail.log_tool(path="work")
def work(i):
    return i

for i in range(100):
    work(i)
promptrail.flush(0.1)
for i in range(100):
    work(i)
print("done")
"""


class TestInterpreterExit:
    """What happens at interpreter exit, in a child interpreter."""

    def test_queued_records_reach_the_file(self, tmp_path: Path, run_script: RunScript) -> None:
        """Logs still queued when the script ends are written by the exit hook."""
        out = tmp_path / "exit.jsonl"
        result = run_script(EXIT_SCRIPT, str(out), "2000")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "True"  # the queue was not empty at exit
        lines = out.read_text().splitlines()
        assert sorted(json.loads(line)["inputs"]["i"] for line in lines) == list(range(2000))
        assert result.stderr == ""

    def test_hanging_exporter_does_not_block_exit(self, run_script: RunScript) -> None:
        """With an exporter that never returns, exit takes about exit_timeout, not forever."""
        started = time.monotonic()
        result = run_script(HANGING_EXIT_SCRIPT, "1.0")
        elapsed = time.monotonic() - started
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "done"
        assert elapsed < 1.0 + 4.0
        assert "shut down with" in result.stderr  # the loss is reported, not silent
