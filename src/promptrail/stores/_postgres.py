"""``PostgresStore``: the logs in a PostgreSQL database that several receivers share.

The table ``promptrail_logs`` holds the body as JSONB beside the columns the viewer filters on,
the same ones as SQLite's (a log's tags are a ``text[]`` column with a GIN index). ``seq`` (an
identity column) numbers inserts for the live page: inserts take a transaction-level advisory
lock, so ``seq`` order is commit order and a follower reading ``seq > cursor`` never skips a row
committed late. Text columns use the "C" collation, so ISO times
and paths compare byte by byte as in SQLite. Migrations are versioned (``promptrail_schema``) and
applied at start under an advisory lock, so replicas starting together do not race.

psycopg 3 and psycopg-pool come with ``pip install 'promptrail[postgres]'``; this module is
imported only when a ``postgresql://`` URL is used. A database that is down or restarting raises
:class:`~promptrail.stores._base.StoreUnavailableError`; the pool reconnects on the next call.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg_pool

from promptrail._record.models import LogRecord
from promptrail.stores import _postgres_schema as _schema
from promptrail.stores._base import (
    PREVIEW_CHARS,
    InsertResult,
    NotAStoreError,
    StoreUnavailableError,
    TraceSummary,
    score_summary,
)
from promptrail.stores._sql import SqlReads

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresStore"]

SCHEMA_VERSION = _schema.SCHEMA_VERSION
MIGRATIONS = _schema.MIGRATIONS

_MIGRATION_LOCK = 0x70726D31  # advisory lock keys: arbitrary, fixed, promptrail's own
_INSERT_LOCK = 0x70726D32
PRUNE_LOCK = 0x70726D33
"""The advisory lock a periodic prune holds, so one replica at a time prunes."""


def redact_url(url: str) -> str:
    """``url`` without its password (for messages and ``location``)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=netloc[0].split(":")[0] + ":***@" + netloc[1]))


