"""Helpers for testing code that uses promptrail (and for promptrail's own tests).

``capture_logs()`` swaps the pipeline for a synchronous in-memory one, with deterministic ids
(``log-0001``, ...) and clock (one millisecond per reading, from 2026-01-01 UTC) unless told
otherwise, and restores everything on exit::

    from promptrail.testing import capture_logs

    def test_answer_is_logged():
        with capture_logs() as logs:
            answer("hi", messages=[...])
        assert logs[0].path == "support/answer"

The same is available as the ``capture_logs`` pytest fixture (registered through the
``pytest11`` entry point when promptrail is installed).
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections.abc import Iterator, Sequence

from promptrail._record.models import LogRecord
from promptrail._runtime.ids import DEFAULT_IDS, IdGenerator, SequentialIds
from promptrail._runtime.state import STATE, Settings, _State
from promptrail.exporters._base import ExportResult
from promptrail.exporters._memory import InMemoryExporter
from promptrail.pipeline._configure import _install, reset_counts, shutdown
from promptrail.pipeline._processors import SimpleProcessor

__all__ = ["FixedClock", "SequentialIds", "capture_logs", "reset"]

_EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


class FixedClock:
    """A clock that advances ``step`` seconds per reading: deterministic times and latencies.

    Args:
        start: The first wall-clock reading.
        step: Seconds between two readings.

    .. versionadded:: 0.1.0
    """

    def __init__(self, start: datetime.datetime = _EPOCH, step: float = 0.001) -> None:
        self._next = int(start.timestamp() * 1e9)
        self._offset = self._next  # perf readings count from 0 on the same timeline
        self._step = round(step * 1e9)
        self._lock = threading.Lock()

    def _tick(self) -> int:
        with self._lock:
            now = self._next
            self._next += self._step
            return now

    def wall_ns(self) -> int:
        """Return the next wall-clock reading in nanoseconds."""
        return self._tick()

    def perf_ns(self) -> int:
        """Return the next monotonic reading in nanoseconds."""
        return self._tick() - self._offset


class _Captured(list[LogRecord]):
    """The list ``capture_logs`` yields; it fills as logs end."""


class _ListExporter(InMemoryExporter):
    """An in-memory exporter that also appends to the list handed to the test."""

    def __init__(self, target: list[LogRecord]) -> None:
        super().__init__()
        self._target = target

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        self._target.extend(records)
        return super().export(records)


@contextlib.contextmanager
def capture_logs(*, deterministic: bool = True) -> Iterator[list[LogRecord]]:
    """Collect every record made inside the block into a list, synchronously.

    Other processors are set aside for the duration and restored afterwards; promptrail is
    enabled inside the block even if it was disabled.

    Args:
        deterministic: Use :class:`SequentialIds` and :class:`FixedClock` (default); False keeps
            real ids and time.

    .. versionadded:: 0.1.0
    """
    captured = _Captured()
    saved = _save(STATE)
    try:
        _install((SimpleProcessor(_ListExporter(captured)),))
        STATE.enabled = True
        STATE.sample_rate = 1.0  # capture every log, whatever sampling is configured
        STATE.refresh_slow_start()
        if deterministic:
            clock = FixedClock()
            STATE.ids = SequentialIds()
            STATE.wall_ns = clock.wall_ns
            STATE.perf_ns = clock.perf_ns
        yield captured
    finally:
        _restore(STATE, saved)


def _save(st: _State) -> dict[str, object]:
    """Every field of the global state (pipeline, settings, clocks, sampling, ...)."""
    return {name: getattr(st, name) for name in _State.__slots__}


def _restore(st: _State, saved: dict[str, object]) -> None:
    for name, value in saved.items():
        setattr(st, name, value)


def reset() -> None:
    """Shut the pipeline down and restore every default (for test suites' autouse fixtures).

    .. versionadded:: 0.1.0
    """
    shutdown(timeout=5.0)
    fresh = _State()
    STATE.enabled = fresh.enabled
    STATE.processors = None
    STATE.starters = ()
    STATE.enders = ()
    STATE.sink = None
    STATE.settings = Settings(environment=fresh.settings.environment)
    ids: IdGenerator = DEFAULT_IDS
    STATE.ids = ids
    STATE.wall_ns = fresh.wall_ns
    STATE.perf_ns = fresh.perf_ns
    STATE.sample_rate = fresh.sample_rate
    STATE.keep_errors = fresh.keep_errors
    STATE.inherit = fresh.inherit
    STATE.refresh_slow_start()
    reset_counts()
