"""InMemoryExporter: keeps records in a list (tests, notebooks, the ``capture_logs`` fixture)."""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence

from promptrail._record.models import LogRecord
from promptrail.exporters._base import ExportResult

__all__ = ["InMemoryExporter"]


class InMemoryExporter:
    """Keeps exported records in memory, in export order.

    Args:
        maxlen: Keep at most this many records (the oldest go first); ``None`` keeps all.

    .. versionadded:: 0.1.0
    """

    def __init__(self, *, maxlen: int | None = None) -> None:
        self._records: collections.deque[LogRecord] = collections.deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self._shut = False

    @property
    def records(self) -> list[LogRecord]:
        """A copy of the records exported so far."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        """Append ``records``; ``FAILURE`` after :meth:`shutdown`."""
        if self._shut:
            return ExportResult.FAILURE
        with self._lock:
            self._records.extend(records)
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float = 30.0) -> bool:
        """Nothing is buffered: always True."""
        return True

    def shutdown(self) -> None:
        """Refuse later exports (the records stay readable)."""
        self._shut = True
