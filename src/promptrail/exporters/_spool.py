"""The local spool of :class:`HttpExporter`: records waiting for an unreachable server.

One JSONL file, one record per line (``LogRecord`` JSON), oldest first. Several exporters, in one
process or several, may share a file (the default file is per server URL), so every change holds
two locks: a ``threading.Lock`` for this process and an exclusive ``flock`` on a ``.lock`` file
next to the spool for other processes.

Appending writes whole lines in one ``write`` and fsyncs. Removing delivered records rewrites the
file through a temporary file and ``os.replace``: a crash leaves either the old or the new file,
never half of one (the disk briefly holds both). A size limit is kept the same way: an append
that would pass it rewrites the file as the newest records that fit in 90 % of it, and says how
many of the oldest were dropped. Removal is by ``log_id`` and re-reads the file under the lock,
so records other processes appended while we were sending are kept. A line that does not parse
(the torn tail of a crash mid-append) is skipped with a warning and dropped at the next rewrite.
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

from promptrail._record.encode import dump_json
from promptrail._record.models import LogRecord
from promptrail._runtime import errors as _errors
from promptrail._runtime.locks import path_lock
from promptrail.exporters._base import write_all

try:  # POSIX; elsewhere only the in-process lock protects the file.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOW_WATER", "Spool", "default_spool_path", "line_id", "whole"]

_ID_PREFIX = b'{"log_id":"'

LOW_WATER = 0.9
"""A spool over its limit is cut to this share of it: one rewrite per tenth of the limit."""


def line_id(line: bytes) -> str | None:
    """The ``log_id`` of a spool line, read without validating the record; ``None`` if none.

    Lines written by promptrail start with ``{"log_id":"...``: the id is read from there. Any
    other line is parsed as JSON. A torn line may still have an id (see :func:`whole`).
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


def _sync_directory(path: Path) -> None:
    """Flush a directory's entries to disk (a rename into it); not possible everywhere."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms that cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse it
        pass
    finally:
        os.close(fd)


def whole(line: bytes) -> str | None:
    """The ``log_id`` of ``line`` if it can be a whole record; ``None`` if it cannot.

    A whole record has an id and ends with a JSON object's closing brace. A line torn by a
    crash mid-append is cut short: it almost never ends with ``}``. The few that do are caught
    when the record is parsed (see :meth:`Spool.entries`).
    """
    return line_id(line) if line.endswith(b"}") else None


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

        Counts lines without parsing them (the file is still read whole).
        """
        with self._locked():
            return len(self._lines_unlocked())

    def append(self, records: Sequence[LogRecord], max_bytes: int | None = None) -> int:
        """Add ``records`` at the end, durably (written and fsynced before returning).

        Args:
            records: The records, oldest first.
            max_bytes: The most the file may hold. An append that would pass it rewrites the
                file as the newest records that fit in :data:`LOW_WATER` of it (so that the
                next appends are plain appends again): the oldest records, those waiting and
                then the oldest of ``records``, are dropped. A single record larger than that
                is dropped alone. ``None``: no limit.

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
                    write_all(fd, data)
                    os.fsync(fd)
                    return 0
            finally:
                os.close(fd)
            return self._make_room(lines, max_bytes)

    def _make_room(self, lines: list[bytes], max_bytes: int) -> int:
        """Rewrite the file as the newest of its lines and ``lines`` within the low-water mark."""
        waiting = [line + b"\n" for line in self._lines_unlocked() if whole(line)]
        every = waiting + lines
        kept: list[bytes] = []
        room = most = int(max_bytes * LOW_WATER)
        for line in reversed(every):  # newest first
            if len(line) > most:
                continue  # can never fit: dropped alone
            if len(line) > room:
                break  # this one and everything older: dropped, so the order is kept
            kept.append(line)
            room -= len(line)
        kept.reverse()
        self._replace_with(kept)
        return len(every) - len(kept)

    def read(self) -> list[LogRecord]:
        """Return the waiting records, oldest first (unparsable lines are skipped)."""
        return [record for _, record in self.entries() if record is not None]

    def entries(self) -> Iterator[tuple[bytes, LogRecord | None]]:
        """Yield ``(line, record)`` per waiting line, oldest first, parsing as it goes.

        The file is read at once under the lock; each line is validated only when the iteration
        reaches it, so a sender that stops at the first failure parses one record, not the whole
        spool. A line that does not parse is reported and yields ``None``: pass it to
        :meth:`remove` to drop it.
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
                yield line, None
            else:
                yield line, record

    def _lines_unlocked(self) -> list[bytes]:
        try:
            data = self._path.read_bytes()
        except FileNotFoundError:
            return []
        return [line for line in data.splitlines() if line.strip()]

    def remove(self, log_ids: Collection[str], lines: Collection[bytes] = ()) -> None:
        """Remove the records whose ``log_id`` is in ``log_ids`` (atomic rewrite).

        Also removes the given unreadable ``lines`` (exact bytes, from :meth:`entries`) and
        every line that cannot be a whole record (a torn tail). Lines are matched by the id read
        from their start, without parsing the records.
        """
        if not log_ids and not lines:
            return
        ids, junk = frozenset(log_ids), frozenset(lines)
        with self._locked():
            keep = [
                line + b"\n"
                for line in self._lines_unlocked()
                if (found := whole(line)) is not None and found not in ids and line not in junk
            ]
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
        _sync_directory(self._path.parent)  # the rename itself survives a power loss
