"""The PostgreSQL store's schema: the migrations, the row of a record and the filters.

Imports nothing from psycopg, so the schema can be read (and tested) without a database.
"""

from __future__ import annotations

import re
from typing import Any

from promptrail._record.encode import dump_json
from promptrail._record.models import LogRecord
from promptrail.stores._base import total_cost

__all__ = ["INSERT", "MIGRATIONS", "SCHEMA_VERSION", "UPDATE", "row", "text"]

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE promptrail_logs (
            seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            log_id text PRIMARY KEY,
            trace_id text COLLATE "C" NOT NULL,
            trace_parent_id text COLLATE "C",
            path text COLLATE "C" NOT NULL,
            kind text NOT NULL,
            start_time text COLLATE "C" NOT NULL,
            end_time text COLLATE "C",
            latency double precision,
            error text,
            prompt_tokens bigint,
            output_tokens bigint,
            cost double precision,
            body jsonb NOT NULL
        );
        CREATE INDEX promptrail_logs_trace_id ON promptrail_logs (trace_id, start_time);
        CREATE INDEX promptrail_logs_parent_id ON promptrail_logs (trace_parent_id);
        CREATE INDEX promptrail_logs_path ON promptrail_logs (path text_pattern_ops);
        CREATE INDEX promptrail_logs_start_time ON promptrail_logs (start_time);
        CREATE INDEX promptrail_logs_roots ON promptrail_logs (start_time DESC)
            WHERE log_id = trace_id;
        """,
    ),
    (
        2,
        """
        ALTER TABLE promptrail_logs
            ADD COLUMN session_id text COLLATE "C",
            ADD COLUMN user_id text COLLATE "C",
            ADD COLUMN tags text[] COLLATE "C";
        UPDATE promptrail_logs SET session_id = body->>'session_id', user_id = body->>'user',
            tags = CASE WHEN jsonb_typeof(body->'tags') = 'array'
                THEN ARRAY(SELECT jsonb_array_elements_text(body->'tags')) END
            WHERE body ?| array['session_id', 'user', 'tags'];
        CREATE INDEX promptrail_logs_session_id ON promptrail_logs (session_id, start_time)
            WHERE session_id IS NOT NULL;
        CREATE INDEX promptrail_logs_user_id ON promptrail_logs (user_id, start_time)
            WHERE user_id IS NOT NULL;
        CREATE INDEX promptrail_logs_tags ON promptrail_logs USING gin (tags)
            WHERE tags IS NOT NULL;
        """,
    ),
    (
        3,
        # Every insert pays for every index, and no query looks logs up by their parent.
        "DROP INDEX IF EXISTS promptrail_logs_parent_id;",
    ),
)
"""(version, SQL) in order; a database is at the highest version applied."""

SCHEMA_VERSION = MIGRATIONS[-1][0]

_COLUMNS = (
    "log_id, trace_id, trace_parent_id, path, kind, start_time, end_time, latency, error, "
    "prompt_tokens, output_tokens, cost, session_id, user_id, body"
)
# Tags are a text[] each, and unnest() flattens arrays of arrays: they are set from the body.
INSERT = f"""
INSERT INTO promptrail_logs ({_COLUMNS}, tags)
SELECT *, CASE WHEN jsonb_typeof(b->'tags') = 'array'
    THEN ARRAY(SELECT jsonb_array_elements_text(b->'tags')) END
FROM unnest(
    %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
    %b::float8[], %b::text[], %b::int8[], %b::int8[], %b::float8[], %b::text[], %b::text[],
    %b::text[]::jsonb[]
) AS r(l, t, tp, p, k, st, et, lat, e, pt, ot, c, s, u, b)
ON CONFLICT (log_id) DO NOTHING
RETURNING log_id
"""
UPDATE = """
UPDATE promptrail_logs SET trace_id = %s, trace_parent_id = %s, path = %s, kind = %s,
    start_time = %s, end_time = %s, latency = %s, error = %s, prompt_tokens = %s,
    output_tokens = %s, cost = %s, session_id = %s, user_id = %s, body = %s::jsonb,
    tags = %s::text[]
WHERE log_id = %s
"""
# JSONB refuses the NUL character: an escaped one (not an escaped backslash before "u0000")
# becomes U+FFFD, and NULs leave the text columns.
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def text(value: str | None) -> str | None:
    return None if value is None else value.replace("\x00", "\ufffd")


def row(record: LogRecord) -> tuple[Any, ...]:
    return (
        text(record.log_id),
        text(record.trace_id),
        text(record.trace_parent_id),
        text(record.path),
        record.kind,
        record.start_time.isoformat(),
        None if record.end_time is None else record.end_time.isoformat(),
        record.provider_latency,
        text(record.error),
        record.prompt_tokens,
        record.output_tokens,
        total_cost(record),
        text(record.session_id),
        text(record.user),
        _jsonb_text(dump_json(record).decode()),
    )


def _jsonb_text(body: str) -> str:
    return _JSON_NUL.sub(r"\1\\ufffd", body) if "\\u0000" in body else body
