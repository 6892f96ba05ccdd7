"""Serving an app with uvicorn, guarded against slow clients (``promptrail serve`` and ``ui``).

uvicorn alone waits forever for a request's headers and accepts connections until the process runs
out of file descriptors, at which point every other client waits and the accept loop logs "Too
many open files" as fast as it retries (slowloris). :func:`serve` adds:

- a header deadline: a connection that has not sent a whole request head within
  ``header_timeout`` seconds of connecting (or of its previous response) is closed;
- the soft open-file limit raised to the hard one, and a connection limit below it: past it, the
  connection that has waited longest for its headers (or idled longest between requests) is closed
  to make room, so clients that send their request promptly are still served; asyncio accepts
  few connections per turn of the loop (the kernel still queues many), so a burst of connections
  cannot run the process out of descriptors before the limit evicts;
- a connection whose response is complete while it is still sending a body the app did not read
  is closed (the app bounds body reads itself: see ``_read_body`` in :mod:`promptrail.server._app`);
- access log lines without the query string of authenticated routes (a key sent as ``?api_key=``
  is not written to the log), and the accept loop's out-of-descriptors error at most once per
  :data:`RESOURCE_LOG_INTERVAL` seconds, with a count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import socket
import threading
import time
from typing import Any, NamedTuple

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "DEFAULT_HEADER_TIMEOUT",
    "KEEP_ALIVE_TIMEOUT",
    "RESOURCE_LOG_INTERVAL",
    "AccessLogFilter",
    "Limits",
    "ResourceLogFilter",
    "connection_limits",
    "raise_open_file_limit",
    "serve",
]

DEFAULT_HEADER_TIMEOUT = 10.0
"""Seconds a connection may take to send a whole request head."""

KEEP_ALIVE_TIMEOUT = 5
"""Seconds an idle keep-alive connection is kept."""

MAX_HEAD_BYTES = 16 * 1024
"""The largest request line plus headers accepted (h11's buffer for an incomplete head)."""

RESOURCE_LOG_INTERVAL = 60.0
"""Seconds between two "out of system resource" log lines from the accept loop."""

AUTHENTICATED_PREFIXES = ("/v5/", "/v1/")
"""Paths whose query string never reaches the access log (a key may be in it)."""

_log = logging.getLogger("promptrail.server")


class Limits(NamedTuple):
    """How many connections :func:`serve` holds at once, and how many it accepts in one go."""

    max_connections: int
    backlog: int


def raise_open_file_limit(ceiling: int = 65_536) -> None:
    """Raise this process's soft open-file limit to its hard limit (at most ``ceiling``).

    The soft limit is often 1,024 while the hard one is far higher; a server may take what it is
    allowed (as nginx and Go programs do).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = ceiling if hard == resource.RLIM_INFINITY else min(hard, ceiling)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _open_files() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux
        return 32


def connection_limits() -> Limits:
    """Connections served at once and accepted per loop turn, from the open-file limit.

    Descriptors not already open are shared: a quarter (at least 64) is kept spare for the
    store, the thread pool and the connections accepted but not yet evicted, the rest is for
    connections. asyncio accepts up to ``backlog`` sockets in one turn before any is handed to
    the protocol (which evicts past the limit), so the backlog is an eighth of the spare: with
    connections held under the limit, ``accept()`` never fails for want of a descriptor.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 65_536
    available = max(0, soft - _open_files())
    spare = max(64, available // 4)
    connections = max(8, min(4096, available - spare))
    return Limits(connections, max(8, min(2048, spare // 8)))


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline and a connection limit that evicts stalls.

    Set :attr:`header_timeout` and :attr:`max_connections` on a subclass (see :func:`serve`).
    """

    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    max_connections: int = 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self.waiting_since: float | None = None  # waiting for a request head since (loop time)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()
        self._make_room()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._track_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.SEND_BODY:
            # Answered while the client still sends a body nobody reads: do not wait for it.
            self.transport.close()
            return
        self._track_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_received()
        super().connection_lost(exc)

    def _track_head(self) -> None:
        if self.transport.is_closing():
            self._head_received()
        elif self.conn.their_state is h11.IDLE:
            if self._head_timer is None:
                self._await_head()
        else:
            self._head_received()

    def _await_head(self) -> None:
        self.waiting_since = self.loop.time()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _head_received(self) -> None:
        self.waiting_since = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def _make_room(self) -> None:
        """Past the limit, close the connection that has waited longest for a request head."""
        if len(self.connections) <= self.max_connections:
            return
        stalled = [
            c
            for c in self.connections
            if isinstance(c, GuardedH11Protocol)
            and c is not self
            and c.waiting_since is not None
            and not c.transport.is_closing()
        ]
        victim = min(stalled, key=lambda c: c.waiting_since or 0.0) if stalled else self
        victim._head_received()
        victim.transport.close()


class AccessLogFilter(logging.Filter):
    """Drop the query string from access log lines of authenticated routes (it may hold a key)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, _, query = args[2].partition("?")
            if query and path.startswith(AUTHENTICATED_PREFIXES):
                record.args = (*args[:2], path, *args[3:])
        return True


class ResourceLogFilter(logging.Filter):
    """Let the accept loop's "out of system resource" error through once per ``interval``.

    The next line that passes says how many were held back.
    """

    def __init__(self, interval: float = RESOURCE_LOG_INTERVAL) -> None:
        super().__init__()
        self._interval = interval
        self._next = 0.0
        self._held = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        # asyncio retries accept() a second later, once per failed accept of the burst; at
        # shutdown each pending retry fails again ("Invalid file descriptor"): the same event.
        if "out of system resource" not in text and "._start_serving(" not in text:
            return True
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                self._held += 1
                return False
            self._next = now + self._interval
            held, self._held = self._held, 0
        if held:
            record.msg = f"{record.msg} ({held} more since the last report)"
        return True


def serve(
    app: Any,
    *,
    host: str,
    port: int,
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    max_connections: int | None = None,
    log_level: str = "info",
) -> None:
    """Serve ``app`` with uvicorn until interrupted, with the guards described above."""
    raise_open_file_limit()
    limits = connection_limits()
    limit = limits.max_connections if max_connections is None else max_connections
    protocol = type(
        "PromptrailH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout": header_timeout, "max_connections": limit},
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=protocol,
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        # Requests in progress at once; past it uvicorn answers 503. Connections are bounded
        # (and stalled ones evicted) by the protocol above.
        limit_concurrency=2 * limit,
        backlog=limits.backlog,
    )
    # After Config: it (re)configures uvicorn's loggers, and filters must come after that.
    for name, kind in (("uvicorn.access", AccessLogFilter), ("asyncio", ResourceLogFilter)):
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())
    _Server(config).run()


LISTEN_BACKLOG = 2048
"""Connections the kernel queues until they are accepted (uvicorn's default)."""


class _Server(uvicorn.Server):
    """uvicorn's server, its kernel listen queue kept long while asyncio accepts in small turns.

    asyncio uses one number both for ``listen()`` and for how many sockets it accepts in one turn
    of the loop; :func:`serve` passes the small one, and this listens again with the long one.
    """

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        for server in self.servers:
            for listening in server.sockets:
                with socket.socket(fileno=os.dup(listening.fileno())) as same:
                    same.listen(LISTEN_BACKLOG)
