"""JsonlExporter: one JSON object per line, appended to a file."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from promptrail._record.encode import dump_json
from promptrail._record.models import LogRecord
from promptrail._runtime.locks import path_lock
from promptrail.exporters._base import ExportResult, write_all

__all__ = ["JsonlExporter"]

_CHUNK = 65_536


def _repair_tail(fd: int) -> int:
    """Cut a torn last line (one a crash or a full disk left unfinished); return the file size.

    Appending onto a torn line would make the next record unreadable too.
    """
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    end = size
    while end > 0:
        begin = max(0, end - _CHUNK)
        at = os.pread(fd, end - begin, begin).rfind(b"\n")
        if at >= 0:
            end = begin + at + 1
            break
        end = begin
    os.ftruncate(fd, end)
    return end


class JsonlExporter:
    """Appends each record as one line of JSON (the API body: ``None`` fields left out).

    A batch is written whole or not at all: a write that fails part-way (a full disk) is
    truncated away, and a torn last line left by a crash is cut before the next append.
    Each ``export`` call writes its whole batch with ``O_APPEND`` writes of complete lines, under
    a lock: lines from several exporters or threads in one process never interleave, and
    processes appending to the same file on a local filesystem keep whole lines too. The file
    is opened per batch, so it can be rotated or deleted while the program runs.

    Args:
        path: The file; created (with missing parent directories) on first export.

    .. versionadded:: 0.1.0
    """

    retries_one_by_one = True
    """A failed batch is retried record by record: one bad record does not lose the others."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._key = str(self._path.resolve())
        self._shut = False

    def _file_lock(self) -> threading.Lock:
        # One lock per file for every exporter of this process; looked up per batch (not
        # kept): after fork() the child gets fresh locks.
        return path_lock(self._key)

    @property
    def path(self) -> Path:
        """The file records are appended to."""
        return self._path

    def __repr__(self) -> str:
        return f"JsonlExporter({str(self._path)!r})"

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        """Append ``records``, one line each."""
        if self._shut:
            return ExportResult.FAILURE
        data = b"\n".join([dump_json(r) for r in records]) + b"\n" if records else b""
        with self._file_lock():
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                start = _repair_tail(fd)
                try:
                    write_all(fd, data)
                except OSError:
                    # A full disk (or quota) wrote part of the batch: take it back, so the file
                    # holds whole lines only and the failure count matches what it lacks.
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, start)
                    raise
            finally:
                os.close(fd)
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float = 30.0) -> bool:
        """Nothing is buffered (every export writes through): always True."""
        return True

    def shutdown(self) -> None:
        """Refuse later exports."""
        self._shut = True
