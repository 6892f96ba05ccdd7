"""The store interface the receiver, the web page and the CLI use, and ``open_store``.

Two stores implement :class:`Store`: :class:`~promptrail.stores._sqlite.SqliteStore` (one file,
the default) and :class:`~promptrail.stores._postgres.PostgresStore` (a PostgreSQL database shared
by several receivers); :func:`~promptrail.stores._open.open_store` picks one by its target.
Both insert idempotently on ``log_id`` (the first write of an id wins; a retried batch is not
duplicated), report each record's outcome, and raise :class:`StoreUnavailableError` when the
database cannot be reached or stays locked, which the receiver answers with 503 and Retry-After.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple, Protocol

from promptrail._record.models import LogRecord
from promptrail.exceptions import PromptrailError

__all__ = [
    "InsertResult",
    "LogSummary",
    "NotAStoreError",
    "Store",
    "StoreUnavailableError",
    "TraceSummary",
    "input_preview",
    "reply_preview",
    "score_summary",
    "total_cost",
]

InsertStatus = Literal["created", "duplicate"]


class NotAStoreError(PromptrailError):
    """The file is missing or is not a promptrail SQLite store.

    .. versionadded:: 0.1.0
    """


class TraceSummary(NamedTuple):
    """One trace in a list: its root (or earliest log when the root is not stored yet) and totals.

    .. versionadded:: 0.1.0
    """

    trace_id: str
    path: str
    kind: str
    start_time: str
    end_time: str | None
    """When its last log ended (scores left out): with ``start_time``, the trace's span."""
    latency: float | None
    error: str | None
    logs: int
    errors: int
    prompt_tokens: int | None
    output_tokens: int | None
    cost: float | None
    complete: bool
    session_id: str | None = None
    """The head's session (``.. versionadded:: 0.2.0`` for this and the next two)."""
    user: str | None = None
    preview: str | None = None
    """The start of the head's input: its last user message's text, else its inputs as JSON."""
    reply: str | None = None
    """The start of the head's output: its reply's text, else its ``output``."""
    scores: tuple[dict[str, object], ...] = ()
    """The trace's feedback, oldest first: ``name``, ``value``, ``source``, ``comment`` and
    ``log_id`` (the judged log) of each score."""


PREVIEW_CHARS = 200
"""Characters of input a trace list shows."""


def input_preview(message: object, inputs: str | None) -> str | None:
    """Return a trace's one-line input preview from its last user message or its inputs.

    ``message`` is that message's content as stored (text, or a list of content parts);
    ``inputs`` the inputs as JSON text (``{}`` counts as none; one text argument is shown as its
    text).
    """
    text: str | None = None
    if isinstance(message, str):
        text = message
    elif isinstance(message, list):
        parts = [p.get("text") for p in message if isinstance(p, dict)]
        text = " ".join(p for p in parts if isinstance(p, str)) or None
    if not text and inputs and inputs not in ("{}", "null"):
        text = _sole_text(inputs) or inputs
    if not text:
        return None
    return _one_line(text)


def reply_preview(message: object, output: str | None) -> str | None:
    """Return a trace's one-line output preview from its reply's content or its ``output``."""
    return input_preview(message, output)


def score_summary(
    name: str, value: object, source: object, comment: object, log_id: object
) -> dict[str, object]:
    """One score of a trace summary (see :attr:`TraceSummary.scores`)."""
    return {
        "name": name,
        "value": value,
        "source": source if isinstance(source, str) else None,
        "comment": comment if isinstance(comment, str) else None,
        "log_id": log_id if isinstance(log_id, str) else None,
    }


def _sole_text(inputs: str) -> str | None:
    """The text of inputs that are one text argument (``{"question": "..."}``), else None."""
    try:
        value = json.loads(inputs)
    except ValueError:  # cut short, or not JSON
        return None
    if isinstance(value, dict) and len(value) == 1:
        (only,) = value.values()
        if isinstance(only, str) and only:
            return only
    return None


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


class LogSummary(NamedTuple):
    """The indexed columns of one log, enough for statistics without parsing bodies.

    .. versionadded:: 0.1.0
    """

    path: str
    kind: str
    latency: float | None
    error: str | None
    prompt_tokens: int | None
    output_tokens: int | None
    cost: float | None


def total_cost(record: LogRecord) -> float | None:
    """``prompt_cost + output_cost``; ``None`` when neither is known."""
    if record.prompt_cost is None and record.output_cost is None:
        return None
    return (record.prompt_cost or 0.0) + (record.output_cost or 0.0)


class InsertResult(NamedTuple):
    """What happened to one record of a batch: stored now, or already stored under its id.

    .. versionadded:: 0.1.0
    """

    log_id: str
    status: InsertStatus


class StoreUnavailableError(PromptrailError):
    """The database is down, unreachable or locked past its timeout: try again later.

    Nothing of the failed call was stored (each batch is one transaction).

    .. versionadded:: 0.1.0
    """


