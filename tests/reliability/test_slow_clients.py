"""``promptrail serve`` under slow clients (slowloris) and with a key in a query string.

The server runs as the real command in a child process (bound to 127.0.0.1 on a free port), so
its open-file limit can be lowered and its access log read.
"""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx2
from tests.reliability.conftest import script_env

from promptrail.server import ServerThread, create_app
from promptrail.server._serving import ResourceLogFilter

KEY = "serve-key-0123456789abcdef"
SERVE = """
import resource, sys
nofile = int(sys.argv[1])
if nofile:
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))  # as `ulimit -n` does
from promptrail.cli._main import main
sys.exit(main(["serve", *sys.argv[2:]]))
"""


class Served:
    """A ``promptrail serve`` child process; its output collected as it comes."""

    def __init__(self, db: Path, *options: str, nofile: int = 0) -> None:
        env = script_env()
        env["PROMPTRAIL_SERVER_API_KEYS"] = KEY
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(nofile), "--db", str(db), "--port", "0", *options],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.output: list[str] = []
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._collect, args=(stream,), daemon=True)
            for stream in (self.proc.stdout, self.proc.stderr)
        ]
        for reader in self._readers:
            reader.start()
        self.url = "http://127.0.0.1:" + self.wait_for(r"Uvicorn running on http://[\d.]+:(\d+)")

    def _collect(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._lock:
                self.output.append(line)

    def text(self) -> str:
        """Everything the server has written so far (stdout and stderr)."""
        with self._lock:
            return "".join(self.output)

    def wait_for(self, pattern: str, timeout: float = 15.0) -> str:
        """Wait (bounded) for a line matching ``pattern``; return its first group."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text())
            if found:
                return found.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in the server's output:\n{self.text()}")

    def stop(self) -> None:
        if self.proc.returncode is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        for reader in self._readers:
            reader.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture(name="serve")
def fixture_serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start ``promptrail serve`` children; stop them after the test."""
    started: list[Served] = []

    def start(*options: str, nofile: int = 0) -> Served:
        served = Served(tmp_path / "serve.db", *options, nofile=nofile)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


def open_slow(url: str, count: int) -> list[socket.socket]:
    """Open ``count`` connections that each send half a request head and then nothing."""
    host, port = url.removeprefix("http://").split(":")
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((host, int(port)), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sockets.append(sock)
    return sockets


class TestSlowloris:
    def test_slow_connections_do_not_lock_out_a_normal_client(
        self, serve: Callable[..., Served]
    ) -> None:
        """300 connections that never finish their headers, past a 128-file limit: a normal
        request is still answered within 10 s and the log stays quiet."""
        served = serve(nofile=128)
        slow = open_slow(served.url, 300)
        try:
            started = time.monotonic()
            response = httpx2.get(served.url + "/healthz", timeout=10)
            assert response.status_code == 200
            assert time.monotonic() - started < 10
        finally:
            for sock in slow:
                sock.close()
        served.stop()
        assert "out of system resource" not in served.text()
        assert len(served.text()) < 20_000, served.text()[-2000:]

    def test_headers_not_sent_in_time_close_the_connection(
        self, serve: Callable[..., Served]
    ) -> None:
        """A connection that has not sent its whole request head within the timeout is closed."""
        served = serve("--header-timeout", "0.5")
        (sock,) = open_slow(served.url, 1)
        with sock:
            sock.settimeout(5)
            started = time.monotonic()
            assert sock.recv(1024) == b""  # closed by the server
            assert time.monotonic() - started < 5

    def test_body_not_sent_in_time_is_408(self, tmp_path: Path) -> None:
        """A body trickled slower than ``body_timeout`` gets 408 and the connection is closed."""
        app = create_app(db_path=tmp_path / "b.db", api_keys=[KEY], body_timeout=0.5)
        with ServerThread(app) as server:
            host, port = server.url.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port)), timeout=5) as sock:
                sock.sendall(
                    b"POST /v5/prompts/log HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: "
                    + KEY.encode()
                    + b"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
                )
                started = time.monotonic()
                answer = b""
                while chunk := sock.recv(4096):
                    answer += chunk
                assert answer.startswith(b"HTTP/1.1 408"), answer
                assert time.monotonic() - started < 5


class TestAccessLog:
    def test_query_strings_of_authenticated_routes_are_not_logged(
        self, serve: Callable[..., Served]
    ) -> None:
        """A key sent in the query string never reaches the access log; the path does."""
        served = serve()
        secret = "query-secret-9f8e7d6c5b4a"
        answers = [
            httpx2.get(served.url + f"/v5/logs?api_key={secret}", headers={"X-API-KEY": KEY}),
            httpx2.get(served.url + f"/v5/logs?api_key={secret}"),
            httpx2.post(served.url + f"/v1/traces?key={secret}", content=b"{}"),
            httpx2.get(served.url + f"/v5/traces/x?token={secret}&a=b", headers={"X-API-KEY": KEY}),
        ]
        assert [a.status_code for a in answers] == [200, 401, 401, 404]
        served.wait_for(r'("GET /v5/traces/x HTTP/1.1" 404)')
        log = served.text()
        assert secret not in log
        assert '"GET /v5/logs HTTP/1.1" 200' in log
        assert '"POST /v1/traces HTTP/1.1" 401' in log


class TestOutOfFilesLog:
    def test_accept_loop_errors_are_reported_once_per_interval_with_a_count(self) -> None:
        """1,000 "out of system resource" errors make one line, then one more with the count."""
        logger = logging.getLogger("tests.slow_clients.asyncio")
        logger.propagate = False
        lines: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
        logger.addHandler(handler)
        logger.addFilter(ResourceLogFilter(interval=0.2))
        for _ in range(1_000):
            logger.error("socket.accept() out of system resource")
        logger.error("something else")
        time.sleep(0.3)
        logger.error("socket.accept() out of system resource")
        assert lines == [
            "socket.accept() out of system resource",
            "something else",
            "socket.accept() out of system resource (999 more since the last report)",
        ]
