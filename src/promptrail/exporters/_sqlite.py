"""``SqliteExporter``: finished records into the embedded store (:class:`SqliteStore`)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from promptrail._record.models import LogRecord
from promptrail.exporters._base import ExportResult
from promptrail.stores._sqlite import SqliteStore, default_db_path

__all__ = ["SqliteExporter"]


class SqliteExporter:
    """Writes records to the embedded SQLite store, the default destination.

    Args:
        path: The database file (created with its directory on first export); default
            ``$PROMPTRAIL_DB``, else ``./promptrail.db`` (the same file as the default pipeline).

    .. versionadded:: 0.1.0
    """

    retries_one_by_one = True
    """A failed batch is retried record by record: one bad record does not lose the others."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._store = SqliteStore(path or default_db_path())
        self._shut = False

    @property
    def store(self) -> SqliteStore:
        """The store written to (its read methods work too)."""
        return self._store

    def __repr__(self) -> str:
        return f"SqliteExporter({self._store.location!r})"

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        """Insert ``records`` in one transaction (duplicates of a ``log_id`` are ignored)."""
        if self._shut:
            return ExportResult.FAILURE
        self._store.write(records)
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float = 30.0) -> bool:
        """Every export commits: always True."""
        return True

    def shutdown(self) -> None:
        """Close the database; later exports fail."""
        self._shut = True
        self._store.close()
