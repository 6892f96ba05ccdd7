"""Nesting: every log gets the right parent across calls, tasks, threads and generators."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

import promptrail
from promptrail import log_prompt, log_tool, trace
from promptrail._record.models import LogRecord
from promptrail._tracing.context import CURRENT
from promptrail.testing import capture_logs


@log_tool(path="inner")
def inner(i: int) -> int:
    """A leaf call."""
    return i


@log_prompt(path="outer")
def outer(n: int) -> int:
    """Calls inner n times."""
    return sum(inner(i) for i in range(n))


@log_prompt(path="ainner")
async def ainner(i: int) -> int:
    """An async leaf that yields to the loop so tasks interleave."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    return i


@log_prompt(path="aouter")
async def aouter(n: int) -> int:
    """Runs n leaves concurrently."""
    results = await asyncio.gather(*(ainner(i) for i in range(n)))
    return sum(results)


def by_path(logs: list[LogRecord]) -> dict[str, list[LogRecord]]:
    """Group records by path."""
    out: dict[str, list[LogRecord]] = {}
    for record in logs:
        out.setdefault(record.path, []).append(record)
    return out


class TestSyncNesting:
    """Nested sync calls form one tree."""

    def test_children_point_at_parent_and_root(self) -> None:
        """Each inner log has the outer log as parent and the root's trace id."""
        with capture_logs() as logs:
            outer(3)
        groups = by_path(logs)
        (root,) = groups["outer"]
        assert root.trace_parent_id is None
        assert root.trace_id == root.log_id
        assert len(groups["inner"]) == 3
        for child in groups["inner"]:
            assert child.trace_parent_id == root.log_id
            assert child.trace_id == root.log_id

    def test_sequential_roots_are_separate_traces(self) -> None:
        """Two top-level calls make two traces, and the context is empty again after each."""
        with capture_logs() as logs:
            assert CURRENT.get() is None
            inner(1)
            assert CURRENT.get() is None
            inner(2)
        assert logs[0].trace_id != logs[1].trace_id
        assert all(r.trace_parent_id is None for r in logs)

    def test_deep_nesting_under_trace(self) -> None:
        """trace() > outer > inner gives a three-level tree with one trace id."""
        with capture_logs() as logs, trace(path="flow"):
            outer(1)
        groups = by_path(logs)
        flow, out, inn = groups["flow"][0], groups["outer"][0], groups["inner"][0]
        assert out.trace_parent_id == flow.log_id
        assert inn.trace_parent_id == out.log_id
        assert {r.trace_id for r in logs} == {flow.log_id}

    def test_current_ids_inside_a_call(self) -> None:
        """get_current_log_id/get_current_trace_id see the log in progress."""
        seen: dict[str, str | None] = {}

        @log_prompt(path="probe")
        def probe() -> None:
            seen["log"] = promptrail.get_current_log_id()
            seen["trace"] = promptrail.get_current_trace_id()

        with capture_logs() as logs, trace(path="root") as t:
            probe()
        assert promptrail.get_current_log_id() is None
        assert seen["trace"] == t.trace_id
        assert seen["log"] == by_path(logs)["probe"][0].log_id


class TestAsyncNesting:
    """asyncio tasks each see their own parent."""

    async def test_gather(self) -> None:
        """Concurrent children under gather all nest under their own outer call."""
        with capture_logs() as logs:
            await asyncio.gather(aouter(3), aouter(3))
        groups = by_path(logs)
        roots = {r.log_id for r in groups["aouter"]}
        assert len(roots) == 2
        for root_id in roots:
            children = [c for c in groups["ainner"] if c.trace_parent_id == root_id]
            assert len(children) == 3
            assert all(c.trace_id == root_id for c in children)

    async def test_create_task_inherits_parent(self) -> None:
        """A task created inside a call nests under it even if it finishes later."""

        @log_prompt(path="spawner")
        async def spawner() -> asyncio.Task[int]:
            return asyncio.create_task(ainner(7))

        with capture_logs() as logs:
            task = await spawner()
            await task
        groups = by_path(logs)
        assert groups["ainner"][0].trace_parent_id == groups["spawner"][0].log_id

    async def test_many_tasks(self) -> None:
        """A thousand concurrent tasks under one trace all get the right parent."""
        with capture_logs() as logs:
            async with trace(path="fanout") as t:
                await asyncio.gather(*(ainner(i) for i in range(1000)))
        children = by_path(logs)["ainner"]
        assert len(children) == 1000
        assert {c.trace_parent_id for c in children} == {t.log_id}


