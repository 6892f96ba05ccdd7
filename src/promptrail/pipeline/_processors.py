"""The processor protocol, the synchronous processor and the export step both processors share.

Processors sit between the decorated call and the exporters: ``on_start`` when a log starts,
``on_end`` when it ends, ``force_flush`` and ``shutdown`` (OpenTelemetry's verbs). They own timing
and threads; exporters own formatting and I/O.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from promptrail._record.models import LogRecord
from promptrail._runtime import errors as _errors
from promptrail._runtime.counters import AtomicCounter
from promptrail._runtime.locks import relock_after_fork
from promptrail._runtime.state import STATE
from promptrail._tracing.active import ActiveLog
from promptrail.exporters._base import Exporter, ExportResult
from promptrail.pipeline._build import RecordBuilder, build_inline
from promptrail.pipeline._options import check_part

__all__ = [
    "BaseProcessor",
    "Counts",
    "Processor",
    "SimpleProcessor",
    "check_exporter",
    "export_logs",
    "flush_exporter",
    "shutdown_exporter",
]


def check_exporter(exporter: object) -> None:
    """Reject, where a processor is made, an object whose every export would fail.

    Raises:
        ConfigurationError: If ``exporter`` is a class, or has no ``export()`` method.
    """
    check_part(exporter, "export", "an exporter")


@runtime_checkable
class Processor(Protocol):
    """Receives every log when it starts and ends.

    ``on_start`` and ``on_end`` run on the caller's thread, inside the decorated call: they must
    be fast and must not block. ``on_end`` receives an :class:`ActiveLog`; call
    ``log.to_record(settings)`` (off the hot path, ideally) to get the :class:`LogRecord`.

    .. versionadded:: 0.1.0
    """

    def on_start(self, log: ActiveLog) -> None:
        """Called when ``log`` starts (its parent and ids are known)."""
        ...

    def on_end(self, log: ActiveLog) -> None:
        """Called once when ``log`` ends."""
        ...

    def force_flush(self, timeout: float = 30.0) -> bool:
        """Export everything ended so far within ``timeout`` seconds; return whether it did."""
        ...

    def shutdown(self, timeout: float = 30.0) -> None:
        """Flush, stop, and release the exporter. Idempotent."""
        ...


class Counts:
    """Thread-safe export counters of one processor."""

    __slots__ = ("__weakref__", "_lock", "exported", "failed")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        relock_after_fork(self, "_lock")
        self.exported = 0
        self.failed = 0

    def add(self, *, exported: int = 0, failed: int = 0) -> None:
        """Add to the counters."""
        with self._lock:
            self.exported += exported
            self.failed += failed


class BaseProcessor:
    """A processor that does nothing; subclass it and override what you need.

    ``stats()`` reports ``exported``, ``dropped`` and ``failed`` counts; ``on_start`` is skipped
    on the hot path for subclasses that do not override it.

    .. versionadded:: 0.1.0
    """

    def on_start(self, log: ActiveLog) -> None:
        """Do nothing."""

    def on_end(self, log: ActiveLog) -> None:
        """Do nothing."""

    def force_flush(self, timeout: float = 30.0) -> bool:
        """Nothing to flush."""
        return True

    def shutdown(self, timeout: float = 30.0) -> None:
        """Nothing to stop."""

    def stats(self) -> dict[str, int]:
        """Return export counts (all zero here)."""
        return {"exported": 0, "dropped": 0, "failed": 0, "queued": 0}


def export_logs(
    exporter: Exporter,
    logs: Sequence[ActiveLog],
    counts: Counts,
    builder: RecordBuilder | None = None,
) -> None:
    """Build the records of ``logs`` and export them; count and report, never raise.

    A log whose record cannot be built counts as failed (a promptrail bug: re-raised under
    pytest), and so does one whose build ``builder`` gave up on (user code that does not
    return). An exporter that raises or returns ``FAILURE`` counts the batch as failed.
    """
    if builder is None:
        records, failures = build_inline(logs, STATE.settings)
    else:
        records, failures = builder.build(logs)
    for log, exc in failures:
        counts.add(failed=1)
        if exc is None:
            message = (
                f"gave up building the record of {log.spec.path} after "
                f"{builder.timeout if builder else 0:g} s (a __repr__ or __str__ that hangs?)"
            )
            _errors.report("build_timeout", None, message, internal=False)
            continue
        # An Exception is promptrail's bug; SystemExit and the like come from user code.
        internal = isinstance(exc, Exception)
        message = f"could not build the record of {log.spec.path}"
        _errors.report("build", exc, message, internal=internal)
    if not records:
        return
    name = type(exporter).__name__
    try:
        result = exporter.export(records)
    except Exception as exc:
        if len(records) > 1 and getattr(exporter, "retries_one_by_one", False):
            _export_one_by_one(exporter, records, counts, name)
            return
        counts.add(failed=len(records))
        _errors.report(f"export:{name}", exc, f"{name}.export raised", internal=False)
        return
    if result is ExportResult.SUCCESS:
        counts.add(exported=len(records))
    elif len(records) > 1 and getattr(exporter, "retries_one_by_one", False):
        _export_one_by_one(exporter, records, counts, name)
    else:
        counts.add(failed=len(records))
        if not getattr(exporter, "reports_failures", False):  # a fan-out names the failing one
            message = f"{name}.export returned {result}"
            _errors.report(f"export:{name}", None, message, internal=False)


def _export_one_by_one(
    exporter: Exporter, records: Sequence[LogRecord], counts: Counts, name: str
) -> None:
    """Export ``records`` one at a time after their batch failed: one bad record fails alone.

    For exporters whose batch is all-or-nothing and whose failures are usually one record's
    fault (a local database or file: ``retries_one_by_one = True``); each record is counted once.
    """
    failed = 0
    first: BaseException | None = None
    for record in records:
        try:
            ok = exporter.export((record,)) is ExportResult.SUCCESS
        except Exception as exc:
            ok = False
            first = first or exc
        if ok:
            counts.add(exported=1)
        else:
            failed += 1
            counts.add(failed=1)
    if failed:
        message = f"{name}.export failed for {failed} of {len(records)} records"
        _errors.report(f"export:{name}", first, message, internal=False)


def flush_exporter(exporter: Exporter, timeout: float) -> bool:
    """Call ``exporter.force_flush``; a raise counts as ``False``, reported once."""
    return bool(_errors.call(exporter, "force_flush", timeout, default=False))


def shutdown_exporter(exporter: Exporter) -> None:
    """Call ``exporter.shutdown``; a raise is reported once, never propagated."""
    _errors.call(exporter, "shutdown")


class SimpleProcessor(BaseProcessor):
    """Exports each log on the calling thread as soon as it ends.

    For tests, debugging and short scripts: every decorated call pays for building the record
    and for the exporter's I/O. Use :class:`BatchProcessor` in production.

    Args:
        exporter: Where the records go.

    Raises:
        ConfigurationError: If ``exporter`` is not an exporter.

    .. versionadded:: 0.1.0
    """

    def __init__(self, exporter: Exporter) -> None:
        check_exporter(exporter)
        self._exporter = exporter
        self._owns_exporter = True
        self._counts = Counts()
        # Re-entrant: a log ended by the garbage collector may arrive while this thread exports.
        self._lock = threading.RLock()
        relock_after_fork(self, "_lock")
        self._shut = False
        self._lost = AtomicCounter()  # logs after shutdown
        self._late = self._lost  # where they count: see BatchProcessor._late

    @property
    def exporter(self) -> Exporter:
        """The exporter this processor feeds."""
        return self._exporter

    def on_end(self, log: ActiveLog) -> None:
        """Build and export ``log`` now."""
        with self._lock:  # shutdown() takes it too: no export reaches a shut-down exporter
            if self._shut:
                self._late.increment()
                return
            export_logs(self._exporter, (log,), self._counts)

    def force_flush(self, timeout: float = 30.0) -> bool:
        """Flush the exporter (nothing is buffered here)."""
        return flush_exporter(self._exporter, timeout)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Shut the exporter down; later logs are dropped and counted."""
        with self._lock:
            if self._shut:
                return
            self._shut = True
        if self._owns_exporter:
            shutdown_exporter(self._exporter)

    def release_exporter(self) -> None:
        """Leave the exporter running at :meth:`shutdown` (another pipeline now uses it)."""
        self._owns_exporter = False

    def stats(self) -> dict[str, int]:
        """Return ``exported``, ``dropped``, ``failed`` and ``queued`` (always 0) counts."""
        c = self._counts
        return {
            "exported": c.exported,
            "dropped": self._lost.value,
            "failed": c.failed,
            "queued": 0,
        }
