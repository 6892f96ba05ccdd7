"""The embedded store: ``SqliteStore`` (schema, writes, reads).

One table, ``logs``: the record's JSON body plus indexed columns (``trace_id``, ``path``,
``start_time``, and ``session_id`` and ``user_id`` where set) for the queries the CLI and the
receiver make; a log's tags are rows of ``log_tags`` (indexed by tag). The schema is
versioned (``promptrail_meta``): opening an older file applies the missing migrations in one
transaction, so existing databases upgrade in place (the schema: ``_sqlite_schema``).
WAL mode and a busy timeout let several processes write one file; inserts are idempotent on
``log_id`` (a retried batch does not duplicate); each batch is one transaction, so a crash mid-batch
leaves none of it half-written. A child may be stored before its parent.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from promptrail._record.models import LogRecord
from promptrail._runtime.locks import hold_across_fork
from promptrail.stores import _sqlite_schema as _schema
from promptrail.stores._base import (
    PREVIEW_CHARS,
    InsertResult,
    LogSummary,
    NotAStoreError,
    StoreUnavailableError,
    TraceSummary,
    score_summary,
    total_cost,
)
from promptrail.stores._sql import Head, SqlReads

SCHEMA_VERSION = _schema.SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "LogSummary",
    "NotAStoreError",
    "SqliteStore",
    "TraceSummary",
    "default_db_path",
    "total_cost",
]


def default_db_path() -> str:
    """Return the embedded store's file: ``$PROMPTRAIL_DB``, else ``./promptrail.db``."""
    return os.environ.get("PROMPTRAIL_DB") or "promptrail.db"