class Store(Protocol):
    """The operations the receiver, the read API, the web page and the CLI need from a store.

    .. versionadded:: 0.1.0
    """

    @property
    def location(self) -> str:
        """Where the logs are: a file path, or a database URL without its password."""
        ...

    def schema_version(self) -> int:
        """Return the schema version the store is at (0: none)."""
        ...

    def insert(self, records: Sequence[LogRecord]) -> list[InsertResult]:
        """Store ``records`` in one transaction, idempotently on ``log_id``; one result each."""
        ...

    def write(self, records: Sequence[LogRecord]) -> int:
        """Store ``records`` like :meth:`insert`; return how many were new."""
        ...

    def update(self, record: LogRecord) -> bool:
        """Replace the stored log with ``record``'s id; False when there is none."""
        ...

    def get(self, log_id: str) -> LogRecord | None:
        """Return the log with this id, or None."""
        ...

    def logs(
        self,
        *,
        path: str | None = None,
        trace_id: str | None = None,
        errors_only: bool = False,
        since: str | None = None,
        limit: int | None = 100,
        session_id: str | None = None,
        user: str | None = None,
        tags: Sequence[str] = (),
    ) -> list[LogRecord]:
        """Return logs, newest first, filtered by path (prefix ``folder/``), trace or errors.

        ``session_id``, ``user`` and each of ``tags`` (all of them) narrow the list further.
        """
        ...

    def trace(self, trace_id: str) -> list[LogRecord]:
        """Return every log of one trace, in start order."""
        ...

    def recent_trace_ids(
        self,
        last: int = 10,
        *,
        path: str | None = None,
        errors_only: bool = False,
        since: str | None = None,
        before: str | None = None,
        session_id: str | None = None,
        user: str | None = None,
        tags: Sequence[str] = (),
    ) -> list[str]:
        """Return the ids of the ``last`` most recently started traces, newest first.

        A trace is listed when one of its logs matches every filter given. ``before`` (an ISO
        start time, the last one of the previous page) pages backwards.
        """
        ...

    def trace_summaries(self, trace_ids: Sequence[str]) -> list[TraceSummary]:
        """Return one summary per stored trace of ``trace_ids``, in that order."""
        ...

    def match_trace_ids(self, fragment: str, *, limit: int = 2) -> list[str]:
        """Return up to ``limit`` trace ids that start or end with ``fragment``."""
        ...

    def log_summaries(
        self, *, path: str | None = None, since: str | None = None
    ) -> list[LogSummary]:
        """Return the indexed columns of the logs matching ``path`` and ``since`` (stats)."""
        ...

    def cursor(self) -> int:
        """Return a number that grows with every insert (0 when empty)."""
        ...

    def logs_after(self, cursor: int, *, limit: int = 1000) -> tuple[int, list[LogRecord]]:
        """Return the logs inserted after ``cursor`` (in insert order) and the new cursor."""
        ...

    def count(self) -> int:
        """Return the number of stored logs."""
        ...

    def prune(self, older_than: str) -> int:
        """Delete the logs of traces that started before ``older_than`` (ISO); return how many."""
        ...

    def try_prune(self, older_than: str) -> int | None:
        """Prune like :meth:`prune` unless another process is pruning now (then None)."""
        ...

    def close(self) -> None:
        """Release connections (a later call reopens them)."""
        ...


Scan = Callable[[tuple[str, str] | None, int], list[tuple[str, str, str]]]
"""``scan(after, n)``: up to ``n`` matching logs as (start_time, log_id, trace_id), newest first,
strictly older than ``after`` (a (start_time, log_id) key; None: from the newest)."""
Starts = Callable[[list[str]], dict[str, str]]
"""``starts(trace_ids)``: the earliest start_time among each trace's matching logs."""


def recent_traces(scan: Scan, starts: Starts, last: int, before: str | None) -> list[str]:
    """The ``last`` traces with the latest first start, newest first, walking the time index.

    Exactly what ``GROUP BY trace_id ORDER BY MIN(start_time) DESC`` returns, without reading
    every log: walking logs newest first down to a time ``T``, every trace whose first start is
    after ``T`` has been met, so once ``last`` such traces are known the page is complete.
    """
    chunk = max(4 * last, 256)
    after = None if before is None else (before, "")
    found: dict[str, str] = {}
    while True:
        rows = scan(after, chunk)
        new = list(dict.fromkeys(t for _, _, t in rows if t not in found))
        if new:
            found.update(starts(new))
        if len(rows) < chunk:  # every matching log seen
            ready = found
            break
        after = (rows[-1][0], rows[-1][1])
        ready = {t: s for t, s in found.items() if s > after[0]}
        if len(ready) >= last:
            break
        chunk = min(chunk * 4, 65536)  # long traces: fewer, larger steps
    ranked = sorted(ready.items(), key=lambda item: (item[1], item[0]), reverse=True)
    return [trace_id for trace_id, _ in ranked[:last]]
