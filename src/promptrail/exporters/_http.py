"""``HttpExporter``: sends records to a Humanloop-compatible "log" API, spooling when it is down.

Each record is one ``POST {base_url}/{prompts|flows|tools}/log`` with the record's body as JSON,
``version_id``/``environment`` also as query parameters and the key in ``X-API-KEY``. Only the
processor's worker calls :meth:`HttpExporter.export`, so a slow or dead server never blocks the
caller's thread.

With ``promptrail serve`` (which offers ``POST {base_url}/logs/batch``) many records go in one
request; the exporter finds out at the first send and falls back to per-log requests for other
servers, several in flight at once (``concurrency``).

Delivery (see :mod:`promptrail.exporters._delivery` for one pass):

* Write-ahead: each batch is appended to the spool before its first request, so a server that is
  down, hung or slow, and a process that exits or is killed meanwhile, leave it for the next run.
  Delivered and rejected records are removed from the spool after each pass.
* 2xx: delivered. Other 4xx: rejected for good, the server's message logged once (per status and
  minute), the record counted and not retried. 401/403: the key is refused; the records stay in
  the spool for a run whose key the server accepts, and the warning says so.
* No answer, 429 and 5xx: retried in passes with exponential backoff and jitter, waiting at least
  ``Retry-After`` (seconds or an HTTP date). Past the retry budget the exporter stops trying until
  a cool-down (or the server's ``Retry-After``) has passed; ``force_flush`` re-sends at once
  within its timeout. A record that keeps failing while others are delivered goes to the
  dead-letter file after ``max_attempts`` (one bad record never blocks the rest).
* Requests and waits keep within the deadline of a flush or shutdown (:meth:`set_deadline`).
* While the spool holds records, new records queue behind them and the spool is re-sent oldest
  first. One that was delivered but whose answer was lost is sent again, which a server that
  deduplicates by ``log_id`` ignores.
* The spool has a size limit (``spool_max_bytes``): when a long outage fills it, the oldest
  records are dropped to make room for new ones (down to 90 % of the limit), counted in
  ``stats()["spool_dropped"]`` and reported on the ``promptrail`` logger.

``export`` returns ``SUCCESS`` when every record of the batch was delivered or is durably waiting
in the spool; a rejected, dead-lettered or dropped record makes it ``FAILURE``.
:meth:`HttpExporter.stats` says what was delivered, spooled, re-sent and is still waiting.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx2

from promptrail._record.models import LogRecord
from promptrail._runtime import errors as _errors
from promptrail._runtime.fork import call_after_fork
from promptrail.exceptions import ConfigurationError
from promptrail.exporters._base import ExportResult
from promptrail.exporters._delivery import Outcome as _Outcome
from promptrail.exporters._delivery import Result, Sender
from promptrail.exporters._spool import Spool, default_spool_path

__all__ = ["HttpExporter"]

_MAX_COOLDOWN = 60.0

_CHUNK = 500  # most records per batch request (well under the 1 MiB body limit)

DEFAULT_SPOOL_MAX_BYTES = 100 * 2**20
"""The default size limit of a spool file: 100 MiB."""


class HttpExporter:
    """Sends records to a Humanloop-compatible log API, such as ``promptrail serve``.

    Args:
        base_url: The API root including its version prefix, e.g. ``https://host/v5``.
            Default: ``$PROMPTRAIL_BASE_URL``.
        api_key: Sent in the ``X-API-KEY`` header; never logged or put in an error message.
            Default: ``$PROMPTRAIL_API_KEY``.
        timeout: Seconds for each request (connect, read, write and pool wait).
        max_retries: Retries of one record after its first failed attempt.
        backoff: The first retry delay in seconds; it doubles each retry (with jitter).
        max_backoff: The longest delay between two retries; also the first cool-down after the
            server was found unavailable. A ``Retry-After`` longer than this is not slept
            through: the records wait in the spool until it has passed.
        spool_path: The spool file. Default: ``~/.cache/promptrail/spool-<hash of base_url>.jsonl``
            (``$XDG_CACHE_HOME`` is honoured), shared by every exporter of that server.
        spool_max_bytes: The most the spool file may hold (default 100 MiB, about 100,000
            records of 1 KB). Past it the oldest records are dropped (down to 90 % of the
            limit), counted and reported. ``None``: no limit.
        transport: An ``httpx2`` transport (``httpx2.MockTransport`` in tests).
        batch: Send many records per request to ``{base_url}/logs/batch`` (``promptrail
            serve``). ``None`` (default): use it when the server offers it, else send per log.
        concurrency: Per-log requests in flight at once (one connection pool). With
            ``batch=False`` and ``concurrency=1`` records are sent one at a time, in order
            (a record the server answers with 5xx is retried after the others).
        max_attempts: Times a record may fail while the server accepts other records before it
            is moved to the dead-letter file (``<spool>.dead.jsonl``) and counted in
            ``stats()["dead_lettered"]``: one bad record never blocks the rest.
        sleep: Waits between retries (tests pass a recorder); by default an interruptible wait
            that :meth:`shutdown` cuts short.

    Raises:
        ConfigurationError: If the URL or key is missing or invalid, or a number is out of range.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 10.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        spool_path: str | os.PathLike[str] | None = None,
        spool_max_bytes: int | None = DEFAULT_SPOOL_MAX_BYTES,
        transport: httpx2.BaseTransport | None = None,
        sleep: Callable[[float], object] | None = None,
        batch: bool | None = None,
        concurrency: int = 4,
        max_attempts: int = 5,
    ) -> None:
        base_url = base_url or os.environ.get("PROMPTRAIL_BASE_URL") or None
        key = api_key or os.environ.get("PROMPTRAIL_API_KEY") or None
        if base_url is None:
            msg = "HttpExporter needs a base_url (or the PROMPTRAIL_BASE_URL environment variable)"
            raise ConfigurationError(msg)
        if not base_url.startswith(("http://", "https://")):
            msg = f"base_url must start with http:// or https://, not {base_url[:40]!r}"
            raise ConfigurationError(msg)
        if key is None:
            msg = "HttpExporter needs an api_key (or the PROMPTRAIL_API_KEY environment variable)"
            raise ConfigurationError(msg)
        if not key.isascii() or not key.isprintable() or key != key.strip() or " " in key:
            # Checked here because an HTTP library would quote the bad header value in its error.
            msg = "api_key must be printable ASCII without spaces (the value is not shown)"
            raise ConfigurationError(msg)
        if not timeout > 0 or max_retries < 0 or backoff < 0 or max_backoff < backoff:
            msg = (
                "timeout must be positive, max_retries and backoff not negative, and "
                f"max_backoff >= backoff (got {timeout!r}, {max_retries!r}, {backoff!r}, "
                f"{max_backoff!r})"
            )
            raise ConfigurationError(msg)
        if concurrency < 1 or max_attempts < 1:
            msg = (
                f"concurrency and max_attempts must be positive ({concurrency!r}, {max_attempts!r})"
            )
            raise ConfigurationError(msg)
        if spool_max_bytes is not None and (
            type(spool_max_bytes) is not int or spool_max_bytes < 1
        ):
            msg = f"spool_max_bytes must be a positive int or None, not {spool_max_bytes!r}"
            raise ConfigurationError(msg)
        self._sender = Sender(base_url, key, timeout, concurrency, transport)
        self._base_url = self._sender.base_url
        self._shown_url = self._sender.shown_url
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._given_sleep = sleep
        self._spool = Spool(spool_path or default_spool_path(self._base_url))
        self._spool_max_bytes = spool_max_bytes
        self._batch = batch
        self._max_attempts = max_attempts
        self._strikes: dict[str, int] = {}  # failures of a record while others were delivered
        self._deadline: float | None = None  # of the flush or shutdown under way
        self._deadline_window = 0.0
        self._init_locks()
        call_after_fork(self._init_locks)  # a forked child gets its own locks (and client)
        self._shut = False
        self._down = 0  # consecutive times the server was found unavailable
        self._probe_after = 0.0  # our own cool-down (monotonic); force_flush ignores it
        self._retry_after_until = 0.0  # the server's Retry-After (monotonic); always honoured
        self._stats = {
            "delivered": 0,
            "rejected": 0,
            "spooled": 0,
            "resent": 0,
            "spool_dropped": 0,
            "dead_lettered": 0,
        }
        self._waiting: set[str] = set()  # this run's records counted as spooled, not yet sent
        self._lost: set[str] = set()  # rejected or dead-lettered during the current export

    def _init_locks(self) -> None:
        # Also run in a forked child: the parent's worker may have held the lock at fork time,
        # and the parent's connections must not be shared (the client is rebuilt on pid change).
        self._stop = threading.Event()
        self._sleep: Callable[[float], object] = self._given_sleep or self._stop.wait
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"HttpExporter(base_url={self._shown_url!r})"

    @property
    def base_url(self) -> str:
        """The API root requests go to."""
        return self._base_url

    @property
    def spool_path(self) -> Path:
        """The spool file (records waiting for the server)."""
        return self._spool.path

    def stats(self) -> dict[str, int]:
        """Return counts since construction and the records waiting in the spool now.

        ``delivered`` (accepted by the server, including re-sent ones), ``rejected`` (a 4xx,
        not retried), ``spooled`` (written to the spool), ``resent`` (delivered from the spool),
        ``spool_dropped`` (dropped, oldest first, to keep the spool within ``spool_max_bytes``)
        and ``pending`` (in the spool file now, from any process sharing it).
        """
        counts = dict(self._stats)  # no lock: an export may hold it for a while; copy is atomic
        counts["pending"] = len(self._spool) if self._spool else 0
        return counts

    def _mark_down(self, *, refused: bool = False) -> None:
        """Start (or lengthen) the cool-down after a failed send; say why, once a minute."""
        self._down += 1
        cooldown = min(self._max_backoff * 2 ** (self._down - 1), _MAX_COOLDOWN)
        self._probe_after = time.monotonic() + cooldown
        problem = self._sender.last_problem
        if refused:  # a flush does not try a refused key again before the cool-down either
            self._retry_after_until = max(self._retry_after_until, self._probe_after)
            kind = "http:refused_key"
            message = (
                f"the server at {self._shown_url} refused the API key ({problem}); "
                f"the logs waiting in {self._spool.path} are kept and will be re-sent once it "
                "accepts the key"
            )
        else:
            kind = "http:unavailable"
            message = (
                f"the server at {self._shown_url} is unavailable ({problem}); logs "
                f"are kept in {self._spool.path} and will be re-sent"
            )
        _errors.report(kind, None, message, internal=False)

    def _may_send(self, *, cooldown: bool) -> bool:
        now = time.monotonic()
        if now < self._retry_after_until:
            return False
        return not (cooldown and now < self._probe_after)

    @property
    def writes_ahead(self) -> bool:
        """True: every record is in the spool before its first request is sent."""
        return True

    def set_deadline(self, deadline: float | None) -> None:
        """Keep requests and retry waits within ``deadline`` (``time.monotonic()``), or not.

        The processor calls it when a flush or shutdown starts. Near the deadline, records are
        only written to the spool, so everything exported before it is kept.
        """
        self._deadline = deadline
        self._deadline_window = 0.0 if deadline is None else deadline - time.monotonic()

    def keep(self, records: Sequence[LogRecord]) -> ExportResult:
        """Write ``records`` to the spool without sending (any thread; the exit path uses it).

        Returns:
            ``SUCCESS`` if all were written (none dropped to make room).
        """
        kept = self._append(records)
        self._stats["spooled"] += len(records)
        self._waiting.update(r.log_id for r in records)
        return ExportResult.SUCCESS if kept else ExportResult.FAILURE

    def _time_left(self, deadline: float | None) -> float | None:
        """Seconds a request may take now; ``None``: no limit but the request timeout."""
        ends = [d for d in (deadline, self._deadline) if d is not None]
        if not ends:
            return None
        left = min(ends) - time.monotonic()
        if self._deadline is not None:
            # Leave the last part of a flush/exit window to spool what is still queued.
            left = min(left, self._deadline - time.monotonic() - self._deadline_window * 0.25)
        return left

    # -- many records at once: write-ahead, one pass, retry what failed ----------------------

    def _export(self, records: Sequence[LogRecord]) -> ExportResult:
        """Write ``records`` to the spool, then deliver the spool (them included) in passes.

        Written ahead of the first request: a server that is down, hung or slow, and a process
        that exits or is killed meanwhile, leave them in the spool for the next run.
        """
        self._lost.clear()
        alone = not self._spool  # nothing waiting: no need to read back what we write
        kept = self._append(records)
        mine = frozenset(r.log_id for r in records)
        if self._may_send(cooldown=True):
            self._resend(None, mine, list(records) if alone and kept else None)
        else:
            self._settle(set(), [], [], [], list(records), mine)
        # Delivered or durably waiting in the spool: handed over. Rejected, dead-lettered or
        # dropped for room: failed.
        lost = mine & self._lost
        return ExportResult.FAILURE if lost or not kept else ExportResult.SUCCESS

    def _append(self, records: Sequence[LogRecord]) -> bool:
        """Write ``records`` to the spool; False if room had to be made (some may be gone)."""
        dropped = self._spool.append(records, self._spool_max_bytes)
        if dropped:
            self._stats["spool_dropped"] += dropped
            _errors.report(
                "http:spool_full",
                None,
                f"the spool {self._spool.path} reached its limit of {self._spool_max_bytes} "
                f"bytes while {self._shown_url} does not take logs; dropped its {dropped} "
                "oldest records",
                internal=False,
            )
        return not dropped

    def _pass(self, records: Sequence[LogRecord], timeout: float) -> list[Result]:
        """Send ``records`` once: by the batch route when offered, else per log."""
        pool = self._sender.pool()
        if self._batch is not False:
            results: list[Result] = []
            for start in range(0, len(records), _CHUNK):
                chunk = records[start : start + _CHUNK]
                got = self._sender.batch(chunk, timeout, pool)
                if got is None and self._batch is None and not results:
                    self._batch = False  # a plain Humanloop-compatible server: per log from now
                    break
                if got is None:
                    got = self._sender.each(chunk, timeout, pool)
                elif self._batch is None:
                    self._batch = True
                results.extend(got)
            else:
                return results
        return self._sender.each(records, timeout, pool)

    def _resend(
        self, deadline: float | None, mine: frozenset[str], only: list[LogRecord] | None = None
    ) -> set[str]:
        """Deliver the spool (or ``only``, the spool's sole records) in passes; return ids sent."""
        pending: list[LogRecord] = [] if only is None else only
        junk: list[bytes] = []
        for line, record in self._spool.entries() if only is None else ():
            if record is None:
                junk.append(line)
            else:
                pending.append(record)
        done: list[str] = []
        dead: list[LogRecord] = []
        delivered: set[str] = set()
        retries = 0 if self._down else self._max_retries
        attempt = 0
        while pending and not self._stop.is_set():
            timeout = self._timeout
            left = self._time_left(deadline)
            if left is not None:
                timeout = min(timeout, left / 2 if self._deadline is not None else left)
                if timeout <= 0.01:
                    break
            retry: list[LogRecord] = []
            retry_after: float | None = None
            refused = False
            answered: set[str] = set()  # the server answered "retry" for these
            results = self._pass(pending, timeout)
            for record, (outcome, after) in zip(pending, results, strict=True):
                if outcome is _Outcome.DELIVERED:
                    delivered.add(record.log_id)
                    done.append(record.log_id)
                elif outcome is _Outcome.REJECTED:
                    done.append(record.log_id)
                    self._lost.add(record.log_id)
                    self._stats["rejected"] += 1
                else:
                    refused = refused or outcome is _Outcome.UNAUTHORIZED
                    retry.append(record)
                    if outcome is None:
                        answered.add(record.log_id)
                    if after is not None:
                        retry_after = max(after, retry_after or 0.0)
            if delivered and retry and not refused:
                retry = self._strike(retry, answered, dead)  # others got through: suspect
            pending = retry
            if not pending:
                break
            attempt += 1
            delay = min(self._max_backoff, self._backoff * 2 ** (attempt - 1))
            delay *= random.uniform(0.5, 1.0)
            if retry_after is not None and retry_after > self._max_backoff:
                self._retry_after_until = time.monotonic() + retry_after
                refused = refused or not delivered
            delay = max(delay, retry_after or 0.0)
            if refused or attempt > retries or delay > self._max_backoff:
                self._mark_down(refused=refused)
                break
            left = self._time_left(deadline)
            if left is not None and delay >= left:
                break
            self._sleep(delay)
        self._settle(delivered, done, dead, junk, pending, mine)
        return delivered

    def _strike(
        self, records: list[LogRecord], answered: set[str], dead: list[LogRecord]
    ) -> list[LogRecord]:
        """Count a failure of each ``answered`` record; past ``max_attempts`` it goes to ``dead``.

        A record that got no answer (or was not sent) is not suspect: the server may be the cause.
        """
        keep: list[LogRecord] = []
        for record in records:
            if record.log_id not in answered:
                keep.append(record)
                continue
            strikes = self._strikes.get(record.log_id, 0) + 1
            if strikes >= self._max_attempts:
                self._strikes.pop(record.log_id, None)
                dead.append(record)
            else:
                self._strikes[record.log_id] = strikes
                keep.append(record)
        return keep

    def _settle(
        self,
        delivered: set[str],
        done: list[str],
        dead: list[LogRecord],
        junk: list[bytes],
        pending: list[LogRecord],
        mine: frozenset[str],
    ) -> None:
        """Remove what is finished from the spool and count what happened to each record."""
        if dead:
            self._dead_letter(dead)
            self._lost.update(r.log_id for r in dead)
        self._spool.remove([*done, *(r.log_id for r in dead)], junk)
        for log_id in delivered:
            self._strikes.pop(log_id, None)
            self._stats["delivered"] += 1
            if log_id not in mine:
                self._stats["resent"] += 1
            self._waiting.discard(log_id)
        if delivered:
            self._down = 0
        left = [r.log_id for r in pending if r.log_id in mine and r.log_id not in self._waiting]
        self._stats["spooled"] += len(left)
        self._waiting.update(left)

    @property
    def dead_letter_path(self) -> Path:
        """The file of records that kept failing while others were delivered."""
        path = self._spool.path
        return path.with_name(path.name.removesuffix(".jsonl") + ".dead.jsonl")

    def _dead_letter(self, records: Sequence[LogRecord]) -> None:
        self._stats["dead_lettered"] += len(records)
        Spool(self.dead_letter_path).append(records)
        _errors.report(
            "http:dead_letter",
            None,
            f"{len(records)} log(s) kept failing at {self._shown_url} while others were "
            f"delivered; moved to {self.dead_letter_path} (last problem: "
            f"{self._sender.last_problem})",
            internal=False,
        )

    # -- the Exporter protocol --------------------------------------------------------------

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        """Send ``records`` in order; spool what the server cannot take now.

        Returns:
            ``SUCCESS`` if every record was delivered; ``FAILURE`` if any was rejected or is
            waiting in the spool.
        """
        with self._lock:
            if self._shut:
                return ExportResult.FAILURE
            return self._export(records)

    def force_flush(self, timeout: float = 30.0) -> bool:
        """Re-send the spool now (ignoring the cool-down, not ``Retry-After``) within ``timeout``.

        Returns:
            True if the spool is empty afterwards.
        """
        with self._lock:
            if not self._spool:
                return True
            if self._shut or not self._may_send(cooldown=False):
                return False
            self._resend(time.monotonic() + timeout, frozenset())
            return not self._spool

    def shutdown(self) -> None:
        """Stop retrying and close the connections; the spool stays for the next start."""
        self._stop.set()  # cut a retry wait short
        if self._lock.acquire(timeout=self._timeout):
            try:
                self._close()
            finally:
                self._lock.release()
        else:  # pragma: no cover - an export stuck in a request; closing makes it fail fast
            self._close()

    def _close(self) -> None:
        self._shut = True
        self._sender.close()
