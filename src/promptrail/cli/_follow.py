"""``promptrail tail``: follow a SQLite store and hand over each trace once its root is stored.

A trace's root log ends last, so it is stored last: :class:`Follower` holds a trace's logs until
its root arrives, then yields the whole trace (read back from the store). Logs that arrive after
their trace was shown (a background task that outlived its root) come out on their own. A trace
whose root never comes (the process was killed) is shown as partial after ``settle`` seconds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from promptrail._record.models import LogRecord
from promptrail.stores._base import Store

__all__ = ["Follower", "NewTrace"]

_REMEMBER = 10_000  # traces shown, kept to recognise late logs


@dataclass(frozen=True)
class NewTrace:
    """A trace to show: all its stored logs, or the late ones of a trace shown before.

    Attributes:
        trace_id: The trace.
        records: Its logs, in start order.
        late: True when these logs arrived after the trace was shown.
    """

    trace_id: str
    records: list[LogRecord]
    late: bool = False


def _matches(records: list[LogRecord], path: str | None, errors_only: bool) -> bool:
    if errors_only and not any(r.error for r in records):
        return False
    if path:
        folder = path.rstrip("/") + "/"
        return any(r.path == path or r.path.startswith(folder) for r in records)
    return True


class Follower:
    """Polls a store for logs inserted since the last poll and groups them into traces.

    Args:
        store: The store to follow.
        path: Only traces with a log at this path (or under this folder).
        errors_only: Only traces with an error.
        settle: Seconds to wait for a missing root before showing a trace as partial.
        from_start: Treat every stored log as new (for a store created after ``tail`` began);
            by default only logs stored from now on are.
        clock: Monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        store: Store,
        *,
        path: str | None = None,
        errors_only: bool = False,
        settle: float = 30.0,
        from_start: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._path = path
        self._errors_only = errors_only
        self._settle = settle
        self._clock = clock
        self._cursor = 0 if from_start else store.cursor()
        self._pending: dict[str, float] = {}  # trace id → when its first log was seen
        self._shown: OrderedDict[str, bool] = OrderedDict()  # trace id → passed the filters

    def backlog(self, last: int) -> list[NewTrace]:
        """Return the ``last`` most recent traces already stored (oldest first), as shown."""
        if last <= 0:
            return []
        ids = self._store.recent_trace_ids(last, path=self._path, errors_only=self._errors_only)
        traces = []
        for trace_id in reversed(ids):
            records = self._store.trace(trace_id)
            self._remember(trace_id, shown=True)
            traces.append(NewTrace(trace_id, records))
        return traces

    def poll(self) -> list[NewTrace]:
        """Return the traces completed (or late logs stored) since the last poll."""
        out: list[NewTrace] = []
        ready: list[str] = []
        late: dict[str, list[LogRecord]] = {}
        while True:
            self._cursor, records = self._store.logs_after(self._cursor)
            if not records:
                break
            now = self._clock()
            for record in records:
                trace_id = record.trace_id
                if trace_id in self._shown:
                    if self._shown[trace_id]:
                        late.setdefault(trace_id, []).append(record)
                    continue
                self._pending.setdefault(trace_id, now)
                if record.log_id == trace_id and trace_id not in ready:
                    ready.append(trace_id)
        now = self._clock()
        ready += [
            t for t, seen in self._pending.items() if now - seen >= self._settle and t not in ready
        ]
        for trace_id in ready:
            del self._pending[trace_id]
            records = self._store.trace(trace_id)
            shown = _matches(records, self._path, self._errors_only)
            self._remember(trace_id, shown=shown)
            if shown:
                out.append(NewTrace(trace_id, records))
        for trace_id, records in late.items():
            out.append(NewTrace(trace_id, sorted(records, key=lambda r: r.start_time), late=True))
        return out

    def _remember(self, trace_id: str, *, shown: bool) -> None:
        self._shown[trace_id] = shown
        self._shown.move_to_end(trace_id)
        while len(self._shown) > _REMEMBER:
            self._shown.popitem(last=False)
