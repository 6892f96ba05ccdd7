"""Swallow-and-log handling of promptrail's own failures.

Nothing promptrail does may raise into user code. Every processor, exporter and record-building
call goes through :func:`report`, which logs a failure once per kind (then at most once a minute
with a count) on the ``promptrail`` logger and counts it. Log lines are masked like record
strings (``sk-...`` keys, ``Bearer`` tokens, user patterns): exception messages quote secrets.
In promptrail's own test suite
(``PROMPTRAIL_RAISE_INTERNAL_ERRORS=1``, set by its conftest, like logfire's trick) failures of
promptrail's *own* code are re-raised so the tests see our bugs; failures of user-supplied parts
(an exporter that raises) are never re-raised. Users' test suites are not affected.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from promptrail._runtime.locks import relock_after_fork
from promptrail._runtime.secrets import mask_builtin

__all__ = [
    "LOGGER",
    "RateLimitedWarning",
    "call",
    "counts",
    "is_reraised",
    "report",
    "reset",
    "set_masking",
]

LOGGER = logging.getLogger("promptrail")

_REPEAT_INTERVAL = 60.0

_lock = threading.RLock()  # re-entrant: a report may happen inside a report (GC)
_counts: Counter[str] = Counter()
_last_logged: dict[str, float] = {}
_suppressed_since_log: Counter[str] = Counter()


_MARK = "_promptrail_internal_error"


def _should_reraise() -> bool:
    return os.environ.get("PROMPTRAIL_RAISE_INTERNAL_ERRORS") == "1"


def is_reraised(exc: BaseException) -> bool:
    """Return whether ``exc`` is an internal error being re-raised on purpose (test suite)."""
    return getattr(exc, _MARK, False) is True


def report(kind: str, exc: BaseException | None, message: str, *, internal: bool) -> None:
    """Count a failure of ``kind`` and log it, deduplicated and rate limited.

    Args:
        kind: A short stable key, e.g. ``"export:JsonlExporter"``; deduplication is per kind.
        exc: The exception, if any (its type and message are logged, never a payload).
        message: What failed, for the log line.
        internal: True when the failure is a bug in promptrail itself; it is re-raised under
            pytest so tests cannot hide it.
    """
    now = time.monotonic()
    with _lock:
        _counts[kind] += 1
        last = _last_logged.get(kind)
        if last is not None and now - last < _REPEAT_INTERVAL:
            _suppressed_since_log[kind] += 1
            emit = False
        else:
            _last_logged[kind] = now
            repeats = _suppressed_since_log.pop(kind, 0)
            emit = True
    if emit:
        detail = f": {type(exc).__name__}: {_text(exc)}" if exc is not None else ""
        extra = f" (and {repeats} more times since last reported)" if repeats else ""
        LOGGER.warning("promptrail: %s", _mask(f"{message}{detail}{extra}"))
    if internal and exc is not None and _should_reraise():
        with contextlib.suppress(Exception):
            setattr(exc, _MARK, True)
        raise exc


_VERBS = {"force_flush": "flush"}


def call(owner: Any, method: str, *args: Any, default: Any = None) -> Any:
    """Call ``owner.method(*args)`` for a user-supplied part; never raises.

    A raise is reported (kind ``"{verb}:{OwnerType}"``, e.g. ``"flush:JsonlExporter"``) and
    ``default`` is returned. For the cold paths (flush, shutdown, stats); the per-call hooks keep
    their own inline ``try`` so the hot path pays no extra call.
    """
    try:
        return getattr(owner, method)(*args)
    except Exception as exc:
        name = type(owner).__name__
        kind = f"{_VERBS.get(method, method)}:{name}"
        report(kind, exc, f"{name}.{method} raised", internal=False)
        return default


class RateLimitedWarning:
    """Logs a warning at most once per interval, with the number of events in between.

    Used for queue-full drops, which can happen on every call once a queue is full.
    """

    __slots__ = ("__weakref__", "_interval", "_last", "_lock", "_message", "_pending")

    def __init__(self, message: str, interval: float = _REPEAT_INTERVAL) -> None:
        self._message = message
        self._interval = interval
        self._last: float | None = None
        self._pending = 0
        self._lock = threading.Lock()
        relock_after_fork(self, "_lock")

    def hit(self, n: int = 1) -> None:
        """Record ``n`` events; log if the interval has passed since the last log line."""
        now = time.monotonic()
        with self._lock:
            self._pending += n
            if self._last is not None and now - self._last < self._interval:
                return
            self._last = now
            pending, self._pending = self._pending, 0
        LOGGER.warning(self._message, pending)


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except BaseException:  # user code: SystemExit or KeyboardInterrupt from __str__ included
        return "<unprintable>"


_user_mask: Callable[[str], str] | None = None


def set_masking(mask: Callable[[str], str] | None) -> None:
    """Set the masking of the configured redactor (``_runtime.state`` installs it at import).

    The reporter sits below the redactor (which reports a raising callback through it), so the
    configured redactor's patterns reach it through this hook; the built-in formats are masked
    without it.
    """
    global _user_mask
    _user_mask = mask


def _mask(line: str) -> str:
    """Mask secrets in a log line: exception messages often quote keys and auth headers.

    The built-in formats are always masked (even with ``redact=False``), then the user's.
    """
    line = mask_builtin(line)
    mask = _user_mask
    if mask is None:
        return line
    try:
        return mask(line)
    except Exception:  # pragma: no cover - a broken user pattern: keep the default masking
        return line


def counts() -> dict[str, int]:
    """Return how many failures of each kind were reported since the last reset."""
    with _lock:
        return dict(_counts)


def reset() -> None:
    """Forget counts and deduplication state (tests)."""
    with _lock:
        _counts.clear()
        _last_logged.clear()
        _suppressed_since_log.clear()


relock_after_fork(globals(), "_lock")
