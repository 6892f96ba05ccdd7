"""The receiver: a Humanloop-compatible log API over promptrail's SQLite store.

Run it with ``promptrail serve`` (needs the ``promptrail[server]`` extra: FastAPI and uvicorn), or
build the ASGI app yourself with :func:`create_app` and serve it with any ASGI server;
:class:`ServerThread` serves it on a background thread (tests, demos). FastAPI and uvicorn are
imported on first use of these names, so importing this package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptrail.server._app import create_app
    from promptrail.server._thread import ServerThread

__all__ = ["ServerThread", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from promptrail.server._app import create_app

        globals()[name] = create_app
        return create_app
    if name == "ServerThread":
        from promptrail.server._thread import ServerThread

        globals()[name] = ServerThread
        return ServerThread
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
