"""The trace viewer web page: a static page plus the small read-only JSON routes it calls.

``create_web_app(store)`` returns a Starlette app that serves, at ``/``, a single page (vendored
HTML, CSS and JavaScript; no CDN, no build step) listing recent traces and showing one trace as a
waterfall with a detail panel per log. The page polls ``ui/api/cursor`` and refreshes when logs
are added. All URLs in the page are relative, so the app can be mounted under any prefix::

    app.mount("/", create_web_app(store))  # after the receiver's own routes

Everything is read-only (GET only). Log content is untrusted: the page inserts it with
``textContent`` only, and a Content-Security-Policy forbids inline script as a second fence.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from promptrail.stores._base import Store, StoreUnavailableError, TraceSummary
from promptrail.stores._query import parse_since

__all__ = ["create_web_app", "web_routes"]

_MAX_LIMIT = 500
_STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_API_HEADERS = {**_HEADERS, "Cache-Control": "no-store"}


def _asset(name: str) -> bytes:
    return (
        importlib.resources.files("promptrail.server")
        .joinpath("static")
        .joinpath(name)
        .read_bytes()
    )


def _summary(summary: TraceSummary) -> dict[str, Any]:
    return summary._asdict()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_API_HEADERS)


def web_routes(store: Store) -> list[BaseRoute]:
    """Return the viewer's routes (the page, its assets and its JSON reads) over ``store``.

    Args:
        store: The store to read (opened with ``create=False`` by callers that only read).

    Returns:
        Starlette routes: ``/``, ``/ui/static/{name}``, ``/ui/api/cursor``,
        ``/ui/api/traces`` (filters: ``path``, ``errors``, ``since``, ``session_id``, ``user``,
        ``tag``), ``/ui/api/traces/{trace_id}`` and ``/ui/api/sessions/{session_id}`` (a
        session's traces, oldest first: one conversation).

    .. versionadded:: 0.1.0
    """
    index = _asset("index.html")
    assets = {name: (_asset(name), media) for name, media in _STATIC.items()}

    def page(request: Request) -> Response:
        return Response(index, media_type="text/html; charset=utf-8", headers=_HEADERS)

    def static(request: Request) -> Response:
        found = assets.get(request.path_params["name"])
        if found is None:
            return Response(b"not found", status_code=404, headers=_HEADERS)
        body, media = found
        return Response(body, media_type=media, headers=_HEADERS)

    def cursor(request: Request) -> Response:
        return JSONResponse({"cursor": store.cursor()}, headers=_API_HEADERS)

    def traces(request: Request) -> Response:
        query = request.query_params
        try:
            limit = min(max(int(query.get("limit", "50")), 1), _MAX_LIMIT)
            since = parse_since(query["since"]) if query.get("since") else None
        except ValueError as exc:
            return _error(400, str(exc))
        position = store.cursor()
        ids = store.recent_trace_ids(
            limit,
            path=query.get("path") or None,
            errors_only=query.get("errors") in ("1", "true", "on"),
            since=since,
            session_id=query.get("session_id") or None,
            user=query.get("user") or None,
            tags=[tag for tag in query.getlist("tag") if tag],
        )
        body = {"cursor": position, "traces": [_summary(s) for s in store.trace_summaries(ids)]}
        return JSONResponse(body, headers=_API_HEADERS)

    def session(request: Request) -> Response:
        # One conversation: the session's traces, oldest first (its turns in order).
        session_id = request.path_params["session_id"]
        position = store.cursor()
        ids = store.recent_trace_ids(_MAX_LIMIT, session_id=session_id)
        if not ids:
            return _error(404, f"no session {session_id}")
        summaries = [_summary(s) for s in reversed(store.trace_summaries(ids))]
        body = {"cursor": position, "session_id": session_id, "traces": summaries}
        return JSONResponse(body, headers=_API_HEADERS)

    def trace(request: Request) -> Response:
        trace_id = request.path_params["trace_id"]
        position = store.cursor()
        records = store.trace(trace_id)
        if not records:
            return _error(404, f"no trace {trace_id}")
        body = {
            "cursor": position,
            "trace_id": trace_id,
            "logs": [record.to_body() for record in records],
        }
        return JSONResponse(body, headers=_API_HEADERS)

    return [
        Route("/", page, methods=["GET"]),
        Route("/ui/static/{name}", static, methods=["GET"]),
        Route("/ui/api/cursor", cursor, methods=["GET"]),
        Route("/ui/api/traces", traces, methods=["GET"]),
        Route("/ui/api/traces/{trace_id:path}", trace, methods=["GET"]),
        Route("/ui/api/sessions/{session_id:path}", session, methods=["GET"]),
    ]


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
"""The names a browser on this machine uses for a server bound to loopback."""


def create_web_app(store: Store, *, allowed_hosts: Sequence[str] | None = None) -> Starlette:
    """Return the trace viewer as a Starlette app over ``store`` (mountable at any prefix).

    Args:
        store: The store to read.
        allowed_hosts: The ``Host`` names served (the bound address and any configured name);
            other hosts get 400. The viewer needs no key, so without this check a web page
            whose name resolves to this machine (DNS rebinding) could read every trace.
            ``None`` checks nothing (for an app mounted behind another host check).

    .. versionadded:: 0.1.0
    """
    middleware = []
    if allowed_hosts is not None:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    return Starlette(
        routes=web_routes(store),
        middleware=middleware,
        exception_handlers={StoreUnavailableError: _unavailable},
    )


async def _unavailable(request: Request, exc: Exception) -> Response:
    response = _error(503, f"the store is unavailable: {exc}")
    response.headers["Retry-After"] = "1"
    return response
