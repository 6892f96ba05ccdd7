"""The receiver's ASGI app: the "log" endpoints, read endpoints and a health check.

``POST /v5/prompts/log``, ``/v5/flows/log`` and ``/v5/tools/log`` take the bodies
:class:`~promptrail.exporters.HttpExporter` sends (any Humanloop-style client works: ``log_id``,
``trace_id``, ``created_at`` and ``start_time`` are filled in when missing), validate them with
promptrail's own :class:`~promptrail.LogRecord` and store them with
:class:`~promptrail.exporters.SqliteStore`, the store ``SqliteExporter`` writes: one store, two ways
in. Writes are idempotent on ``log_id`` and a child may arrive before its parent.

Everything under ``/v5`` needs a key in ``X-API-KEY`` or ``Authorization: Bearer <key>``
(compared in constant time); ``/healthz`` does not. ``POST /v1/traces`` (and
``/v5/import/otel/v1/traces``) take OTLP/HTTP trace exports, the same keys required: GenAI spans
become logs in the same store (see :mod:`promptrail.server._otlp`). ``/`` is left free: mount a
UI there with ``app.mount("/", other_app)`` after ``create_app()`` (routes declared here are
matched first), or pass ``routes=``. Humanloop's update and read routes (``PATCH`` a log,
``GET /v5/logs`` and ``/v5/logs/{id}``) are in :mod:`promptrail.server._humanloop`, and the
bodies Humanloop's API accepts are read as it does (:mod:`promptrail.server._humanloop_bodies`).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from promptrail._record.humanloop import restore_extras
from promptrail._record.models import LogKind, LogRecord
from promptrail._runtime.ids import DEFAULT_IDS, next_seq
from promptrail.exceptions import ConfigurationError
from promptrail.server._humanloop import humanloop_router
from promptrail.server._humanloop_bodies import created, lenient_body
from promptrail.server._openapi import (
    batch_body,
    error_responses,
    install_openapi,
    log_body,
    no_key,
)
from promptrail.server._otlp import add_otlp_routes
from promptrail.server._otlp_logs import add_otlp_log_routes
from promptrail.stores._base import Store, StoreUnavailableError
from promptrail.stores._open import open_store
from promptrail.stores._sqlite import default_db_path

__all__ = ["DEFAULT_BODY_TIMEOUT", "DEFAULT_MAX_BODY_BYTES", "RETRY_AFTER_SECONDS", "create_app"]

DEFAULT_MAX_BODY_BYTES = 1_048_576
"""The largest request body accepted (1 MiB); larger bodies get 413."""

DEFAULT_BODY_TIMEOUT = 30.0
"""Seconds a client may take to send a whole request body; slower bodies get 408."""

RETRY_AFTER_SECONDS = 1
"""What a 503 (the store is locked, down or restarting) asks clients to wait, in seconds."""


def _api_keys(api_keys: Iterable[str] | None) -> tuple[bytes, ...]:
    if api_keys is None:
        api_keys = os.environ.get("PROMPTRAIL_SERVER_API_KEYS", "").split(",")
    keys = tuple(k.strip().encode() for k in api_keys if k and k.strip())
    if not keys:
        msg = (
            "the receiver needs at least one API key: pass api_keys= or set "
            "PROMPTRAIL_SERVER_API_KEYS (comma-separated)"
        )
        raise ConfigurationError(msg)
    return keys


def _error(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _read_body(request: Request, limit: int, timeout: float = DEFAULT_BODY_TIMEOUT) -> bytes:
    """Return the request body; 413 once it exceeds ``limit``, 408 if slower than ``timeout``.

    A client trickling a body holds a connection and a task (slowloris): the whole body must
    arrive within ``timeout`` seconds.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise HTTPException(400, "invalid Content-Length header") from None
        if too_big:
            raise HTTPException(413, f"request body larger than {limit} bytes")
    # The declared length may be absent (chunked) or wrong: count what actually arrives.
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"request body larger than {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        detail = f"request body not received within {timeout:g} seconds"
        raise HTTPException(408, detail, headers={"Connection": "close"}) from None
    return b"".join(chunks)


