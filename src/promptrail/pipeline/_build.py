"""Building records where user code that hangs costs one record, not the pipeline.

Building a record runs user code: ``__repr__`` of arguments without a JSON form, ``__str__`` of
exceptions, ``to_dict()``, pydantic and dataclass conversions. One of them that never returns
would stop the export worker for good. :class:`RecordBuilder` builds a batch's records on a helper
thread while the worker waits: when one record has taken longer than ``timeout`` seconds, that
record is given up (counted as failed and reported), the stuck helper is left to finish on its
own (whatever it produces is discarded), and a new helper builds the rest of the batch.

The hand-off costs one queue put and one event wait per batch, not per record.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence

from promptrail._record.models import LogRecord
from promptrail._runtime.state import STATE, Settings
from promptrail._tracing.active import ActiveLog

__all__ = ["DEFAULT_BUILD_TIMEOUT", "BuildFailure", "RecordBuilder", "build_inline"]

DEFAULT_BUILD_TIMEOUT = 5.0
"""Seconds one record may take to build (user reprs included) before it is given up."""

BuildFailure = tuple[ActiveLog, BaseException | None]
"""A log whose record was not built, and the exception (``None``: it timed out)."""


class _Job:
    """One batch's build, shared by the waiting worker and the helper thread."""

    __slots__ = ("abandoned", "done", "failures", "index", "lock", "logs", "records", "started")

    def __init__(self, logs: Sequence[ActiveLog]) -> None:
        self.logs = logs
        self.records: list[LogRecord] = []
        self.failures: list[BuildFailure] = []
        self.index = 0  # the log being built now
        self.started = time.monotonic()  # when its build started
        self.abandoned = False
        self.lock = threading.Lock()
        self.done = threading.Event()


def build_inline(
    logs: Sequence[ActiveLog], settings: Settings
) -> tuple[list[LogRecord], list[BuildFailure]]:
    """Build the records of ``logs`` on this thread: (records, failures)."""
    records: list[LogRecord] = []
    failures: list[BuildFailure] = []
    for log in logs:
        try:
            records.append(log.to_record(settings))
        except BaseException as exc:
            failures.append((log, exc))
    return records, failures


def _helper(jobs: queue.SimpleQueue[_Job | None]) -> None:
    """Build the jobs given until told to stop (``None``) or until a job is abandoned."""
    while True:
        job = jobs.get()
        if job is None:
            return
        settings = STATE.settings
        for index, log in enumerate(job.logs):
            with job.lock:
                if job.abandoned:
                    return  # this thread was stuck and has been replaced
                job.index = index
                job.started = time.monotonic()
            record: LogRecord | None = None
            failure: BaseException | None = None
            try:
                record = log.to_record(settings)
            except BaseException as exc:
                failure = exc
            with job.lock:
                if job.abandoned:
                    return
                if record is not None:
                    job.records.append(record)
                else:
                    job.failures.append((log, failure))
        job.done.set()


class RecordBuilder:
    """Builds records on a helper thread, giving up on a record that takes over ``timeout``.

    Args:
        timeout: Seconds one record may take to build.
    """

    def __init__(self, timeout: float = DEFAULT_BUILD_TIMEOUT) -> None:
        self.timeout = timeout
        self._jobs: queue.SimpleQueue[_Job | None] | None = None
        self._thread: threading.Thread | None = None

    def build(self, logs: Sequence[ActiveLog]) -> tuple[list[LogRecord], list[BuildFailure]]:
        """Build the records of ``logs``: (records in order, failures in order).

        A log whose build timed out is a failure with no exception.
        """
        records: list[LogRecord] = []
        failures: list[BuildFailure] = []
        rest = logs
        while rest:
            job = _Job(rest)
            self._submit(job)
            rest = []
            while not job.done.wait(self._wait_for(job)):
                with job.lock:
                    if job.done.is_set() or time.monotonic() - job.started < self.timeout:
                        continue
                    job.abandoned = True  # the helper is stuck in user code: leave it
                    stuck = job.index
                self._jobs = self._thread = None
                failures.extend(job.failures)
                failures.append((job.logs[stuck], None))
                records.extend(job.records)
                rest = list(job.logs[stuck + 1 :])
                break
            else:
                records.extend(job.records)
                failures.extend(job.failures)
        return records, failures

    def _wait_for(self, job: _Job) -> float:
        return max(0.01, job.started + self.timeout - time.monotonic())

    def _submit(self, job: _Job) -> None:
        jobs, thread = self._jobs, self._thread
        if jobs is None or thread is None or not thread.is_alive():
            jobs = queue.SimpleQueue()
            thread = threading.Thread(
                target=_helper, args=(jobs,), name="promptrail-build", daemon=True
            )
            thread.start()
            self._jobs, self._thread = jobs, thread
        jobs.put(job)

    def close(self) -> None:
        """Let the helper thread end (a later build starts a new one)."""
        jobs, self._jobs, self._thread = self._jobs, None, None
        if jobs is not None:
            jobs.put(None)