class TestThreads:
    """Threads nest only through the explicit helpers."""

    def test_bind_context(self) -> None:
        """A thread running a bind_context() callable nests under the submitting log."""
        with capture_logs() as logs, trace(path="root") as t:
            thread = threading.Thread(target=promptrail.bind_context(inner), args=(1,))
            thread.start()
            thread.join()
        assert by_path(logs)["inner"][0].trace_parent_id == t.log_id

    def test_context_executor(self) -> None:
        """ContextThreadPoolExecutor.submit and .map nest under the submitting log."""
        with capture_logs() as logs, trace(path="root") as t:
            with promptrail.ContextThreadPoolExecutor(max_workers=4) as pool:
                assert sum(pool.map(inner, range(8))) == 28
                assert pool.submit(inner, 5).result() == 5
        children = by_path(logs)["inner"]
        assert len(children) == 9
        assert {c.trace_parent_id for c in children} == {t.log_id}

    def test_plain_executor_does_not_nest(self) -> None:
        """Documented behaviour: a plain ThreadPoolExecutor starts separate traces."""
        with capture_logs() as logs, trace(path="root") as t:
            with ThreadPoolExecutor(max_workers=2) as pool:
                pool.submit(inner, 1).result()
        child = by_path(logs)["inner"][0]
        assert child.trace_parent_id is None
        assert child.trace_id != t.log_id

    def test_eight_threads_exact_counts(self) -> None:
        """8 threads x 500 calls under their own roots: every child has its thread's parent."""
        with capture_logs() as logs:

            def work(k: int) -> None:
                with trace(path=f"thread-{k}"):
                    for i in range(500):
                        inner(i)

            threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert len(logs) == 8 * 501
        roots = {r.log_id: r.path for r in logs if r.trace_parent_id is None}
        assert len(roots) == 8
        per_root: dict[str, int] = {}
        for r in logs:
            if r.trace_parent_id is not None:
                per_root[r.trace_parent_id] = per_root.get(r.trace_parent_id, 0) + 1
        assert per_root == dict.fromkeys(roots, 500)


@log_prompt(path="stream")
def stream(n: int) -> Iterator[int]:
    """Yields n items, calling inner for each."""
    for i in range(n):
        inner(i)
        yield i


@log_prompt(path="astream")
async def astream(n: int) -> AsyncIterator[int]:
    """Async version of stream."""
    for i in range(n):
        await ainner(i)
        yield i


class TestGenerators:
    """Generators keep the parent they were created under."""

    def test_parent_fixed_at_creation(self) -> None:
        """A generator created inside a trace and consumed after it still nests under it."""
        with capture_logs() as logs:
            with trace(path="handler") as t:
                body = stream(2)  # like a StreamingResponse body, consumed later
            assert list(body) == [0, 1]
        groups = by_path(logs)
        assert groups["stream"][0].trace_parent_id == t.log_id
        assert {c.trace_parent_id for c in groups["inner"]} == {groups["stream"][0].log_id}

    def test_consumer_code_between_items_does_not_nest(self) -> None:
        """Calls the consumer makes between items belong to the consumer, not the generator."""
        with capture_logs() as logs:
            for _ in stream(2):
                assert CURRENT.get() is None
                inner(99)
        consumer_calls = [r for r in logs if r.path == "inner" and r.inputs == {"i": 99}]
        assert len(consumer_calls) == 2
        assert all(r.trace_parent_id is None for r in consumer_calls)

    async def test_async_generator_children_nest(self) -> None:
        """Calls made inside an async generator nest under it."""
        with capture_logs() as logs:
            assert [i async for i in astream(3)] == [0, 1, 2]
        groups = by_path(logs)
        assert {c.trace_parent_id for c in groups["ainner"]} == {groups["astream"][0].log_id}

    async def test_close_from_another_task(self) -> None:
        """Closing an async generator from another task raises no context error."""
        with capture_logs() as logs:
            agen = astream(5)
            await agen.__anext__()

            async def closer() -> None:
                await agen.aclose()

            await asyncio.create_task(closer())
        assert by_path(logs)["astream"][0].metadata["promptrail.incomplete"] == "closed"

    def test_close_from_another_thread(self) -> None:
        """Closing a generator in another thread raises no context error."""
        errors: list[BaseException] = []
        with capture_logs() as logs:
            gen = stream(5)
            next(gen)

            def close() -> None:
                try:
                    gen.close()
                except BaseException as exc:  # pragma: no cover - the failure we test for
                    errors.append(exc)

            thread = threading.Thread(target=close)
            thread.start()
            thread.join()
        assert errors == []
        assert by_path(logs)["stream"][0].output is not None


class TestTrace:
    """trace() as a sync and async context manager."""

    def test_output_metadata_inputs(self) -> None:
        """inputs, metadata and output set on the Trace end up in the flow log."""
        with capture_logs() as logs:
            with trace(path="support/flow", inputs={"q": "hi"}, metadata={"a": 1}) as t:
                t.output = "bye"
                t.metadata["b"] = 2
        (record,) = logs
        assert (record.kind, record.path, record.inputs) == ("flow", "support/flow", {"q": "hi"})
        assert record.output == "bye"
        assert record.metadata == {"a": 1, "b": 2}

    def test_an_unknown_kind_raises_configuration_error(self) -> None:
        """A kind that is not a log kind is refused where the block is written."""
        with pytest.raises(promptrail.ConfigurationError, match="kind"):
            trace(path="f", kind="span")  # type: ignore[arg-type]

    def test_exception_ends_with_error_and_propagates(self) -> None:
        """An exception in the block is recorded and re-raised as the same object."""
        error = RuntimeError("nope")
        with capture_logs() as logs, pytest.raises(RuntimeError) as caught, trace(path="f"):
            raise error
        assert caught.value is error
        assert logs[0].error == "RuntimeError: nope"

    async def test_async_with(self) -> None:
        """async with trace() parents the awaited calls inside."""
        with capture_logs() as logs:
            async with trace(path="aflow") as t:
                await ainner(1)
        assert by_path(logs)["ainner"][0].trace_parent_id == t.log_id

    def test_empty_path_is_rejected(self) -> None:
        """trace() needs a path."""
        with pytest.raises(promptrail.ConfigurationError):
            trace(path="")

    def test_disabled_trace_is_inert(self) -> None:
        """When disabled, trace() runs the block and has no ids."""
        promptrail.configure(enabled=False)
        with trace(path="off") as t:
            pass
        assert t.log_id is None
        assert t.trace_id is None
