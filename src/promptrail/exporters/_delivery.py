"""Talking to the log API for :class:`HttpExporter`: one request, one pass, one result per record.

A pass sends records once, without retrying: through ``POST {base_url}/logs/batch`` (the
promptrail route; one request, one result per log) when the server offers it, else as one
``POST .../log`` per record, several in flight on the exporter's connection pool (any
Humanloop-compatible server). The exporter decides what to retry, spool or dead-letter.

Results are ``(outcome, retry_after)``: an outcome when it is final for this pass, ``None`` when
the server answered that the record may be retried (with its ``Retry-After``, if any), and
:attr:`Outcome.UNKNOWN` when no answer came (the server is down or hung): then the rest of a
per-log pass is not sent, because a server that does not answer one request will not answer the
next within the same deadline.
"""

from __future__ import annotations

import email.utils
import enum
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from typing import Any

import httpx2

from promptrail._record.humanloop import humanloop_body, humanloop_version_id
from promptrail._record.models import LogRecord
from promptrail._runtime import errors as _errors
from promptrail._runtime.suppression import suppress_instrumentation

__all__ = ["BATCH_ENDPOINT", "Outcome", "Result", "Sender", "parse_retry_after", "server_message"]

BATCH_ENDPOINT = "logs/batch"
_VERSIONED = re.compile(r"/v\d+(/|$)")
MAX_RETRY_AFTER = 300.0

_ENDPOINTS = {
    "prompt": "prompts/log",
    "flow": "flows/log",
    "tool": "tools/log",
    "evaluator": "evaluators/log",
}


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    REJECTED = "rejected"  # a 4xx: this record will never be accepted
    UNAUTHORIZED = "unauthorized"  # 401/403: no record will be accepted with this key
    UNKNOWN = "unknown"  # no answer (connection failed, timed out) or not sent: nothing is known


