"""The default processor: a bounded queue drained by one lazy background worker.

The caller's thread only appends the ended log to a ``deque`` (and, once per batch, sets an
event). The worker builds records, calls the exporter, and answers flush requests.

Counting is lock-free on the hot path: ``enqueued`` is an atomic counter, the worker counts what
it dequeues, and ``dropped = enqueued - dequeued - len(queue)``. When the queue is full, appending
evicts the oldest log (``deque(maxlen=...)``); that is the drop, and a rate-limited warning says
how many were lost.

Fork: the worker thread does not survive ``fork()``. In the child, the queue (the parent's logs,
which the parent exports), the locks and the counters are reset and a new worker starts lazily on
the child's first log.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

from promptrail._runtime import errors as _errors
from promptrail._runtime.counters import AtomicCounter
from promptrail._runtime.fork import call_after_fork
from promptrail._tracing.active import ActiveLog
from promptrail._tracing.lifecycle import run_deferred
from promptrail.exceptions import ConfigurationError
from promptrail.exporters._base import Exporter
from promptrail.pipeline._build import DEFAULT_BUILD_TIMEOUT, RecordBuilder
from promptrail.pipeline._processors import (
    BaseProcessor,
    Counts,
    check_exporter,
    export_logs,
    flush_exporter,
    shutdown_exporter,
)

__all__ = ["BatchProcessor"]


class _FlushRequest:
    __slots__ = ("deadline", "done", "ok")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.done = threading.Event()
        self.ok = False


class BatchProcessor(BaseProcessor):
    """Queues ended logs and exports them in batches from a background thread.

    Args:
        exporter: Where the records go. Only the worker thread calls it.
        max_queue_size: Most logs waiting; when full, the oldest is dropped and counted.
        max_batch_size: Most records per ``export()`` call; a full batch wakes the worker.
        schedule_delay: Seconds the worker waits for a full batch before exporting what it has.
        build_timeout: Seconds one record may take to build (your objects' ``__repr__``,
            ``__str__``, ``to_dict()`` run then); a record that takes longer is given up, counted
            as failed, and the rest flow on.

    Raises:
        ConfigurationError: If ``exporter`` is not an exporter, a size is not positive or the
            batch is larger than the queue.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        exporter: Exporter,
        *,
        max_queue_size: int = 16_384,
        max_batch_size: int = 512,
        schedule_delay: float = 0.5,
        build_timeout: float = DEFAULT_BUILD_TIMEOUT,
    ) -> None:
        check_exporter(exporter)
        if max_queue_size < 1 or max_batch_size < 1:
            msg = "max_queue_size and max_batch_size must be positive"
            raise ConfigurationError(msg)
        if max_batch_size > max_queue_size:
            msg = (
                f"max_batch_size ({max_batch_size}) must not exceed "
                f"max_queue_size ({max_queue_size})"
            )
            raise ConfigurationError(msg)
        if not schedule_delay > 0:
            msg = f"schedule_delay must be positive, not {schedule_delay!r}"
            raise ConfigurationError(msg)
        if not build_timeout > 0:
            msg = f"build_timeout must be positive, not {build_timeout!r}"
            raise ConfigurationError(msg)
        self._build_timeout = build_timeout
        self._exporter = exporter
        self._max_queue_size = max_queue_size
        self._max_batch_size = max_batch_size
        self._schedule_delay = schedule_delay
        self._notify_at = max_batch_size - 1  # queue length before an append that fills a batch
        self._drop_warning = _errors.RateLimitedWarning(
            "promptrail: the export queue is full; dropped %d oldest records"
        )
        self._init_state()
        call_after_fork(self._init_state)  # a forked child gets its own queue, locks and worker

    def _init_state(self) -> None:
        # Everything a forked child must not share with its parent.
        self._queue: collections.deque[ActiveLog] = collections.deque(maxlen=self._max_queue_size)
        self._enqueued = AtomicCounter()
        self._next_enqueued = self._enqueued.increment
        self._dequeued = 0
        # Logs handed to it after shutdown: counted in ``_late``, which is its own ``_lost``
        # until configure() retires it and folds its counts into the pipeline's; from then on a
        # log from a thread that read the old pipeline counts where stats() still sees it.
        self._lost = AtomicCounter()
        self._late = self._lost
        self._in_flight = 0  # records in the export call now
        self._given_up = 0  # records in an export call still running when shutdown gave up
        self._owns_exporter = True
        self._counts = Counts()
        self._lock = threading.RLock()  # re-entrant: the GC may end a log while we hold it
        self._wake = threading.Event()
        self._notified = False
        self._flush_requests: list[_FlushRequest] = []
        self._worker: threading.Thread | None = None
        self._stopping = False
        self._shut = False
        self._running = False  # worker started and not shut down: on_end's fast path
        self._stopped = threading.Event()
        self._builder = RecordBuilder(self._build_timeout)  # its helper thread: not the parent's

    @property
    def exporter(self) -> Exporter:
        """The exporter this processor feeds."""
        return self._exporter

    # -- hot path ---------------------------------------------------------------------------

    def on_end(self, log: ActiveLog) -> None:
        """Queue ``log`` (dropping the oldest if the queue is full). Never blocks."""
        if not self._running:
            self._on_end_cold(log)
            return
        # The sync wrapper spells these lines out for the default pipeline (one BatchProcessor,
        # see _decorator._sync_wrapper); tests/test_hot_path.py checks both ways agree.
        queue = self._queue
        n = len(queue)
        queue.append(log)
        count = self._next_enqueued  # an attribute holding a function: load, then call
        count()
        if n >= self._notify_at:
            self._batch_ready(n)

    def _batch_ready(self, n: int) -> None:
        """A batch is queued (``n`` logs were waiting before the last append): wake the worker.

        Also counts a drop when the append evicted the oldest log (``n`` was the queue's limit).
        """
        if n >= self._max_queue_size:
            self._drop_warning.hit()
        worker = self._worker
        if worker is not None and not worker.is_alive() and not self._stopping:
            self._start_worker()  # it died (it should not): a new one takes the queue
        if not self._notified:
            self._notified = True
            self._wake.set()

    def _on_end_cold(self, log: ActiveLog) -> None:
        """``on_end`` before the worker runs (it starts it) and after shutdown (counts a loss)."""
        if self._shut:
            self._late.increment()
            return
        queue = self._queue
        if len(queue) >= self._max_queue_size:
            self._drop_warning.hit()
        queue.append(log)
        self._next_enqueued()
        if self._worker is None:
            self._start_worker()
        elif len(queue) >= self._max_batch_size and not self._notified:
            self._notified = True
            self._wake.set()

    # -- worker -----------------------------------------------------------------------------

    def _start_worker(self) -> None:
        with self._lock:
            if self._worker is not None and self._worker.is_alive():
                return
            if self._shut:
                return
            worker = threading.Thread(target=self._run, name="promptrail-export", daemon=True)
            self._worker = worker
            worker.start()
            self._running = True

    def _run(self) -> None:
        while True:
            self._wake.wait(self._schedule_delay)
            run_deferred()  # logs the garbage collector ended since: queued, never lost
            self._wake.clear()
            self._notified = False
            with self._lock:
                requests, self._flush_requests = self._flush_requests, []
                stopping = self._stopping
            deadline = min((r.deadline for r in requests), default=None)
            set_deadline = getattr(self._exporter, "set_deadline", None)
            if set_deadline is not None:  # a spooling exporter keeps its waits within it
                _errors.call(self._exporter, "set_deadline", deadline)
            try:
                drained = self._drain(deadline)
                if requests:
                    ok = drained and flush_exporter(self._exporter, _remaining(deadline))
                    for request in requests:
                        request.ok = ok
            except BaseException as exc:
                _errors.report("worker", exc, "export worker iteration failed", internal=False)
            finally:
                for request in requests:
                    request.done.set()
            if stopping:
                self._builder.close()
                self._stopped.set()
                return

    def _drain(self, deadline: float | None) -> bool:
        """Export what is queued now, batch by batch; stop early past ``deadline``."""
        queue = self._queue
        remaining = len(queue)
        while remaining > 0:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            batch: list[ActiveLog] = []
            try:
                for _ in range(min(remaining, self._max_batch_size)):
                    batch.append(queue.popleft())
            except IndexError:  # pragma: no cover - a concurrent drop emptied the queue
                remaining = 0
            remaining -= len(batch)
            self._dequeued += len(batch)
            self._in_flight = len(batch)
            export_logs(self._exporter, batch, self._counts, self._builder)
            self._in_flight = 0
            self._given_up = 0  # it finished after all: counted as exported or failed now
        return True

    # -- lifecycle --------------------------------------------------------------------------

    def force_flush(self, timeout: float = 30.0) -> bool:
        """Export every log ended before this call; wait at most ``timeout`` seconds.

        The worker keeps running afterwards (unlike :meth:`shutdown`).

        Returns:
            True if everything queued was exported (or failed for good) in time.
        """
        if self._shut:
            return not self._queue
        worker = self._worker
        if worker is None or not worker.is_alive():
            if not self._queue:
                return flush_exporter(self._exporter, timeout)
            self._worker = None
            self._running = False
            self._start_worker()
        request = _FlushRequest(time.monotonic() + timeout)
        with self._lock:
            self._flush_requests.append(request)
        self._wake.set()
        return request.done.wait(timeout) and request.ok

    def shutdown(self, timeout: float = 30.0) -> None:
        """Export what is queued (within ``timeout``), stop the worker, shut the exporter down.

        Idempotent. Logs still queued when the time is up, and logs ended afterwards, are counted
        as dropped and reported in one warning.
        """
        with self._lock:
            if self._shut:
                return
            self._shut = True
            self._running = False
            self._stopping = True
            worker = self._worker
        deadline = time.monotonic() + timeout
        if worker is not None and worker.is_alive():
            request = _FlushRequest(deadline)
            with self._lock:
                self._flush_requests.append(request)
            self._wake.set()
            self._stopped.wait(timeout)
        elif self._queue:
            # No worker in this process (never started, or we are a forked child): drain here.
            self._drain(deadline)
        abandoned = worker is not None and not self._stopped.is_set()
        if abandoned and not getattr(self._exporter, "writes_ahead", False):
            # The worker is stuck in an export past the deadline: that batch is given up
            # (unless the exporter wrote it to its spool before sending).
            self._given_up = self._in_flight
        if self._queue:  # the deadline came first: a spooling exporter keeps them
            self._keep_queued()
        # The report describes the deadline, before the exporter's shutdown can unstick anything.
        left = len(self._queue)
        self._queue.clear()
        self._builder.close()
        dropped = self._stats_dropped()
        if dropped or left:
            _errors.LOGGER.warning(
                "promptrail: shut down with %d records dropped (%d still queued at the deadline)",
                dropped,
                left,
            )
        if self._owns_exporter:
            if abandoned:
                # The exporter's shutdown() is what interrupts its retries, but it may wait for
                # the stuck export's lock: run it aside, for the time left at most.
                closer = threading.Thread(
                    target=shutdown_exporter, args=(self._exporter,), daemon=True
                )
                closer.start()
                closer.join(max(0.0, deadline - time.monotonic()))
            else:
                shutdown_exporter(self._exporter)

    def _keep_queued(self) -> None:
        """The deadline passed with logs queued: hand them to a spooling exporter.

        An exporter with ``keep(records)`` (``HttpExporter``) writes them to its spool without
        sending, so they are delivered by a later run rather than dropped.
        """
        keep = getattr(self._exporter, "keep", None)
        if keep is None:
            return
        batch: list[ActiveLog] = []
        while self._queue:
            try:
                batch.append(self._queue.popleft())
            except IndexError:  # pragma: no cover - emptied meanwhile
                break
        self._dequeued += len(batch)
        export_logs(_Keeper(keep), batch, self._counts, self._builder)

    def _stats_dropped(self) -> int:
        enqueued = self._enqueued.value
        dropped = enqueued - self._dequeued - len(self._queue) + self._lost.value
        return dropped + self._given_up

    def release_exporter(self) -> None:
        """Leave the exporter running at :meth:`shutdown` (another pipeline now uses it)."""
        self._owns_exporter = False

    def stats(self) -> dict[str, int]:
        """Return ``exported``, ``dropped``, ``failed`` and ``queued`` counts.

        Exact once the pipeline is idle (after ``force_flush``); while calls are running the
        counts may lag by the records in flight.
        """
        return {
            "exported": self._counts.exported,
            "dropped": self._stats_dropped(),
            "failed": self._counts.failed,
            "queued": len(self._queue),
        }


class _Keeper:
    """An exporter whose ``export`` is another exporter's ``keep`` (spool, do not send)."""

    def __init__(self, keep: Any) -> None:
        self.export = keep

    def force_flush(self, timeout: float = 30.0) -> bool:
        return True

    def shutdown(self) -> None:
        pass


def _remaining(deadline: float | None) -> float:
    if deadline is None:
        return 30.0
    return max(0.0, deadline - time.monotonic())
