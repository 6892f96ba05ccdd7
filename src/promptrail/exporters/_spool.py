"""The local spool of :class:`HttpExporter`: records waiting for an unreachable server.

One JSONL file, one record per line (``LogRecord`` JSON), oldest first. Several exporters, in one
process or several, may share a file (the default file is per server URL), so every change holds
two locks: a ``threading.Lock`` for this process and an exclusive ``flock`` on a ``.lock`` file
next to the spool for other processes.

Appending writes whole lines in one ``write`` and fsyncs. Removing delivered records rewrites the
file through a temporary file and ``os.replace``: a crash leaves either the old or the new file,
never half of one. A size limit is kept the same way: an append that would pass it rewrites the
file as the newest records that fit, and says how many of the oldest were dropped. Removal is by
``log_id`` and re-reads the file under the lock, so records other processes appended while we
were sending are kept. A line that does not parse (the torn tail of a crash mid-append) is
skipped and dropped at the next rewrite, with a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

from pydantic import ValidationError

from promptrail import _errors
from promptrail._fastrecord import dump_json
from promptrail._fork import path_lock
from promptrail._records import LogRecord

try:  # POSIX; elsewhere only the in-process lock protects the file.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["Spool", "default_spool_path", "line_id"]

_ID_PREFIX = b'{"log_id":"'


def line_id(line: bytes) -> str | None:
    """The ``log_id`` of a spool line, read without validating the record; ``None`` if none.

    Lines written by promptrail start with ``{"log_id":"...``: the id is read from there. Any
    other line is parsed as JSON; a torn line has no id.
    """
    if line.startswith(_ID_PREFIX):
        end = line.find(b'"', len(_ID_PREFIX))
        if end > 0:
            raw = line[len(_ID_PREFIX) : end]
            if b"\\" not in raw:
                return raw.decode("utf-8", "replace")
    try:
        value = json.loads(line)
    except ValueError:
        return None
    found = value.get("log_id") if isinstance(value, dict) else None
    return found if isinstance(found, str) else None


def default_spool_path(base_url: str) -> Path:
    """Return the default spool file of ``base_url``: one file per server, in the user's cache.

    ``$XDG_CACHE_HOME/promptrail`` (or ``~/.cache/promptrail``), named after a hash of the URL so
    that the URL itself (which may carry credentials in odd setups) is not written to disk.
    """
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()[:16]
    return Path(cache) / "promptrail" / f"spool-{digest}.jsonl"


class Spool:
    """A durable FIFO of records in a JSONL file, safe to share between threads and processes.

    Args:
        path: The spool file (created with its directory on first append).

    .. versionadded:: 0.1.0
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._lock_path = self._path.with_name(self._path.name + ".lock")

    @property
    def path(self) -> Path:
        """The spool file."""
        return self._path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with path_lock(self._path):
            if fcntl is None:  # pragma: no cover - Windows
                yield
                return
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                # A POSIX record lock, not flock(): it belongs to this process, so a child forked
                # while we hold it does not inherit it (an inherited flock would outlive our
                # close and deadlock the child). Threads are serialised by the lock above.
                fcntl.lockf(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # closing releases the lock

    def __bool__(self) -> bool:
        """True when records are waiting (a cheap ``stat``, no lock)."""
        try:
            return self._path.stat().st_size > 0
        except OSError:
            return False

    def __len__(self) -> int:
        """The number of lines waiting (records, plus a torn line until the next rewrite).

        Counts lines without parsing them: cheap even for a spool of 100 MiB.
        """
        with self._locked():
            return len(self._lines_unlocked())

    def append(self, records: Sequence[LogRecord], max_bytes: int | None = None) -> int:
        """Add ``records`` at the end, durably (written and fsynced before returning).

        Args:
            records: The records, oldest first.
            max_bytes: The most the file may hold afterwards: the oldest records (those waiting,
                then the oldest of ``records``) are dropped to make room. ``None``: no limit.

        Returns:
            The number of records dropped to stay within ``max_bytes``.
        """
        if not records:
            return 0
        lines = [dump_json(r) + b"\n" for r in records]
        data = b"".join(lines)
        with self._locked():
            fd = os.open(self._path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.lseek(fd, size - 1, os.SEEK_SET) >= 0 and os.read(fd, 1) != b"\n":
                    # A torn line from a crash: end it, or our first record would be glued to it.
                    data = b"\n" + data
                if max_bytes is None or size + len(data) <= max_bytes:
                    os.write(fd, data)
                    os.fsync(fd)
                    return 0
            finally:
                os.close(fd)
            return self._make_room(lines, max_bytes)

    def _make_room(self, lines: list[bytes], max_bytes: int) -> int:
        """Rewrite the file as the newest of its lines and ``lines`` within ``max_bytes``."""
        try:
            waiting = self._path.read_bytes().splitlines(keepends=True)
        except FileNotFoundError:
            waiting = []
        every = [line if line.endswith(b"\n") else line + b"\n" for line in waiting if line.strip()]
        every += lines
        kept: list[bytes] = []
        room = max_bytes
        for line in reversed(every):  # newest first, until one does not fit: order is kept
            if len(line) > room:
                break
            kept.append(line)
            room -= len(line)
        kept.reverse()
        self._replace_with(kept)
        return len(every) - len(kept)

    def read(self) -> list[LogRecord]:
        """Return the waiting records, oldest first (unparsable lines are skipped)."""
        return [record for _, record in self.entries() if record is not None]

    def entries(self) -> Iterator[tuple[str | None, LogRecord | None]]:
        """Yield ``(log_id, record)`` per waiting line, oldest first, parsing as it goes.

        The file is read at once under the lock; each line is validated only when the iteration
        reaches it, so a sender that stops at the first failure does not parse the whole spool.
        A line that does not parse is reported and yields ``None`` as its record (and its
        ``log_id`` if one can be read from it): removing that id drops the line.
        """
        with self._locked():
            lines = self._lines_unlocked()
        for line in lines:
            try:
                record = LogRecord.model_validate_json(line)
            except ValidationError as exc:
                _errors.report(
                    "spool:corrupt",
                    None,
                    f"skipped an unreadable line in {self._path}: {exc!r}"[:300],
                    internal=False,
                )
                yield line_id(line), None
            else:
                yield record.log_id, record

    def _lines_unlocked(self) -> list[bytes]:
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            return []
        return [line for line in data.splitlines() if line.strip()]

    def remove(self, log_ids: Collection[str]) -> None:
        """Remove the lines whose ``log_id`` is in ``log_ids``, and torn lines (atomic rewrite).

        Lines are matched by the id read from their start, without parsing the records: a
        re-send that removes what it delivered every few seconds stays linear in the spool's size.
        """
        if not log_ids:
            return
        with self._locked():
            keep = []
            for line in self._lines_unlocked():
                found = line_id(line)
                if found is not None and found not in log_ids:
                    keep.append(line + b"\n")
            self._replace_with(keep)

    def _replace_with(self, lines: list[bytes]) -> None:
        """Make ``lines`` the whole file, atomically (under the lock); no lines: no file."""
        if not lines:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
            return
        fd, tmp = tempfile.mkstemp(prefix=self._path.name, suffix=".tmp", dir=self._path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(b"".join(lines))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
