"""Humanloop's update and read routes: what the Humanloop SDK calls besides ``*/log``.

- ``PATCH /v5/prompts/{id}/log/{log_id}`` (``prompts.update_log``), ``PATCH
  /v5/tools/{id}/log/{log_id}`` (``tools.update``) and ``PATCH /v5/flows/logs/{log_id}``
  (``flows.update_log``): change a stored log. Fields given replace the stored ones; ``null`` or
  an absent field leaves them. A log whose ``log_status`` becomes ``complete`` without an end
  time ends then: Humanloop's manual tracing creates a flow ``incomplete`` and completes it this
  way. A log stored with ``save: false`` stays without content.
- ``GET /v5/logs/{id}`` (``logs.get``): one log.
- ``GET /v5/logs`` (``logs.list``, and promptrail's own filters): newest first, by ``file_id``,
  ``path`` (or folder) and ``trace_id``, a page at a time (``page`` from 1, ``size`` per page,
  ``limit`` the older name of ``size``); ``total`` counts every match, and a page past the end is
  empty, which is where the SDK's pager stops.

Answers are Humanloop's ``LogResponse`` (see :mod:`._humanloop_bodies`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from promptrail._record.models import LogKind, LogRecord
from promptrail.server import _humanloop_bodies as bodies
from promptrail.server._humanloop_bodies import (
    file_counts,
    lenient_body,
    log_response,
    strip_content,
)
from promptrail.server._openapi import error_responses
from promptrail.stores._base import Store, StoreUnavailableError

__all__ = ["ERROR_RESPONSES", "humanloop_router", "json_body"]

ERROR_RESPONSES = error_responses(401, 404, 408, 413, 422, 503)
"""The error answers of the Humanloop routes that take a body, for the OpenAPI schema."""

_TEXT = {"type": ["string", "null"]}
_NUMBER = {"type": ["number", "null"]}
_COUNT = {"type": ["integer", "null"], "minimum": 0}
_OBJECT = {"type": ["object", "null"]}
_MESSAGE = {"type": ["object", "null"], "properties": {"role": {"type": "string"}}}
_STATUS = {"enum": ["complete", "incomplete", None]}
_UPDATE_FIELDS: dict[str, dict[str, Any]] = {
    "output": _TEXT,
    "error": _TEXT,
    "inputs": _OBJECT,
    "log_status": _STATUS,
    "output_message": _MESSAGE,
    "messages": {"type": ["array", "null"], "items": {"type": "object"}},
}
_LOG_UPDATE_FIELDS: dict[str, dict[str, Any]] = {
    **_UPDATE_FIELDS,
    "created_at": {"type": ["string", "null"], "format": "date-time"},
    "start_time": {"type": ["string", "null"], "format": "date-time"},
    "end_time": {"type": ["string", "null"], "format": "date-time"},
    "provider_latency": _NUMBER,
    "stdout": _TEXT,
    "provider_request": _OBJECT,
    "provider_response": _OBJECT,
    "source": _TEXT,
    "metadata": _OBJECT,
}
_PROMPT_UPDATE_FIELDS: dict[str, dict[str, Any]] = {
    **_LOG_UPDATE_FIELDS,
    "prompt_tokens": _COUNT,
    "reasoning_tokens": _COUNT,
    "output_tokens": _COUNT,
    "prompt_cost": _NUMBER,
    "output_cost": _NUMBER,
    "finish_reason": _TEXT,
    "tool_choice": {"type": ["string", "object", "null"]},
}


def json_body(fields: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON object body with ``fields`` (others allowed)."""
    schema = {"title": name, "type": "object", "properties": fields}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _now() -> datetime:
    return datetime.now(UTC)


def _updated(record: LogRecord, changes: dict[str, Any]) -> LogRecord:
    """``record`` with ``changes`` applied (and ended, if it is completed without an end)."""
    body = {**record.model_dump(), **changes}
    if body.get("log_status") == "complete" and body.get("end_time") is None:
        body["end_time"] = _now()
    if record.save is False:
        body = strip_content(body)
    return LogRecord.model_validate(body)


