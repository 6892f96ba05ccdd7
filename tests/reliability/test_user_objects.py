"""User objects whose __str__ or __repr__ raise, exit or block never change what the caller sees."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import promptrail
from promptrail import log_tool
from promptrail.exporters import InMemoryExporter


class ExitingError(Exception):
    """An exception whose message cannot be formatted: ``__str__`` raises ``SystemExit``."""

    def __str__(self) -> str:
        raise SystemExit(3)


class InterruptingError(Exception):
    """An exception whose ``__str__`` raises ``KeyboardInterrupt``."""

    def __str__(self) -> str:
        raise KeyboardInterrupt


class SlowError(Exception):
    """An exception whose ``__str__`` takes a second."""

    def __str__(self) -> str:
        time.sleep(1.0)
        return "slow"


class ExitingRepr:
    """An object whose ``__repr__`` raises ``SystemExit``."""

    def __repr__(self) -> str:
        raise SystemExit(4)


class HangingRepr:
    """An object whose ``__repr__`` blocks until released (at most 30 s)."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def __repr__(self) -> str:
        self.release.wait(30)
        return "HangingRepr()"


@log_tool(path="raiser")
def raiser(exc: BaseException) -> None:
    """Raise ``exc``."""
    raise exc


@log_tool(path="take")
def take(value: Any) -> int:
    """Accept anything."""
    return 1


@pytest.mark.parametrize("error", [ExitingError, InterruptingError])
def test_str_raising_base_exception_keeps_the_users_exception(
    memory: InMemoryExporter, error: type[Exception]
) -> None:
    """The caller gets its own exception back, and the log names the type."""
    with pytest.raises(error):
        raiser(error())
    assert promptrail.flush(5.0) is True
    (record,) = memory.records
    assert record.error == f"{error.__name__}: <unprintable {error.__name__}>"


def test_slow_str_does_not_slow_the_call() -> None:
    """A ``__str__`` that takes a second runs in the worker, not in the caller's call."""
    promptrail.configure(exporters=[InMemoryExporter()])
    started = time.perf_counter()
    with pytest.raises(SlowError):
        raiser(SlowError())
    assert time.perf_counter() - started < 0.5
    assert promptrail.flush(10.0) is True


def test_repr_raising_system_exit_does_not_kill_the_worker() -> None:
    """The worker survives a ``SystemExit`` from a user ``__repr__``; every log is recorded."""
    memory = InMemoryExporter()
    promptrail.configure(exporters=[memory])
    take(ExitingRepr())
    for i in range(1000):
        take(i)
    assert promptrail.flush(10.0) is True
    stats = promptrail.stats()
    assert len(memory.records) == 1001
    assert (stats.exported, stats.failed) == (1001, 0)


def test_repr_that_hangs_costs_one_record_not_the_pipeline() -> None:
    """A ``__repr__`` that never returns loses its own record, counted; 100 later logs flow."""
    release = threading.Event()
    memory = InMemoryExporter()
    promptrail.configure(processors=[promptrail.BatchProcessor(memory, build_timeout=0.5)])
    try:
        take(HangingRepr(release))
        for i in range(100):
            take(i)
        started = time.monotonic()
        assert promptrail.flush(10.0) is True
        assert time.monotonic() - started < 5
        stats = promptrail.stats()
        assert (len(memory.records), stats.exported, stats.failed) == (100, 100, 1)
        assert stats.errors["build_timeout"] == 1
    finally:
        release.set()
    take(-1)  # the stuck build's late result is discarded; the pipeline keeps going
    assert promptrail.flush(5.0) is True
    assert (len(memory.records), promptrail.stats().failed) == (101, 1)


class UniterableList(list[int]):
    """A list whose ``__iter__`` and ``__len__`` raise."""

    def __iter__(self) -> Any:
        raise RuntimeError("no iteration")

    def __len__(self) -> int:
        raise RuntimeError("no length")


class UnsizedTuple(tuple[int, ...]):
    """A tuple whose ``__len__`` raises."""

    def __len__(self) -> int:
        raise RuntimeError("no length")


class ClassRaises:
    """An object whose ``__class__`` raises (as some lazy proxies do before they load)."""

    @property  # type: ignore[misc]
    def __class__(self) -> Any:
        raise RuntimeError("not loaded")


@log_tool(path="identity")
def identity(value: Any) -> Any:
    """Return ``value`` unchanged."""
    return value


@pytest.mark.parametrize("make", [UniterableList, UnsizedTuple, ClassRaises, set])
def test_hostile_containers_keep_their_record(memory: InMemoryExporter, make: Any) -> None:
    """Arguments and results whose ``__iter__``, ``__len__`` or ``__class__`` raise cost nothing."""
    value = make() if make is ClassRaises else make([1, 2])
    assert take(value) == 1
    assert identity(value) is value
    assert take({"nested": [value]}) == 1
    assert promptrail.flush(5.0) is True
    stats = promptrail.stats()
    assert (len(memory.records), stats.exported, stats.failed) == (3, 3, 0)