Result = tuple[Outcome | None, float | None]
_RETRY: Result = (None, None)
_UNKNOWN: Result = (Outcome.UNKNOWN, None)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Return the seconds a ``Retry-After`` header asks for (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def server_message(response: httpx2.Response) -> str:
    """Return the error message of a response: ``detail`` of a JSON body, else its text."""
    try:
        data: Any = response.json()
    except ValueError:
        return response.text[:300]
    detail = data.get("detail", data) if isinstance(data, dict) else data
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
            else:
                parts.append(str(item))
        return "; ".join(parts)[:300]
    return str(detail)[:300]


class _Secret:
    """Holds the API key; its ``repr``/``str`` never show it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


class Sender:
    """Sends records to one server and says what became of each; never retries, never raises.

    Owns the connection pool (one ``httpx2.Client``, rebuilt in a forked child) and, for per-log
    requests in flight at once, a thread pool of ``concurrency`` workers.

    Args:
        base_url: The API root, e.g. ``https://host/v5`` (checked by the exporter).
        key: The API key, sent in ``X-API-KEY``; scrubbed from every message.
        timeout: Seconds for each request unless a pass asks for less.
        concurrency: Per-log requests in flight at once.
        transport: An ``httpx2`` transport (tests pass a mock).
    """

    def __init__(
        self,
        base_url: str,
        key: str,
        timeout: float,
        concurrency: int,
        transport: httpx2.BaseTransport | None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urllib.parse.urlsplit(self.base_url)
        self.shown_url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        """The base URL for log lines and reprs: without any ``user:password@`` part."""
        self._unversioned = not _VERSIONED.search(parts.path)  # no /vN: a 404 says so
        self._key = _Secret(key)
        self._timeout = timeout
        self._concurrency = concurrency
        self._transport = transport
        self._http: httpx2.Client | None = None
        self._http_pid = 0
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self.last_problem = "no answer"
        """What went wrong last (for the exporter's warnings); never holds the key."""

    def _client(self) -> httpx2.Client:
        client = self._http
        if client is not None and self._http_pid == os.getpid():
            return client
        # First use, or a forked child: never share the parent's connections.
        client = httpx2.Client(
            base_url=self.base_url + "/",
            headers={"X-API-KEY": self._key.value, "User-Agent": "promptrail"},
            timeout=httpx2.Timeout(self._timeout),
            limits=httpx2.Limits(
                max_connections=max(4, self._concurrency),
                max_keepalive_connections=max(2, self._concurrency),
            ),
            transport=self._transport,
        )
        self._http = client
        self._http_pid = os.getpid()
        return client

    def _scrub(self, text: str) -> str:
        return text.replace(self._key.value, "<secret>")

    def pool(self) -> ThreadPoolExecutor | None:
        """The threads for per-log requests in flight at once (``None`` for one at a time)."""
        if self._concurrency < 2:
            return None
        if self._pool is None or self._pool_pid != os.getpid():
            self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="promptrail-http")
            self._pool_pid = os.getpid()
        return self._pool

    def close(self) -> None:
        """Close the connections and the threads (a forked child's copies are left alone)."""
        pool, self._pool = self._pool, None
        if pool is not None and self._pool_pid == os.getpid():
            pool.shutdown(wait=False)
        client, self._http = self._http, None
        if client is not None and self._http_pid == os.getpid():
            client.close()

    def one(self, record: LogRecord, timeout: float) -> Result:
        """POST ``record`` to its kind's log route once."""
        endpoint = _ENDPOINTS[record.kind]
        version = humanloop_version_id(record)
        params = {
            k: v for k, v in (("version_id", version), ("environment", record.environment)) if v
        }
        try:
            # Our own request must not show up in the app's traces (or loop through the bridge).
            with suppress_instrumentation():
                response = self._client().post(
                    endpoint, json=humanloop_body(record), params=params, timeout=timeout
                )
        except (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError) as exc:
            self.last_problem = self._scrub(f"{type(exc).__name__}: {exc}")
            return _UNKNOWN
        except httpx2.HTTPError as exc:
            _errors.report(
                "http:error",
                None,
                f"HttpExporter could not send a log to /{endpoint}: "
                + self._scrub(f"{type(exc).__name__}: {exc}"),
                internal=False,
            )
            return Outcome.REJECTED, None
        status = response.status_code
        if status < 300:
            return Outcome.DELIVERED, None
        self.last_problem = f"HTTP {status}"
        if status == 429 or status >= 500:
            return None, parse_retry_after(response.headers.get("Retry-After"), time.time())
        message = self._scrub(server_message(response))
        refused = status in (401, 403)
        what = "refused the API key" if refused else "rejected a log"
        after = "" if refused else " (not retried)"
        if status in (404, 405) and self._unversioned:  # most often a base_url missing its /v5
            message += f" (does base_url {self.shown_url!r} include the API's version, e.g. /v5?)"
        _errors.report(
            f"http:{status}",
            None,
            f"the server {what} with HTTP {status} at /{endpoint}{after}: {message}",
            internal=False,
        )
        return (Outcome.UNAUTHORIZED if refused else Outcome.REJECTED), None

    def each(
        self, records: Sequence[LogRecord], timeout: float, pool: ThreadPoolExecutor | None
    ) -> list[Result]:
        """Send each record in its own request, several in flight at once when ``pool`` is given.

        A parent goes before its children (a log is finished, so exported, after the logs nested
        in it; a Humanloop server wants the parent first): the records are sent in waves by
        depth, and a child whose parent was not delivered waits for the next pass. Once a request
        gets no answer, or the key is refused, the records not yet sent are not sent
        (:attr:`Outcome.UNKNOWN`, or refused like the one before them).
        """
        stopped: list[Result] = []
        lock = threading.Lock()

        def send(record: LogRecord) -> Result:
            if stopped:
                return stopped[0]
            result = self.one(record, timeout)
            if result[0] is Outcome.UNKNOWN or result[0] is Outcome.UNAUTHORIZED:
                with lock:
                    stopped.append(result)
            return result

        results: list[Result] = [_UNKNOWN] * len(records)
        parents = _parents(records)
        for wave in _waves(parents):
            ready = [
                i for i in wave if parents[i] < 0 or results[parents[i]][0] is Outcome.DELIVERED
            ]
            batch = [records[i] for i in ready]
            if pool is None or len(batch) < 2:
                sent = [send(record) for record in batch]
            else:
                sent = list(pool.map(send, batch))
            for i, result in zip(ready, sent, strict=True):
                results[i] = result
        return results

    def batch(
        self, records: Sequence[LogRecord], timeout: float, pool: ThreadPoolExecutor | None
    ) -> list[Result] | None:
        """Send ``records`` in one request to the batch route; return each record's result.

        Returns:
            ``None`` if the server has no batch route (send per log from now on); a list with
            ``None`` outcomes for a batch that failed as a whole while the server answers (a
            500 or 4xx that one record may cause: the caller sends those one by one).
        """
        body = {"logs": [record.to_body() for record in records]}
        try:
            with suppress_instrumentation():
                response = self._client().post(BATCH_ENDPOINT, json=body, timeout=timeout)
        except (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError) as exc:
            self.last_problem = self._scrub(f"{type(exc).__name__}: {exc}")
            return [_UNKNOWN] * len(records)
        except httpx2.HTTPError:
            return self.each(records, timeout, pool)
        status = response.status_code
        if status in (404, 405):
            return None
        if status in (401, 403):
            self.last_problem = f"HTTP {status}"
            return [(Outcome.UNAUTHORIZED, None)] * len(records)
        if status == 429 or status in (502, 503, 504):
            self.last_problem = f"HTTP {status}"
            retry_after = parse_retry_after(response.headers.get("Retry-After"), time.time())
            return [(None, retry_after)] * len(records)
        if status >= 300:  # a 500 or 4xx for the whole batch: one record may be the cause
            return self.each(records, timeout, pool)
        try:
            data: Any = response.json()
        except ValueError:
            return None
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list) or len(results) != len(records):
            return None  # not the promptrail route
        return [_one(item) for item in results]


def _parents(records: Sequence[LogRecord]) -> list[int]:
    """For each record, the index of its parent among ``records``, else -1."""
    index = {record.log_id: i for i, record in enumerate(records)}
    return [index.get(record.trace_parent_id or "", -1) for record in records]


def _waves(parents: list[int]) -> list[list[int]]:
    """Indexes grouped by depth below the records whose parent is not among them, in order."""
    depth: list[int] = [-1] * len(parents)
    for start in range(len(parents)):
        chain: list[int] = []
        at = start
        while at >= 0 and depth[at] < 0 and len(chain) <= len(parents):  # bounded: no cycle
            chain.append(at)
            at = parents[at]
        base = depth[at] if at >= 0 and depth[at] >= 0 else -1
        for offset, i in enumerate(reversed(chain)):
            depth[i] = base + 1 + offset
    waves: dict[int, list[int]] = {}
    for i, d in enumerate(depth):
        waves.setdefault(d, []).append(i)
    return [waves[d] for d in sorted(waves)]


def _one(item: Any) -> Result:
    status = item.get("status") if isinstance(item, dict) else None
    if not isinstance(status, int):
        return _RETRY
    if status < 300:
        return Outcome.DELIVERED, None
    if status == 429 or status >= 500:
        return _RETRY
    detail = str(item.get("detail", ""))[:300]
    _errors.report(
        f"http:{status}",
        None,
        f"the server rejected a log with {status} (not retried): {detail}",
        internal=False,
    )
    return Outcome.REJECTED, None
