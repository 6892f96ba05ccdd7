"""Opt-in glue for one trace across services: ASGI and WSGI middleware, httpx2 and requests hooks.

The middleware reads an incoming request's ``traceparent``/``baggage`` (:func:`extract`), so logs
made while handling it nest under the calling service's log; the hooks write them into outgoing
requests (:func:`inject`). No web framework is imported; ``requests`` only by
:func:`requests_adapter`, when called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from promptrail._tracing.remote import extract, inject

__all__ = [
    "PromptrailASGIMiddleware",
    "PromptrailWSGIMiddleware",
    "httpx_hooks",
    "requests_adapter",
    "requests_session",
]


class PromptrailASGIMiddleware:
    """ASGI middleware: each HTTP or WebSocket request continues the caller's trace.

    ``app.add_middleware(PromptrailASGIMiddleware)`` (FastAPI, Starlette) or
    ``PromptrailASGIMiddleware(app)`` around any ASGI app.

    .. versionadded:: 0.2.0
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        async with extract(scope.get("headers") or ()):
            await self.app(scope, receive, send)


class PromptrailWSGIMiddleware:
    """WSGI middleware: each request continues the caller's trace.

    Flask: ``app.wsgi_app = PromptrailWSGIMiddleware(app.wsgi_app)``.

    Logs made while the app builds its response nest; a streamed body's later chunks do not.

    .. versionadded:: 0.2.0
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        # Every request header: with the OTel bridge on, its propagators may read others.
        headers = [
            (key[5:].replace("_", "-").lower(), value)
            for key, value in environ.items()
            if key.startswith("HTTP_") and isinstance(value, str)
        ]
        with extract(headers):
            return self.app(environ, start_response)


def _inject_request(request: Any) -> None:
    inject(request.headers)


async def _inject_request_async(request: Any) -> None:
    inject(request.headers)


def httpx_hooks(*, asynchronous: bool = False) -> dict[str, list[Callable[[Any], Any]]]:
    """``event_hooks`` for an httpx2 client whose requests carry the current trace.

    ``httpx2.Client(event_hooks=httpx_hooks())`` or
    ``httpx2.AsyncClient(event_hooks=httpx_hooks(asynchronous=True))``.

    .. versionadded:: 0.2.0
    """
    hook: Callable[[Any], Any] = _inject_request_async if asynchronous else _inject_request
    return {"request": [hook]}


def requests_adapter(**options: Any) -> Any:
    """A ``requests`` transport adapter whose requests carry the current trace.

    ``session.mount("https://", requests_adapter(max_retries=3))``: an ``HTTPAdapter`` (``options``
    are its arguments) that calls :func:`inject` on each request it sends, retries included.
    See :func:`requests_session` for the common case.

    .. versionadded:: 0.2.0
    """
    from requests.adapters import HTTPAdapter  # the optional dependency, imported on use

    class PromptrailHTTPAdapter(HTTPAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            inject(request.headers)
            return super().send(request, *args, **kwargs)

    return PromptrailHTTPAdapter(**options)


def requests_session(session: Any = None) -> Any:
    """Return ``session`` (default: a new ``requests.Session``) carrying the current trace.

    Mounts :func:`requests_adapter` for ``http://`` and ``https://``, so every request the session
    sends has the ``traceparent`` and ``baggage`` :func:`inject` writes.

    .. versionadded:: 0.2.0
    """
    if session is None:
        import requests  # the optional dependency, imported on use

        session = requests.Session()
    for prefix in ("http://", "https://"):
        session.mount(prefix, requests_adapter())
    return session
