"""``ServerThread``: run an ASGI app with uvicorn on a background thread (for tests and demos).

Binds 127.0.0.1 on a free port unless told otherwise; ``stop()`` asks uvicorn to exit and joins
the thread. Starting again on the same port simulates a server restart.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

__all__ = ["ServerThread"]


class ServerThread:
    """An ASGI app served by uvicorn on a daemon thread.

    Args:
        app: The ASGI application.
        host: Interface to bind.
        port: Port; 0 picks a free one (see :attr:`port` once started).
        startup_timeout: Seconds to wait for the server to accept connections.

    Example::

        with ServerThread(create_app(db_path="logs.db", api_keys=["k"])) as server:
            exporter = HttpExporter(base_url=server.url + "/v5", api_key="k")

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 5.0
    ) -> None:
        self._app = app
        self._host = host
        self.port = port
        self._startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's root URL, e.g. ``http://127.0.0.1:8123``."""
        return f"http://{self._host}:{self.port}"

    def start(self) -> ServerThread:
        """Start serving; return once connections are accepted.

        Raises:
            RuntimeError: If the server does not start in time (e.g. the port is taken).
        """
        config = uvicorn.Config(
            self._app,
            host=self._host,
            port=self.port,
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="promptrail-server", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                msg = f"the server did not start on {self._host}:{self.port}"
                raise RuntimeError(msg)
            time.sleep(0.01)
        if self.port == 0:
            self.port = int(server.servers[0].sockets[0].getsockname()[1])
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and wait (at most ``timeout`` seconds) for the thread to end."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
