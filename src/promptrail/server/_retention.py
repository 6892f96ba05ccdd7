"""Retention for ``promptrail serve --retain 30d``: a daemon thread that prunes old traces.

Every ``interval`` seconds it deletes the traces whose every log is older than ``retain``
seconds, through :meth:`~promptrail.stores._base.Store.try_prune`: on PostgreSQL an advisory
lock lets one replica at a time prune, the others skip that round. A failed round (the database
is down) is counted and retried next round; it never stops the receiver.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from promptrail.stores._base import Store, StoreUnavailableError

__all__ = ["Retention"]


class Retention:
    """Prune ``store`` of traces older than ``retain`` seconds, every ``interval`` seconds.

    Attributes:
        rounds: Rounds that pruned (this process held the lock).
        skipped: Rounds another process was pruning.
        failed: Rounds the store was unavailable.
        pruned: Logs deleted by this process.

    .. versionadded:: 0.1.0
    """

    def __init__(self, store: Store, retain: float, *, interval: float = 3600.0) -> None:
        self._store = store
        self._retain = retain
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = self.skipped = self.failed = self.pruned = 0

    def run_once(self) -> int | None:
        """Prune now; return the logs deleted, or None when another process was pruning."""
        cutoff = (datetime.now(UTC) - timedelta(seconds=self._retain)).isoformat()
        try:
            gone = self._store.try_prune(cutoff)
        except StoreUnavailableError:
            self.failed += 1
            return None
        if gone is None:
            self.skipped += 1
        else:
            self.rounds += 1
            self.pruned += gone
        return gone

    def start(self) -> Retention:
        """Prune now and then every ``interval`` seconds on a daemon thread."""

        def loop() -> None:
            while True:
                self.run_once()
                if self._stop.wait(self._interval):
                    return

        self._thread = threading.Thread(target=loop, name="promptrail-retention", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (waiting at most ``timeout`` seconds)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
