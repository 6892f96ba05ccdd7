"""One delivery pass of :class:`HttpExporter`: many records at once, one result per record.

A pass sends records once, without retrying: through ``POST {base_url}/logs/batch`` (the
promptrail route; one request, one result per log) when the server offers it, else as one
``POST .../log`` per record with several requests in flight on the exporter's connection pool
(any Humanloop-compatible server). The exporter decides what to retry, spool or dead-letter.

Results are ``(outcome, retry_after)``: an outcome when it is final for this pass, ``None`` when
the record may be retried (with the server's ``Retry-After``, if any).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2

from promptrail._record.models import LogRecord
from promptrail._runtime import errors as _errors
from promptrail._runtime.suppression import suppress_instrumentation

__all__ = ["BATCH_ENDPOINT", "Outcome", "Result", "Route", "post_batch", "post_each"]

BATCH_ENDPOINT = "logs/batch"


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    REJECTED = "rejected"  # a 4xx: this record will never be accepted
    UNAUTHORIZED = "unauthorized"  # 401/403: no record will be accepted with this key
    UNAVAILABLE = "unavailable"  # retryable failure, out of retries or time
    NO_TIME = "no time"  # the deadline passed before the first attempt: nothing is known


class Route(enum.Enum):
    ABSENT = "absent"  # the server has no batch route: send per log from now on
    SPLIT = "split"  # the batch as a whole failed: send these records one by one


Result = tuple[Outcome | None, float | None]
_RETRY: Result = (None, None)


def post_batch(
    client: httpx2.Client,
    records: Sequence[LogRecord],
    timeout: float,
    *,
    parse_retry_after: Callable[[str | None, float], float | None],
) -> list[Result] | Route:
    """Send ``records`` in one request to the batch route; return each record's result."""
    body = {"logs": [record.to_body() for record in records]}
    try:
        with suppress_instrumentation():
            response = client.post(BATCH_ENDPOINT, json=body, timeout=timeout)
    except (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError):
        return [_RETRY] * len(records)
    except httpx2.HTTPError:
        return Route.SPLIT
    status = response.status_code
    if status in (404, 405):
        return Route.ABSENT
    if status in (401, 403):
        return [(Outcome.UNAUTHORIZED, None)] * len(records)
    if status == 429 or status in (502, 503, 504):
        retry_after = parse_retry_after(response.headers.get("Retry-After"), time.time())
        return [(None, retry_after)] * len(records)
    if status >= 300:  # a 500 or 4xx for the whole batch: one record may be the cause
        return Route.SPLIT
    try:
        data: Any = response.json()
    except ValueError:
        return Route.ABSENT
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list) or len(results) != len(records):
        return Route.ABSENT  # not the promptrail route
    return [_one(item) for item in results]


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


def post_each(
    attempt: Callable[[LogRecord, float], Result],
    records: Sequence[LogRecord],
    timeout: float,
    pool: ThreadPoolExecutor | None,
) -> list[Result]:
    """Send each record in its own request, several in flight at once when ``pool`` is given."""
    if pool is None or len(records) < 2:
        return [attempt(record, timeout) for record in records]
    return list(pool.map(lambda record: attempt(record, timeout), records))
