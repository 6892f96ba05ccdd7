"""Shared fixtures: every test starts from promptrail's defaults, in a scratch directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import promptrail
from promptrail.exporters import InMemoryExporter
from promptrail.testing import reset

pytest_plugins = ["tests.fixtures.postgres", "tests.fixtures.sdk", "tests.fixtures.traces"]

SRC = Path(__file__).resolve().parents[1] / "src"


def pytest_configure(config: pytest.Config) -> None:
    """Make promptrail re-raise its own internal errors so no bug hides in this suite."""
    os.environ["PROMPTRAIL_RAISE_INTERNAL_ERRORS"] = "1"


@pytest.fixture(autouse=True)
def _reset_promptrail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run each test in its own directory with a fresh pipeline, and reset afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTRAIL_DB", str(tmp_path / "default.db"))
    reset()
    yield
    reset()


@pytest.fixture(name="memory")
def fixture_memory() -> InMemoryExporter:
    """An in-memory exporter fed synchronously (records are there as soon as a call ends)."""
    exporter = InMemoryExporter()
    promptrail.configure(processors=[promptrail.SimpleProcessor(exporter)])
    return exporter


@pytest.fixture(name="free_port")
def fixture_free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (probably, for a short while)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(name="busy_port")
def fixture_busy_port() -> Iterator[int]:
    """A port of 127.0.0.1 that a socket listens on for the whole test."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        yield int(taken.getsockname()[1])


class Served:
    """A ``promptrail serve`` subprocess; :meth:`stop` ends it and returns its output."""

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._output: str | None = None

    def stop(self) -> str:
        """Terminate the server (once) and return everything it printed."""
        if self._output is None:
            self.process.terminate()
            try:
                self._output = self.process.communicate(timeout=5)[0].decode()
            except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
                self.process.kill()
                self._output = self.process.communicate(timeout=5)[0].decode()
        return self._output


@pytest.fixture(name="serve_command")
def fixture_serve_command(free_port: int) -> Iterator[Callable[..., Served]]:
    """Start ``promptrail serve`` (this checkout's source) on a free port; wait for /healthz.

    ``serve_command(*args, keys=...)`` passes ``args`` after ``serve --port <port>`` and the keys
    in ``PROMPTRAIL_SERVER_API_KEYS``. Every server started is stopped at teardown.
    """
    import httpx2

    started: list[Served] = []

    def start(*args: str, keys: str) -> Served:
        env = {**os.environ, "PROMPTRAIL_SERVER_API_KEYS": keys, "PYTHONPATH": str(SRC)}
        env.pop("PYTEST_CURRENT_TEST", None)
        env.pop("PROMPTRAIL_RAISE_INTERNAL_ERRORS", None)
        cmd = [sys.executable, "-m", "promptrail", "serve", "--port", str(free_port), *args]
        process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        served = Served(process, free_port)
        started.append(served)
        deadline = time.monotonic() + 8
        while True:
            try:
                if httpx2.get(served.url + "/healthz").status_code == 200:
                    return served
            except httpx2.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"promptrail serve did not start: {served.stop()}")
                time.sleep(0.05)

    yield start
    for served in started:
        served.stop()