def humanloop_router(
    store: Store,
    *,
    read_body: Callable[[Request, int], Any],
    max_body_bytes: int,
    error: Callable[[int, Any], JSONResponse],
) -> APIRouter:
    """The update and read routes, to include under ``/v5`` (whose key check applies)."""
    router = APIRouter()

    def update(log_id: str, kind: LogKind, raw: bytes) -> JSONResponse:
        """Parse the changes, apply them to the stored log and store it (in a worker thread)."""
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            return error(422, [{"loc": ["body"], "msg": f"invalid JSON: {exc}", "type": "json"}])
        if not isinstance(data, dict):
            return error(422, [{"loc": ["body"], "msg": "expected a JSON object", "type": "type"}])
        try:
            record = store.get(log_id)
            if record is None or record.kind != kind:
                return error(404, f"no {kind} log {log_id!r}")
            changes = lenient_body(store, data, kind)
            for fixed in ("log_id", "kind", "path", "trace_id", "id", "save"):
                changes.pop(fixed, None)
            try:
                new = _updated(record, changes)
            except ValidationError as exc:
                errors = [
                    {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                    for e in exc.errors(include_url=False, include_input=False)
                ]
                return error(422, errors)
            store.update(new)
            return JSONResponse(log_response(new, file_counts(store, [new])))
        except (StoreUnavailableError, sqlite3.OperationalError):
            return error(503, "the store is busy or unavailable")
        except (ValueError, OverflowError) as exc:
            return error(
                422, [{"loc": ["body"], "msg": f"cannot be stored: {exc}", "type": "value_error"}]
            )

    async def patch(request: Request, log_id: str, kind: LogKind) -> JSONResponse:
        raw = await read_body(request, max_body_bytes)
        response = await run_in_threadpool(update, log_id, kind, raw)
        if response.status_code == 503:
            response.headers["Retry-After"] = "1"
        return response

    @router.patch(
        "/prompts/{id}/log/{log_id}",
        responses=ERROR_RESPONSES,
        openapi_extra=json_body(_PROMPT_UPDATE_FIELDS, "PromptLogUpdate"),
    )
    async def update_prompt_log(request: Request, id: str, log_id: str) -> JSONResponse:
        """Update a prompt log (Humanloop's ``prompts.update_log``)."""
        return await patch(request, log_id, "prompt")

    @router.patch(
        "/tools/{id}/log/{log_id}",
        responses=ERROR_RESPONSES,
        openapi_extra=json_body(_LOG_UPDATE_FIELDS, "ToolLogUpdate"),
    )
    async def update_tool_log(request: Request, id: str, log_id: str) -> JSONResponse:
        """Update a tool log (Humanloop's ``tools.update``)."""
        return await patch(request, log_id, "tool")

    @router.patch(
        "/flows/logs/{log_id}",
        responses=ERROR_RESPONSES,
        openapi_extra=json_body(_UPDATE_FIELDS, "FlowLogUpdate"),
    )
    async def update_flow_log(request: Request, log_id: str) -> JSONResponse:
        """Update (e.g. complete) a flow log (Humanloop's ``flows.update_log``)."""
        return await patch(request, log_id, "flow")

    @router.get("/logs/{log_id}", responses=error_responses(401, 404, 422, 503))
    async def get_log(log_id: str) -> JSONResponse:
        """Return one log (Humanloop's ``logs.get``)."""

        def read() -> dict[str, Any] | None:
            record = store.get(log_id)
            return None if record is None else log_response(record, file_counts(store, [record]))

        body = await run_in_threadpool(read)
        if body is None:
            raise HTTPException(404, f"no log {log_id!r}")
        return JSONResponse(body)

    @router.get("/logs", responses=error_responses(401, 422, 503))
    async def list_logs(
        file_id: str | None = None,
        path: str | None = None,
        trace_id: str | None = None,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        size: Annotated[int | None, Query(ge=1, le=1000)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        session_id: str | None = None,
        user: str | None = None,
        tag: Annotated[list[str] | None, Query()] = None,
    ) -> JSONResponse:
        """Return logs, newest first, a page at a time (Humanloop's ``logs.list``).

        ``session_id``, ``user`` and ``tag`` (repeatable: every tag given) narrow the list.
        """
        per_page = size or limit
        body = await run_in_threadpool(
            list_page,
            store,
            file_id=file_id,
            path=path,
            trace_id=trace_id,
            page=page,
            size=per_page,
            session_id=session_id,
            user=user,
            tags=tuple(tag or ()),
        )
        return JSONResponse(body)

    return router


def list_page(
    store: Store,
    *,
    file_id: str | None,
    path: str | None,
    trace_id: str | None,
    page: int,
    size: int,
    session_id: str | None = None,
    user: str | None = None,
    tags: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One page of matching logs and the total, as Humanloop's ``PaginatedDataLogResponse``."""
    kind: str | None = None
    if file_id is not None:
        found = _file(store, file_id)
        if found is None or (path is not None and found[1] != path):
            return {"records": [], "page": page, "size": size, "total": 0}
        kind, path = found
    end = page * size
    matches = store.logs(
        path=path,
        trace_id=trace_id,
        limit=None if kind else end,
        session_id=session_id,
        user=user,
        tags=tags,
    )
    if kind is not None:  # one file: its exact path and kind, not the folder below it
        matches = [r for r in matches if r.kind == kind and r.path == path]
        total = len(matches)
    elif len(matches) < end:
        total = len(matches)
    elif trace_id is None and not (session_id or user or tags):
        total = len(store.log_summaries(path=path))
    else:
        total = len(
            store.logs(
                path=path,
                trace_id=trace_id,
                limit=None,
                session_id=session_id,
                user=user,
                tags=tags,
            )
        )
    records = matches[end - size : end]
    counts = file_counts(store, records)
    return {
        "records": [log_response(r, counts) for r in records],
        "page": page,
        "size": size,
        "total": total,
    }


def _file(store: Store, wanted: str) -> tuple[str, str] | None:
    """The (kind, path) of the stored file whose id is ``wanted``."""
    seen: set[tuple[str, str]] = set()
    for summary in store.log_summaries():
        key = (summary.kind, summary.path)
        if key not in seen:
            seen.add(key)
            if bodies.file_id(*key) == wanted:
                return key
    return None
