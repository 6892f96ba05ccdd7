"""The SQLite store's schema: the tables, the migrations, the row of a record and the filters.

A new file gets ``SCHEMA_V1`` and then every migration; an older file (``promptrail_meta``'s
``schema`` below ``SCHEMA_VERSION``) gets the ones it lacks, in one transaction.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from promptrail._record.encode import dump_json
from promptrail._record.models import LogRecord
from promptrail.stores._base import total_cost

__all__ = [
    "INSERT",
    "INSERT_TAG",
    "MIGRATIONS",
    "PRUNED_TRACES",
    "SCHEMA_V1",
    "SCHEMA_VERSION",
    "UPDATE",
    "row",
    "tag_rows",
    "upgrade",
]

SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS promptrail_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS logs (
    log_id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    trace_parent_id TEXT,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_time TEXT NOT NULL,
    end_time TEXT,
    latency REAL,
    error TEXT,
    prompt_tokens INTEGER,
    output_tokens INTEGER,
    cost REAL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_trace_id ON logs (trace_id);
CREATE INDEX IF NOT EXISTS logs_path ON logs (path);
CREATE INDEX IF NOT EXISTS logs_start_time ON logs (start_time);
"""
"""Version 1: a new file starts here, then takes every migration.

Every opening that may create the file runs it (``IF NOT EXISTS``: files are created concurrently),
so it holds nothing a later migration drops: version 1's index on ``trace_parent_id`` is left out
(migration 3 drops it from files made before).
"""

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        2,
        (
            "ALTER TABLE logs ADD COLUMN session_id TEXT",
            "ALTER TABLE logs ADD COLUMN user_id TEXT",
            "CREATE TABLE IF NOT EXISTS log_tags (tag TEXT NOT NULL, log_id TEXT NOT NULL, "
            "PRIMARY KEY (tag, log_id)) WITHOUT ROWID",
            "CREATE INDEX IF NOT EXISTS log_tags_log_id ON log_tags (log_id)",
            # Logs stored before: their session, user and tags are in the body.
            "UPDATE logs SET session_id = json_extract(body, '$.session_id'), "
            "user_id = json_extract(body, '$.user') "
            "WHERE json_valid(body) AND (json_type(body, '$.session_id') = 'text' "
            "OR json_type(body, '$.user') = 'text')",
            "INSERT OR IGNORE INTO log_tags (tag, log_id) SELECT t.value, logs.log_id "
            "FROM logs, json_each(logs.body, '$.tags') AS t WHERE json_valid(logs.body) "
            "AND json_type(logs.body, '$.tags') = 'array' AND t.type = 'text'",
            "CREATE INDEX IF NOT EXISTS logs_session_id ON logs (session_id, start_time)",
            "CREATE INDEX IF NOT EXISTS logs_user_id ON logs (user_id, start_time)",
        ),
    ),
    (
        3,
        (
            # Every insert pays for every index. No query looks logs up by their parent, and
            # most logs have no session or user: those indexes hold only the rows they find.
            "DROP INDEX IF EXISTS logs_trace_parent_id",
            "DROP INDEX IF EXISTS logs_session_id",
            "DROP INDEX IF EXISTS logs_user_id",
            "CREATE INDEX logs_session_id ON logs (session_id, start_time) "
            "WHERE session_id IS NOT NULL",
            "CREATE INDEX logs_user_id ON logs (user_id, start_time) WHERE user_id IS NOT NULL",
        ),
    ),
)
"""(version, statements) in order; a file is at the highest version applied."""

SCHEMA_VERSION = MIGRATIONS[-1][0]

INSERT = """
INSERT OR IGNORE INTO logs (
    log_id, trace_id, trace_parent_id, path, kind, start_time, end_time, latency, error,
    prompt_tokens, output_tokens, cost, session_id, user_id, body
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


UPDATE = """
UPDATE logs SET trace_id = ?, trace_parent_id = ?, path = ?, kind = ?, start_time = ?,
    end_time = ?, latency = ?, error = ?, prompt_tokens = ?, output_tokens = ?, cost = ?,
    session_id = ?, user_id = ?, body = ?
WHERE log_id = ?
"""

INSERT_TAG = "INSERT OR IGNORE INTO log_tags (tag, log_id) VALUES (?, ?)"

# The traces whose every log started before a time (two parameters: the time twice).
PRUNED_TRACES = (
    "SELECT trace_id FROM logs WHERE start_time < ? AND trace_id NOT IN "
    "(SELECT trace_id FROM logs WHERE start_time >= ?)"
)


def row(record: LogRecord) -> tuple[Any, ...]:
    return (
        record.log_id,
        record.trace_id,
        record.trace_parent_id,
        record.path,
        record.kind,
        record.start_time.isoformat(),
        None if record.end_time is None else record.end_time.isoformat(),
        record.provider_latency,
        record.error,
        record.prompt_tokens,
        record.output_tokens,
        total_cost(record),
        record.session_id,
        record.user,
        dump_json(record).decode(),
    )


def tag_rows(record: LogRecord) -> list[tuple[str, str]]:
    return [(tag, record.log_id) for tag in dict.fromkeys(record.tags or ())]


def upgrade(conn: sqlite3.Connection) -> None:
    """Apply the migrations the file lacks, in one transaction (another process may race)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("SELECT value FROM promptrail_meta WHERE key = 'schema'").fetchone()
        current = int(row[0]) if row else 1
        for version, statements in MIGRATIONS:
            if version > current:
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "UPDATE promptrail_meta SET value = ? WHERE key = 'schema'", (str(version),)
                )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