class SqliteStore(SqlReads):
    """A promptrail log store in one SQLite file: write records, query logs and trees.

    Thread-safe (one connection, a lock) and fork-safe (a forked child opens its own
    connection). Used by :class:`SqliteExporter`, the CLI and the receiver.

    Args:
        path: The database file.
        create: Create the file and schema if missing; when False, a missing file or one without
            promptrail's schema raises :class:`NotAStoreError` (readers use this).
        busy_timeout: Seconds to wait for another writer's lock.

    .. versionadded:: 0.1.0
    """

    _TABLE = "logs"
    _BODY = "body"
    _P = "?"
    _SEQ = "rowid"

    def _tagged(self, tags: Sequence[str]) -> tuple[list[str], list[Any]]:
        clause = "log_id IN (SELECT log_id FROM log_tags WHERE tag = ?)"
        return [clause] * len(tags), list(tags)

    def __init__(
        self, path: str | os.PathLike[str], *, create: bool = True, busy_timeout: float = 10.0
    ) -> None:
        self._path = Path(path)
        self._create = create
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        hold_across_fork(self, "_lock")  # a child forked mid-write can still write the file
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        if not create:
            self._connect()

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def _connect(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is not None and self._pid == os.getpid():
            return conn
        if not self._create and not self._path.is_file():
            msg = f"{self._path}: no such promptrail database"
            raise NotAStoreError(msg)
        if self._create:
            self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self._path, timeout=self._busy_timeout, check_same_thread=False, isolation_level=None
        )
        try:
            if self._create:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(_schema.SCHEMA_V1)
                conn.execute(
                    "INSERT OR IGNORE INTO promptrail_meta (key, value) VALUES ('schema', '1')"
                )
            row = conn.execute("SELECT value FROM promptrail_meta WHERE key = 'schema'").fetchone()
            if row is None:  # pragma: no cover - a table without the row
                problem = "no schema row"
                raise sqlite3.DatabaseError(problem)
            if int(row[0]) < _schema.SCHEMA_VERSION:
                try:
                    _schema.upgrade(conn)
                except sqlite3.OperationalError as exc:
                    conn.close()
                    msg = (
                        f"{self._path}: schema version {row[0]} could not be upgraded to "
                        f"{_schema.SCHEMA_VERSION} ({exc})"
                    )
                    if "readonly" in str(exc):  # a reader on a file it may not write
                        msg += (
                            f"; run once with write access: promptrail db upgrade --db {self._path}"
                        )
                        raise NotAStoreError(msg) from exc
                    raise StoreUnavailableError(msg) from exc
        except sqlite3.DatabaseError as exc:
            conn.close()
            msg = f"{self._path}: not a promptrail database ({exc})"
            raise NotAStoreError(msg) from exc
        self._conn = conn
        self._pid = os.getpid()
        return conn

    @property
    def location(self) -> str:
        """The database file, as text."""
        return str(self._path)

    def schema_version(self) -> int:
        """Return the schema version in the file's ``promptrail_meta``."""
        rows = self._query("SELECT value FROM promptrail_meta WHERE key = 'schema'")
        return int(rows[0][0]) if rows else 0

    def insert(self, records: Sequence[LogRecord]) -> list[InsertResult]:
        """Store ``records`` in one transaction, idempotently on ``log_id``; one result each.

        A record whose id is stored already (or repeated earlier in the batch) is a
        ``"duplicate"`` and leaves the stored one as it was.

        Raises:
            StoreUnavailableError: The file stayed locked past the busy timeout (nothing stored).
        """
        results: list[InsertResult] = []
        with self._transaction() as conn:
            if any(r.kind == "evaluator" for r in records):
                records = _scores_in_their_traces(conn, records)
            for record in records:
                row = _schema.row(record)
                # rowcount is 0 when INSERT OR IGNORE skipped the row.
                new = conn.execute(_schema.INSERT, row).rowcount == 1
                if new and record.tags:
                    conn.executemany(_schema.INSERT_TAG, _schema.tag_rows(record))
                results.append(InsertResult(row[0], "created" if new else "duplicate"))
        return results

    def write(self, records: Sequence[LogRecord]) -> int:
        """Store ``records`` like :meth:`insert` (one transaction); return how many were new.

        Without per-record answers to give, a batch without tags or scores is one
        ``executemany``; the others take :meth:`insert`'s path.
        """
        if any(r.tags or r.kind == "evaluator" for r in records):
            return super().write(records)
        rows = [_schema.row(r) for r in records]
        with self._transaction() as conn:
            # OR IGNORE: a duplicate changes nothing. rowcount adds up the rows each insert made
            # (not those of triggers a user may have added).
            return conn.executemany(_schema.INSERT, rows).rowcount

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed at the end, rolled back on any exception.

        A failed COMMIT included: a transaction left open would make every later write fail.
        The batch is all-or-nothing either way.

        Raises:
            StoreUnavailableError: The file stayed locked past the busy timeout (nothing stored).
        """
        with self._lock:
            conn = self._connect()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                msg = f"{self._path}: {exc}"
                raise StoreUnavailableError(msg) from exc

    def update(self, record: LogRecord) -> bool:
        """Replace the stored log with ``record``'s id; False when there is none."""
        row = _schema.row(record)
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = conn.execute(_schema.UPDATE, (*row[1:], row[0])).rowcount == 1
                if found:
                    conn.execute("DELETE FROM log_tags WHERE log_id = ?", (record.log_id,))
                    conn.executemany(_schema.INSERT_TAG, _schema.tag_rows(record))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return found

    def prune(self, older_than: str) -> int:
        """Delete the traces whose every log started before ``older_than``; return the logs gone.

        Whole traces go, so no tree is left half-pruned.
        """
        with self._lock:
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "DELETE FROM log_tags WHERE log_id IN (SELECT log_id FROM logs WHERE "
                    f"trace_id IN ({_schema.PRUNED_TRACES}))",
                    (older_than, older_than),
                )
                cur = conn.execute(
                    f"DELETE FROM logs WHERE trace_id IN ({_schema.PRUNED_TRACES})",
                    (older_than, older_than),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return cur.rowcount

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._connect().execute(sql, params).fetchall()

    def try_prune(self, older_than: str) -> int | None:
        """Prune (SQLite's write lock already keeps two prunes apart); never None here."""
        return self.prune(older_than)

    def trace_summaries(self, trace_ids: Sequence[str]) -> list[TraceSummary]:
        """Return one :class:`TraceSummary` per stored trace of ``trace_ids``, in that order."""
        if not trace_ids:
            return []
        totals = self._totals(trace_ids)
        # The root's log_id is the trace_id (found by primary key); until it is stored, the
        # earliest log stands in.
        columns = (
            "trace_id, log_id, path, kind, latency, error, session_id, user_id, "
            "(SELECT m.value FROM json_each(body, '$.messages') AS m "
            "WHERE json_extract(m.value, '$.role') = 'user' ORDER BY m.key DESC LIMIT 1), "
            f"substr(json_extract(body, '$.inputs'), 1, {4 * PREVIEW_CHARS}), "
            "json_extract(body, '$.output_message'), "
            f"substr(json_extract(body, '$.output'), 1, {4 * PREVIEW_CHARS})"
        )
        marks = ",".join("?" * len(trace_ids))
        rows = self._query(
            f"SELECT {columns} FROM logs WHERE log_id IN ({marks}) AND log_id = trace_id",
            trace_ids,
        )
        missing = [t for t in trace_ids if t in totals and t not in {row[0] for row in rows}]
        if missing:
            marks = ",".join("?" * len(missing))
            rows += self._query(
                f"SELECT {columns} FROM logs WHERE trace_id IN ({marks}) AND start_time = "
                "(SELECT MIN(start_time) FROM logs AS o WHERE o.trace_id = logs.trace_id) "
                "ORDER BY log_id DESC",  # the last row wins: the smallest id
                missing,
            )
        heads: dict[str, Head] = {}
        for row in rows:
            message, reply = row[8], row[10]
            heads[row[0]] = (
                *row[1:8],
                json.loads(message).get("content") if message else None,
                row[9],
                json.loads(reply).get("content") if reply else None,
                row[11],
            )
        present = [t for t in trace_ids if t in totals]
        scores: dict[str, list[dict[str, object]]] = {}
        for trace_id, name, value, kind, source, comment, judged in self._query(
            "SELECT trace_id, path, json_extract(body, '$.judgment'), "
            "json_type(body, '$.judgment'), json_extract(body, '$.source'), "
            "json_extract(body, '$.metadata.comment'), "
            "COALESCE(json_extract(body, '$.parent_id'), trace_parent_id) "
            f"FROM logs WHERE kind = 'evaluator' AND trace_id IN ({','.join('?' * len(present))}) "
            "ORDER BY start_time, log_id",
            present,
        ):
            if kind in ("true", "false"):
                value = kind == "true"
            scores.setdefault(trace_id, []).append(
                score_summary(name, value, source, comment, judged)
            )
        return self._summaries(trace_ids, totals, heads, scores)

    def close(self) -> None:
        """Close the connection (a later call reopens it)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


def _scores_in_their_traces(
    conn: sqlite3.Connection, records: Sequence[LogRecord]
) -> list[LogRecord]:
    """Scores (``evaluator`` logs) filed in the trace of the log they judge, when it is known.

    A score made in another process knows only the judged log's id; the judged log, in this
    batch or already stored, gives its trace.
    """
    traces = {r.log_id: r.trace_id for r in records}
    out: list[LogRecord] = []
    for record in records:
        judged = record.trace_parent_id
        if record.kind == "evaluator" and judged is not None:
            trace_id = traces.get(judged)
            if trace_id is None:
                row = conn.execute(
                    "SELECT trace_id FROM logs WHERE log_id = ?", (judged,)
                ).fetchone()
                trace_id = None if row is None else row[0]
            if trace_id is not None and trace_id != record.trace_id:
                record = record.model_copy(update={"trace_id": trace_id})
        out.append(record)
    return out