def _validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    # Only where and what: the offending input is not echoed (it may hold anything).
    return [
        {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def _unstorable(msg: str) -> dict[str, Any]:
    return {"loc": ["body"], "msg": msg, "type": "value_error"}


def _tree(records: Sequence[LogRecord]) -> list[dict[str, Any]]:
    """Nest the logs of a trace: each body gets ``children`` (in start order).

    Logs whose parent is not stored are roots, so a partial trace still shows.
    """
    nodes = {r.log_id: {**r.to_body(), "children": []} for r in records}
    roots: list[dict[str, Any]] = []
    for record in records:
        node = nodes[record.log_id]
        parent = nodes.get(record.trace_parent_id or "")
        (parent["children"] if parent is not None else roots).append(node)
    return roots


def _unavailable(detail: str) -> JSONResponse:
    return _error(503, detail, {"Retry-After": str(RETRY_AFTER_SECONDS)})


def create_app(
    *,
    db_path: str | os.PathLike[str] | Store | None = None,
    api_keys: Iterable[str] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    routes: Sequence[BaseRoute] = (),
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
) -> FastAPI:
    """Build the receiver's ASGI app.

    Args:
        db_path: The store: a ``postgresql://`` URL (needs ``promptrail[postgres]``; migrations
            are applied), a SQLite path (created if missing) or an open store.
            ``app.state.store`` is it. Default: ``$PROMPTRAIL_DB``, else ``promptrail.db``, as
            for :class:`~promptrail.exporters.SqliteExporter`.
        api_keys: Keys accepted in ``X-API-KEY`` (or ``Authorization: Bearer``). Default:
            ``$PROMPTRAIL_SERVER_API_KEYS`` (comma-separated).
        max_body_bytes: The largest request body accepted; larger ones get 413.
        routes: Extra Starlette routes (e.g. ``Mount("/", viewer)``) added after the API's, so
            the API keeps its paths. ``app.mount("/", viewer)`` after this call does the same.
        body_timeout: Seconds a client may take to send a request body; slower ones get 408.

    Returns:
        The FastAPI application.

    Raises:
        ConfigurationError: If no API key is configured, or ``max_body_bytes`` or
            ``body_timeout`` is not positive.

    .. versionadded:: 0.1.0
    """
    keys = _api_keys(api_keys)
    if max_body_bytes < 1:
        msg = f"max_body_bytes must be positive, not {max_body_bytes!r}"
        raise ConfigurationError(msg)
    if not body_timeout > 0:
        msg = f"body_timeout must be positive, not {body_timeout!r}"
        raise ConfigurationError(msg)
    read_body = functools.partial(_read_body, timeout=body_timeout)
    if db_path is None or isinstance(db_path, (str, os.PathLike)):
        store = open_store(default_db_path() if db_path is None else db_path)
        store.count()  # create the file and schema now: a bad path fails here, not on a request
    else:
        store = db_path

    def key_ok(headers: Mapping[str, str]) -> bool:
        given = _given_key(headers)
        # Compare against every key, always: the time taken does not depend on which matched.
        matched = False
        for key in keys:
            matched |= hmac.compare_digest(given, key)
        return matched

    def require_key(request: Request) -> None:
        if not key_ok(request.headers):
            raise HTTPException(401, "missing or invalid API key (X-API-KEY header)")

    app = FastAPI(
        title="promptrail receiver",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, under /v5 and its key like every other /v5 route
    )
    app.state.store = store

    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        return _unavailable(f"the store is unavailable: {exc}")

    # Reads too: a database that is down or restarting is a 503 the client may retry.
    app.add_exception_handler(StoreUnavailableError, store_unavailable)
    api = APIRouter(prefix="/v5", dependencies=[Depends(require_key)])

    def accept(raw: bytes, kind: LogKind, query: Any) -> LogRecord | JSONResponse:
        """Parse, complete, validate and store one log, in a worker thread.

        All of it is CPU or SQLite work: done on the event loop, a large body would stall every
        other request while it is parsed.
        """
        try:
            data = json.loads(raw)
        except RecursionError:
            return _error(422, [{"loc": ["body"], "msg": "JSON nested too deeply", "type": "json"}])
        except ValueError as exc:
            return _error(422, [{"loc": ["body"], "msg": f"invalid JSON: {exc}", "type": "json"}])
        if not isinstance(data, dict):
            return _error(422, [{"loc": ["body"], "msg": "expected a JSON object", "type": "type"}])
        try:
            try:
                record = LogRecord.model_validate(_complete(store, data, kind, query))
            except ValidationError as exc:
                return _error(422, _validation_errors(exc))
            store.insert([record])
        except (StoreUnavailableError, sqlite3.OperationalError):
            # Locked past the busy timeout, or the database is down: nothing was stored and
            # nothing acknowledged; the client retries (HttpExporter spools meanwhile).
            return _unavailable("the store is busy or unavailable")
        except (ValueError, OverflowError, RecursionError) as exc:
            # A body valid in shape that cannot be written: a lone surrogate, nested deeper
            # than the encoder goes, or a number too large for the store.
            text = str(exc)
            if isinstance(exc, UnicodeError) or "surrogate" in text:
                reason = "text holds a lone surrogate (\\ud800-\\udfff)"
            elif isinstance(exc, RecursionError) or "depth" in text:
                reason = "nested too deeply"
            else:
                reason = "a value out of range"
            return _error(422, [_unstorable(f"the log cannot be stored: {reason}")])
        return record

    async def receive(request: Request, kind: LogKind) -> JSONResponse:
        raw = await read_body(request, max_body_bytes)
        record = await run_in_threadpool(accept, raw, kind, request.query_params)
        if isinstance(record, JSONResponse):
            return record
        return JSONResponse(created(record))

    writes: dict[str, Any] = {
        "responses": error_responses(400, 401, 408, 413, 422, 503),
        "openapi_extra": log_body(),
    }

    @api.post("/prompts/log", **writes)
    async def log_prompt(request: Request) -> JSONResponse:
        """Store a prompt log."""
        return await receive(request, "prompt")

    @api.post("/flows/log", **writes)
    async def log_flow(request: Request) -> JSONResponse:
        """Store a flow (trace) log."""
        return await receive(request, "flow")

    @api.post("/tools/log", **writes)
    async def log_tool(request: Request) -> JSONResponse:
        """Store a tool log."""
        return await receive(request, "tool")

    @api.post(
        "/logs/batch",
        responses=error_responses(400, 401, 408, 413, 422, 503),
        openapi_extra=batch_body(),
    )
    async def log_batch(request: Request) -> JSONResponse:
        """Store many logs; answer one result per log, in order (see :func:`accept_batch`)."""
        raw = await read_body(request, max_body_bytes)
        return await run_in_threadpool(accept_batch, store, raw, request.query_params)

    @api.post("/evaluators/log", **writes)
    async def log_evaluator(request: Request) -> JSONResponse:
        """Store a score: an evaluator log whose ``parent_id`` is the judged log."""
        return await receive(request, "evaluator")

    @api.get("/traces/{trace_id}", responses=error_responses(401, 404, 422, 503))
    async def get_trace(trace_id: str) -> JSONResponse:
        """Return one trace as a tree of logs (``children`` nested, in start order)."""
        records = await run_in_threadpool(store.trace, trace_id)
        if not records:
            raise HTTPException(404, f"no trace {trace_id!r}")
        return JSONResponse({"trace_id": trace_id, "logs": _tree(records)})

    api.include_router(
        humanloop_router(store, read_body=read_body, max_body_bytes=max_body_bytes, error=_error)
    )

    @api.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        """Return the OpenAPI schema of this API (needs a key, like all of ``/v5``)."""
        return JSONResponse(app.openapi())

    app.include_router(api)

    @app.get("/healthz", openapi_extra=no_key())
    async def healthz() -> dict[str, str]:
        """Say the server is up (no key needed)."""
        return {"status": "ok"}

    join = add_otlp_log_routes(
        app, store=store, key_ok=key_ok, read_body=read_body, max_body_bytes=max_body_bytes
    )
    add_otlp_routes(
        app,
        store=store,
        key_ok=key_ok,
        read_body=read_body,
        max_body_bytes=max_body_bytes,
        join=join,
    )
    app.router.routes.extend(routes)
    install_openapi(app)
    return app


def accept_batch(store: Store, raw: bytes, query: Any) -> JSONResponse:
    """Parse and store ``{"logs": [log, ...]}``; answer ``{"results": [...]}`` in the same order.

    Each log is a body of ``/prompts|flows|tools/log`` with its ``kind``. Its result is
    ``{"status": 200, "id": ..., "trace_id": ..., "result": "created"}`` when stored, with
    ``"result": "duplicate"`` when it was stored already (delivery is idempotent by ``log_id``),
    ``{"status": 422, "detail": ...}`` when invalid, ``{"status": 503, ...}`` when the store was
    busy (retry it). A bad log never fails its neighbours: the valid logs are written in
    one transaction, and if that fails, one by one.
    """
    try:
        data = json.loads(raw)
    except ValueError as exc:
        return _error(422, [{"loc": ["body"], "msg": f"invalid JSON: {exc}", "type": "json"}])
    logs = data.get("logs") if isinstance(data, dict) else None
    if not isinstance(logs, list):
        msg = 'expected {"logs": [...]}'
        return _error(422, [{"loc": ["body", "logs"], "msg": msg, "type": "type"}])
    results: list[dict[str, Any]] = []
    valid: list[tuple[int, LogRecord]] = []
    for index, item in enumerate(logs):
        kind = item.get("kind", "prompt") if isinstance(item, dict) else None
        if not isinstance(item, dict) or kind not in ("prompt", "flow", "tool", "evaluator"):
            results.append({"status": 422, "detail": "expected a log object with a valid kind"})
            continue
        try:
            record = LogRecord.model_validate(_complete(store, item, kind, query))
        except ValidationError as exc:
            results.append({"status": 422, "detail": _validation_errors(exc)})
            continue
        except (StoreUnavailableError, sqlite3.Error):
            results.append({"status": 503, "detail": "the store is busy or unavailable"})
            continue
        results.append({"status": 200, "id": record.log_id, "trace_id": record.trace_id})
        valid.append((index, record))
    _store_each(store, valid, results)
    return JSONResponse({"results": results})


def _store_each(
    store: Store, valid: Sequence[tuple[int, LogRecord]], results: list[dict[str, Any]]
) -> None:
    """Write ``valid`` in one transaction; if that fails, one by one, marking each failure.

    Each stored log's result says ``"created"`` (new) or ``"duplicate"`` (already stored: a
    re-send whose first answer was lost).
    """
    try:
        done = store.insert([record for _, record in valid])
    except (StoreUnavailableError, sqlite3.OperationalError):  # the client retries them
        for index, _ in valid:
            results[index] = {"status": 503, "detail": "the store is busy or unavailable"}
    except Exception:  # isolated below, record by record
        for index, record in valid:
            try:
                (one,) = store.insert([record])
                results[index]["result"] = one.status
            except (StoreUnavailableError, sqlite3.OperationalError):
                results[index] = {"status": 503, "detail": "the store is busy or unavailable"}
            except Exception as exc:  # a value the store cannot hold
                detail = f"the store cannot hold this log: {type(exc).__name__}"
                results[index] = {"status": 422, "detail": detail}
    else:
        for (index, _), inserted in zip(valid, done, strict=True):
            results[index]["result"] = inserted.status


def _given_key(headers: Mapping[str, str]) -> bytes:
    """The key in ``X-API-KEY``, else in ``Authorization: Bearer <key>`` (OTLP exporters)."""
    key = headers.get("x-api-key")
    if key is None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else ""
    return key.encode()


def _complete(store: Store, data: dict[str, Any], kind: LogKind, query: Any) -> dict[str, Any]:
    """Fill what a Humanloop-style client may leave out; the endpoint decides the kind."""
    # promptrail's fields sent in a Humanloop-shaped body, then what Humanloop's API accepts.
    data = lenient_body(store, restore_extras(data), kind)
    data["kind"] = kind
    for name in ("version_id", "environment"):
        if data.get(name) is None and query.get(name):
            data[name] = query.get(name)
    now = datetime.now(UTC).isoformat()
    data.setdefault("created_at", now)
    data.setdefault("start_time", data.get("created_at") or now)
    if data.get("log_id") is None:
        data["log_id"] = DEFAULT_IDS.format_id(time.time_ns(), next_seq())
    if kind == "evaluator" and data.get("trace_parent_id") is None:
        data["trace_parent_id"] = data.get("parent_id")  # a Humanloop client's score
    if data.get("trace_id") is None:
        parent = data.get("trace_parent_id")
        trace_id = data["log_id"]
        if isinstance(parent, str):
            # The parent's trace if it is stored, else the parent's id (a best guess for a
            # client that sends a child first and no trace_id).
            stored = store.get(parent)
            trace_id = stored.trace_id if stored is not None else parent
        data["trace_id"] = trace_id
    return data