class PostgresStore(SqlReads):
    """A promptrail log store in a PostgreSQL database (``postgresql://user:pw@host/db``).

    Thread-safe (a connection pool); several processes and machines may share one database.

    Args:
        url: A libpq connection URL.
        create: Create the schema at start; when False, a database without promptrail's
            schema raises :class:`NotAStoreError` (readers use this). Either way, a database an
            older promptrail made is migrated to the current schema.
        max_connections: The pool's size.
        timeout: Seconds to wait for a connection before :class:`StoreUnavailableError`.

    .. versionadded:: 0.1.0
    """

    _TABLE = "promptrail_logs"
    _BODY = "body::text"
    _P = "%s"
    _SEQ = "seq"

    def _tagged(self, tags: Sequence[str]) -> tuple[list[str], list[Any]]:
        return ["tags @> %s::text[]"], [list(tags)]

    def _in(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(%s)", [list(values)]

    def __init__(
        self, url: str, *, create: bool = True, max_connections: int = 8, timeout: float = 5.0
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._max_connections = max_connections
        self._inherited: list[psycopg_pool.ConnectionPool] = []
        self._pool = self._new_pool()
        try:
            if create:
                self.upgrade()
            else:
                version = self.schema_version()
                if version == 0:
                    msg = f"{self.location}: no promptrail schema (run: promptrail db upgrade)"
                    raise NotAStoreError(msg)
                if version < SCHEMA_VERSION:  # an older promptrail's database: bring it up
                    self.upgrade()
        except BaseException:
            self._pool.close()
            raise

    def _new_pool(self) -> psycopg_pool.ConnectionPool:
        pool = psycopg_pool.ConnectionPool(
            self._url,
            min_size=1,
            max_size=self._max_connections,
            kwargs={"autocommit": True, "connect_timeout": max(1, int(self._timeout))},
            check=psycopg_pool.ConnectionPool.check_connection,
            timeout=self._timeout,
            reconnect_timeout=0,  # keep trying for ever: the database comes back
            name="promptrail",
            open=False,
        )
        pool.open(wait=False)
        self._pid = os.getpid()
        return pool

    def _pool_here(self) -> psycopg_pool.ConnectionPool:
        """The pool of this process: a forked child opens its own on first use.

        The parent's pool is kept, never used nor closed, in the child: its connections'
        sockets are the parent's sessions (a query from the child would interleave with the
        parent's; closing them would end the parent's sessions).
        """
        if self._pid != os.getpid():
            self._inherited.append(self._pool)
            self._pool = self._new_pool()
        return self._pool

    @property
    def location(self) -> str:
        """The database URL without its password."""
        return redact_url(self._url)

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool_here().connection() as conn:
                yield conn
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as exc:
            msg = f"{self.location}: {type(exc).__name__}: {str(exc).strip()}"
            raise StoreUnavailableError(msg) from exc

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._conn() as conn:
            return conn.execute(sql, params).fetchall()

    def schema_version(self) -> int:
        """Return the highest migration applied (0: none)."""
        rows = self._query(
            "SELECT CASE WHEN to_regclass('promptrail_schema') IS NULL THEN 0 ELSE 1 END"
        )
        if rows[0][0] == 0:
            return 0
        return int(self._query("SELECT COALESCE(MAX(version), 0) FROM promptrail_schema")[0][0])

    def upgrade(self) -> list[int]:
        """Apply the migrations not applied yet, under an advisory lock; return their versions."""
        applied: list[int] = []
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS promptrail_schema (version integer PRIMARY KEY, "
                "applied_at timestamptz NOT NULL DEFAULT now())"
            )
            row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM promptrail_schema").fetchone()
            current = int(row[0]) if row else 0
            for version, sql in MIGRATIONS:
                if version > current:
                    conn.execute(sql.encode())
                    conn.execute("INSERT INTO promptrail_schema (version) VALUES (%s)", (version,))
                    applied.append(version)
        return applied

    def insert(self, records: Sequence[LogRecord]) -> list[InsertResult]:
        """Store ``records`` in one transaction, idempotently on ``log_id``; one result each.

        Raises:
            StoreUnavailableError: The database is down or unreachable (nothing stored).
        """
        if not records:
            return []
        rows = [_schema.row(r) for r in records]
        columns = [list(col) for col in zip(*rows, strict=True)]
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_INSERT_LOCK,))
            created = {row[0] for row in conn.execute(_schema.INSERT, columns).fetchall()}
        results: list[InsertResult] = []
        for record in records:
            new = record.log_id in created
            created.discard(record.log_id)  # a repeat later in the batch is a duplicate
            results.append(InsertResult(record.log_id, "created" if new else "duplicate"))
        return results

    def update(self, record: LogRecord) -> bool:
        """Replace the stored log with ``record``'s id; False when there is none."""
        row = _schema.row(record)
        tags = None if record.tags is None else [_schema.text(tag) for tag in record.tags]
        with self._conn() as conn:
            return conn.execute(_schema.UPDATE, (*row[1:], tags, row[0])).rowcount == 1

    def trace_summaries(self, trace_ids: Sequence[str]) -> list[TraceSummary]:
        """Return one :class:`TraceSummary` per stored trace of ``trace_ids``, in that order."""
        if not trace_ids:
            return []
        ids = list(trace_ids)
        totals = self._totals(ids)
        # The root's log_id is the trace_id (found by primary key); until it is stored, the
        # earliest log stands in.
        columns = (
            "trace_id, log_id, path, kind, latency, error, session_id, user_id, "
            "(SELECT m->'content' FROM jsonb_array_elements(CASE WHEN jsonb_typeof("
            "body->'messages') = 'array' THEN body->'messages' END) WITH ORDINALITY AS e(m, i) "
            "WHERE m->>'role' = 'user' ORDER BY i DESC LIMIT 1), "
            f"left((body->'inputs')::text, {4 * PREVIEW_CHARS}), "
            f"body->'output_message'->'content', left(body->>'output', {4 * PREVIEW_CHARS})"
        )
        heads = {
            row[0]: row
            for row in self._query(
                f"SELECT {columns} FROM promptrail_logs "
                "WHERE log_id = ANY(%s) AND log_id = trace_id",
                (ids,),
            )
        }
        missing = [t for t in ids if t in totals and t not in heads]
        if missing:
            for row in self._query(
                f"SELECT DISTINCT ON (trace_id) {columns} FROM promptrail_logs "
                "WHERE trace_id = ANY(%s) ORDER BY trace_id, start_time, log_id",
                (missing,),
            ):
                heads[row[0]] = row
        scores: dict[str, list[dict[str, object]]] = {}
        for trace_id, name, value, source, comment, judged in self._query(
            "SELECT trace_id, path, body->'judgment', body->>'source', "
            "body->'metadata'->>'comment', COALESCE(body->>'parent_id', trace_parent_id) "
            "FROM promptrail_logs WHERE kind = 'evaluator' AND trace_id = ANY(%s) "
            "ORDER BY start_time, log_id",
            ([t for t in ids if t in totals],),
        ):
            scores.setdefault(trace_id, []).append(
                score_summary(name, value, source, comment, judged)
            )
        heads = {trace_id: row[1:] for trace_id, row in heads.items()}
        return self._summaries(trace_ids, totals, heads, scores)

    def prune(self, older_than: str) -> int:
        """Delete the traces whose every log started before ``older_than``; return the logs gone."""
        with self._conn() as conn:
            return _prune(conn, older_than)

    def try_prune(self, older_than: str) -> int | None:
        """Prune unless another process is pruning (then None): one replica at a time."""
        with self._conn() as conn, conn.transaction():
            row = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (PRUNE_LOCK,)).fetchone()
            if not row or not row[0]:
                return None
            return _prune(conn, older_than)

    def close(self) -> None:
        """Close the pool's connections (in a forked child, only the child's own)."""
        if self._pid == os.getpid():
            self._pool.close()


def _prune(conn: psycopg.Connection[Any], older_than: str) -> int:
    cur = conn.execute(
        "DELETE FROM promptrail_logs WHERE trace_id IN (SELECT trace_id FROM promptrail_logs "
        "WHERE start_time < %s) AND trace_id NOT IN (SELECT trace_id FROM promptrail_logs "
        "WHERE start_time >= %s)",
        (older_than, older_than),
    )
    return cur.rowcount
