"""The reads both SQL stores share, written once over the few places their dialects differ.

:class:`SqliteStore` and :class:`PostgresStore` keep their schemas, connections, writes and the
dialect-specific parts of a trace's summary (JSON functions differ); the queries here differ only
in the table's name, the placeholder, how the body is read as text and how a list of ids is
matched, which each store states as class attributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from promptrail._record.models import LogRecord
from promptrail.stores._base import (
    InsertResult,
    LogSummary,
    TraceSummary,
    input_preview,
    recent_traces,
    reply_preview,
)

__all__ = ["Head", "SqlReads"]

Head = tuple[Any, ...]
"""A trace's head row as :meth:`SqlReads._summaries` reads it: ``(log_id, path, kind, latency,
error, session_id, user, last user message's content, inputs text, reply's content, output)``."""


def _escape_like(text: str) -> str:
    r"""``text`` matched literally by ``LIKE ... ESCAPE '\'`` (backslash escapes)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


class SqlReads:
    """Read operations over one table of logs (a mixin: the store supplies ``_query``)."""

    _TABLE: ClassVar[str]
    """The logs table."""
    _BODY: ClassVar[str]
    """The expression that reads a row's JSON body as text."""
    _P: ClassVar[str]
    """The parameter placeholder."""
    _SEQ: ClassVar[str]
    """The column that grows with every insert (the live page's cursor)."""

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _tagged(self, tags: Sequence[str]) -> tuple[list[str], list[Any]]:
        """Conditions (and parameters) for a log carrying every tag of ``tags``."""
        raise NotImplementedError

    def _filters(
        self,
        *,
        path: str | None = None,
        trace_id: str | None = None,
        errors_only: bool = False,
        since: str | None = None,
        session_id: str | None = None,
        user: str | None = None,
        tags: Sequence[str] = (),
    ) -> tuple[str, list[Any]]:
        """The ``WHERE`` clause (or ``""``) and its parameters for the list filters."""
        p = self._P
        clauses: list[str] = []
        params: list[Any] = []
        if path:
            clauses.append(f"(path = {p} OR path LIKE {p} ESCAPE '\\')")
            params += [path, _escape_like(path.rstrip("/")) + "/%"]
        for column, value in (
            ("trace_id", trace_id),
            ("session_id", session_id),
            ("user_id", user),
        ):
            if value:
                clauses.append(f"{column} = {p}")
                params.append(value)
        if errors_only:
            clauses.append("error IS NOT NULL")
        if since:
            clauses.append(f"start_time >= {p}")
            params.append(since)
        if tags:
            tag_clauses, tag_params = self._tagged(list(dict.fromkeys(tags)))
            clauses += tag_clauses
            params += tag_params
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def _in(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        """``column`` is one of ``values``: the condition and its parameters."""
        return f"{column} IN ({','.join(self._P * len(values))})", list(values)

    def insert(self, records: Sequence[LogRecord]) -> list[InsertResult]:
        raise NotImplementedError

    def write(self, records: Sequence[LogRecord]) -> int:
        """Store ``records`` in one transaction; return how many were new."""
        return sum(r.status == "created" for r in self.insert(records))

    def get(self, log_id: str) -> LogRecord | None:
        """Return the log with this id, or None."""
        sql = f"SELECT {self._BODY} FROM {self._TABLE} WHERE log_id = {self._P}"
        rows = self._query(sql, (log_id,))
        return LogRecord.model_validate_json(rows[0][0]) if rows else None

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
        where, params = self._filters(
            path=path,
            trace_id=trace_id,
            errors_only=errors_only,
            since=since,
            session_id=session_id,
            user=user,
            tags=tags,
        )
        sql = f"SELECT {self._BODY} FROM {self._TABLE}{where} ORDER BY start_time DESC, log_id DESC"
        if limit is not None:
            sql += f" LIMIT {self._P}"
            params.append(limit)
        return [LogRecord.model_validate_json(row[0]) for row in self._query(sql, params)]

    def trace(self, trace_id: str) -> list[LogRecord]:
        """Return every log of one trace, in start order."""
        rows = self._query(
            f"SELECT {self._BODY} FROM {self._TABLE} WHERE trace_id = {self._P} "
            "ORDER BY start_time, log_id",
            (trace_id,),
        )
        return [LogRecord.model_validate_json(row[0]) for row in rows]

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

        With filters, a trace is listed when one of its logs matches (``path``, ``errors_only``,
        started at or after ``since``, an ISO time, in ``session_id``, by ``user``, carrying every
        tag of ``tags``). ``before`` (an ISO time: the start of the previous page's last trace)
        lists the traces that started earlier.
        """
        where, params = self._filters(
            path=path,
            errors_only=errors_only,
            since=since,
            session_id=session_id,
            user=user,
            tags=tags,
        )
        extra = " AND " if where else " WHERE "
        p = self._P

        def scan(after: tuple[str, str] | None, n: int) -> list[tuple[str, str, str]]:
            sql = f"SELECT start_time, log_id, trace_id FROM {self._TABLE}{where}"
            args = list(params)
            if after is not None:
                sql += f"{extra}(start_time < {p} OR (start_time = {p} AND log_id < {p}))"
                args += [after[0], after[0], after[1]]
            sql += f" ORDER BY start_time DESC, log_id DESC LIMIT {p}"
            return [(r[0], r[1], r[2]) for r in self._query(sql, [*args, n])]

        def starts(trace_ids: list[str]) -> dict[str, str]:
            among, ids = self._in("trace_id", trace_ids)
            sql = (
                f"SELECT trace_id, MIN(start_time) FROM {self._TABLE}{where}{extra}{among} "
                "GROUP BY trace_id"
            )
            return {r[0]: r[1] for r in self._query(sql, [*params, *ids])}

        return recent_traces(scan, starts, last, before)

    def _totals(self, trace_ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        """Each stored trace's start, end, counts, tokens and cost, by id."""
        among, ids = self._in("trace_id", trace_ids)
        rows = self._query(
            # A score's end is when a user gave it, not part of the trace's span.
            "SELECT trace_id, MIN(start_time), "
            "MAX(CASE WHEN kind <> 'evaluator' THEN end_time END), COUNT(*), COUNT(error), "
            "SUM(prompt_tokens), SUM(output_tokens), SUM(cost) "
            f"FROM {self._TABLE} WHERE {among} GROUP BY trace_id",
            ids,
        )
        return {row[0]: row[1:] for row in rows}

    @staticmethod
    def _summaries(
        trace_ids: Sequence[str],
        totals: Mapping[str, tuple[Any, ...]],
        heads: Mapping[str, Head],
        scores: Mapping[str, list[dict[str, object]]],
    ) -> list[TraceSummary]:
        """One :class:`TraceSummary` per id in ``totals``, in the order of ``trace_ids``."""
        summaries = []
        for trace_id in trace_ids:
            if trace_id not in totals:
                continue
            start, end, logs, errors, prompt_tokens, output_tokens, cost = totals[trace_id]
            log_id, path, kind, latency, error, session, user = heads[trace_id][:7]
            message, inputs, reply, output = heads[trace_id][7:]
            complete = log_id == trace_id
            summaries.append(
                TraceSummary(
                    trace_id=trace_id,
                    path=path,
                    kind=kind,
                    start_time=start,
                    end_time=end,
                    latency=latency if complete else None,
                    error=error,
                    logs=int(logs),
                    errors=int(errors),
                    prompt_tokens=_int(prompt_tokens),
                    output_tokens=_int(output_tokens),
                    cost=cost,
                    complete=complete,
                    session_id=session,
                    user=user,
                    preview=input_preview(message, inputs),
                    reply=reply_preview(reply, output),
                    scores=tuple(scores.get(trace_id, ())),
                )
            )
        return summaries

    def match_trace_ids(self, fragment: str, *, limit: int = 2) -> list[str]:
        """Return up to ``limit`` trace ids that start or end with ``fragment`` (a shortened id)."""
        escaped = _escape_like(fragment)
        like = f"trace_id LIKE {self._P} ESCAPE '\\'"
        rows = self._query(
            f"SELECT DISTINCT trace_id FROM {self._TABLE} WHERE {like} OR {like} LIMIT {self._P}",
            (escaped + "%", "%" + escaped, limit),
        )
        return [row[0] for row in rows]

    def log_summaries(
        self, *, path: str | None = None, since: str | None = None
    ) -> list[LogSummary]:
        """Return the indexed columns of the logs matching ``path`` and ``since`` (for stats)."""
        where, params = self._filters(path=path, since=since)
        sql = (
            "SELECT path, kind, latency, error, prompt_tokens, output_tokens, cost "
            f"FROM {self._TABLE}{where}"
        )
        return [
            LogSummary(p, k, lat, err, _int(pt), _int(ot), c)
            for p, k, lat, err, pt, ot, c in self._query(sql, params)
        ]

    def cursor(self) -> int:
        """Return a number that grows with every insert (0 when empty)."""
        return int(self._query(f"SELECT COALESCE(MAX({self._SEQ}), 0) FROM {self._TABLE}")[0][0])

    def logs_after(self, cursor: int, *, limit: int = 1000) -> tuple[int, list[LogRecord]]:
        """Return the logs inserted after ``cursor`` (in insert order) and the new cursor.

        ``cursor`` comes from :meth:`cursor` or an earlier call; follow a store with it.
        """
        rows = self._query(
            f"SELECT {self._SEQ}, {self._BODY} FROM {self._TABLE} WHERE {self._SEQ} > {self._P} "
            f"ORDER BY {self._SEQ} LIMIT {self._P}",
            (cursor, limit),
        )
        if not rows:
            return cursor, []
        return int(rows[-1][0]), [LogRecord.model_validate_json(row[1]) for row in rows]

    def count(self) -> int:
        """Return the number of stored logs."""
        return int(self._query(f"SELECT COUNT(*) FROM {self._TABLE}")[0][0])
