"""The HTTP rows of the fault matrix: HttpExporter in the real pipeline, a real receiver, faults.

Everything goes through ``promptrail.configure(exporters=[HttpExporter(...)])``, decorated calls
and ``promptrail.flush(timeout)``; the receiver is uvicorn on 127.0.0.1 (``ServerThread``) behind
an ASGI middleware that injects scripted answers. Backoffs are short so every test is bounded.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx2

import promptrail
from promptrail.exporters import HttpExporter
from promptrail.exporters._spool import Spool
from promptrail.server import ServerThread, create_app

KEY = "live-key-7f3a9c"

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]


class Faults:
    """ASGI middleware in front of the receiver: records every POST and injects scripted faults.

    Each script entry is ``(status, headers, store)``: answer ``status`` instead of the app, or,
    when ``store`` is true, let the app store the log and then replace its answer (a lost
    response).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.script: list[tuple[int, dict[str, str], bool]] = []
        self.posted: list[str] = []
        self.times: list[float] = []  # time.monotonic() of each POST's arrival
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        with self.lock:
            self.posted.append(json.loads(raw).get("output", "?"))
            self.times.append(time.monotonic())
            fault = self.script.pop(0) if self.script else None
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:  # pragma: no cover - the app reads the body once
                return {"type": "http.disconnect"}
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}

        if fault is None:
            await self.app(scope, replay, send)
            return
        status, headers, store = fault
        if store:

            async def discard(message: Message) -> None:
                pass

            await self.app(scope, replay, discard)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": b'{"detail": "injected fault"}'})


@pytest.fixture(name="db")
def fixture_db(tmp_path: Path) -> Path:
    """The receiver's SQLite file."""
    return tmp_path / "received.db"


@pytest.fixture(name="faults")
def fixture_faults(db: Path) -> Faults:
    """The receiver app behind the fault injector."""
    return Faults(create_app(db_path=db, api_keys=[KEY]))


@pytest.fixture(name="server")
def fixture_server(faults: Faults) -> Iterator[ServerThread]:
    """The receiver served by uvicorn on a free port."""
    with ServerThread(faults) as server:
        yield server


def exporter_for(url: str, tmp_path: Path, **options: Any) -> HttpExporter:
    """An exporter with short backoff and its spool in tmp_path."""
    options.setdefault("api_key", KEY)
    options.setdefault("backoff", 0.05)
    options.setdefault("max_backoff", 0.2)
    options.setdefault("timeout", 2.0)
    options.setdefault("batch", False)  # the faults are scripted per /…/log request, in order
    options.setdefault("concurrency", 1)
    return HttpExporter(base_url=url + "/v5", spool_path=tmp_path / "spool.jsonl", **options)


@promptrail.log_prompt(path="live/answer")
def answer(n: int) -> str:
    """A decorated call whose output is its number."""
    return str(n)


def stored_in_arrival_order(db: Path) -> list[str]:
    """Outputs of the stored logs, in insertion order (SQLite rowid)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT body FROM logs ORDER BY rowid").fetchall()
    return [json.loads(row[0]).get("output", "?") for row in rows]


def numbers(first: int, last: int) -> list[str]:
    """Outputs ``first`` .. ``last`` inclusive, as strings."""
    return [str(n) for n in range(first, last + 1)]


class TestHttpExporterFaults:
    def test_a_trace_arrives_as_a_tree(
        self, server: ServerThread, db: Path, tmp_path: Path
    ) -> None:
        """A flow with prompt and tool children is readable as a tree and in the SQLite file."""

        @promptrail.log_tool(path="live/search")
        def search(q: str) -> str:
            return "found"

        @promptrail.log_flow(path="live/flow")
        def flow(q: str) -> str:
            search(q)
            return answer(1)

        exporter = exporter_for(server.url, tmp_path)
        promptrail.configure(exporters=[exporter])
        flow("q")
        assert promptrail.flush(5)
        headers = {"X-API-KEY": KEY}
        (listed,) = httpx2.get(
            server.url + "/v5/logs", params={"path": "live/flow"}, headers=headers
        ).json()["records"]
        tree = httpx2.get(f"{server.url}/v5/traces/{listed['trace_id']}", headers=headers).json()
        (root,) = tree["logs"]
        assert (root["path"], root["kind"]) == ("live/flow", "flow")
        assert [(c["path"], c["kind"]) for c in root["children"]] == [
            ("live/search", "tool"),
            ("live/answer", "prompt"),
        ]
        assert sorted(stored_in_arrival_order(db)) == sorted(["found", "1", "1"])
        assert exporter.stats()["delivered"] == 3
        assert promptrail.stats().exported == 3

    def test_500_then_recovers(
        self, server: ServerThread, faults: Faults, db: Path, tmp_path: Path
    ) -> None:
        """A 500 and a 503 are retried while the neighbours go through; each is stored once."""
        faults.script = [(500, {}, False), (503, {}, False)]
        promptrail.configure(exporters=[exporter_for(server.url, tmp_path)])
        for n in range(3):
            answer(n)
        assert promptrail.flush(5)
        assert sorted(stored_in_arrival_order(db)) == numbers(0, 2)
        assert sorted(faults.posted) == ["0", "0", "1", "1", "2"]
        assert promptrail.stats().failed == 0

    def test_500_past_the_retries_is_spooled_then_recovers(
        self, server: ServerThread, faults: Faults, db: Path, tmp_path: Path
    ) -> None:
        """500s past the retry budget: the batch waits in the spool, a later flush delivers it."""
        faults.script = [(500, {}, False)] * 9  # 2 passes of the export, 1 probe of the flush
        exporter = exporter_for(server.url, tmp_path, max_retries=1)
        promptrail.configure(exporters=[exporter])
        for n in range(3):
            answer(n)
        assert not promptrail.flush(3)
        assert [r.output for r in Spool(exporter.spool_path).read()] == numbers(0, 2)
        assert stored_in_arrival_order(db) == []
        assert promptrail.flush(5)
        assert stored_in_arrival_order(db) == numbers(0, 2)
        assert faults.posted == [*numbers(0, 2)] * 3 + numbers(0, 2)
        assert exporter.stats() == {
            "delivered": 3,
            "rejected": 0,
            "spooled": 3,
            "resent": 3,
            "spool_dropped": 0,
            "dead_lettered": 0,
            "pending": 0,
        }

    def test_429_retry_after_is_waited(
        self, server: ServerThread, faults: Faults, db: Path, tmp_path: Path
    ) -> None:
        """A 429 with Retry-After: 1 is retried no sooner than a second later."""
        faults.script = [(429, {"Retry-After": "1"}, False)]
        promptrail.configure(exporters=[exporter_for(server.url, tmp_path, max_backoff=2.0)])
        started = time.monotonic()
        answer(0)
        assert promptrail.flush(5)
        assert time.monotonic() - started >= 1.0
        assert stored_in_arrival_order(db) == ["0"]
        assert faults.posted == ["0", "0"]

    def test_429_long_retry_after_is_honoured_by_flush(
        self, server: ServerThread, faults: Faults, db: Path, tmp_path: Path
    ) -> None:
        """A Retry-After beyond max_backoff: spooled; nothing is sent, even by flush, until then."""
        faults.script = [(429, {"Retry-After": "2"}, False)]
        exporter = exporter_for(server.url, tmp_path, max_backoff=0.2)
        promptrail.configure(exporters=[exporter])
        started = time.monotonic()
        answer(0)
        assert time.monotonic() - started < 0.5  # the call never waits for the server
        assert not promptrail.flush(1)
        assert faults.posted == ["0"]
        assert exporter.stats()["pending"] == 1
        # Retry-After counts from when the exporter read the answer, a little after it was sent
        # (later on a loaded machine): flush until it goes through, within a bound.
        deadline = time.monotonic() + 10
        while not promptrail.flush(1):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert faults.posted == ["0", "0"]
        assert faults.times[1] - faults.times[0] >= 2.0  # not re-sent before Retry-After
        assert stored_in_arrival_order(db) == ["0"]

    def test_lost_response_is_not_stored_twice(
        self, server: ServerThread, faults: Faults, db: Path, tmp_path: Path
    ) -> None:
        """A log stored whose answer was lost is sent again and the receiver keeps one copy."""
        faults.script = [(502, {}, True)]
        promptrail.configure(exporters=[exporter_for(server.url, tmp_path)])
        answer(0)
        assert promptrail.flush(5)
        assert faults.posted == ["0", "0"]
        assert stored_in_arrival_order(db) == ["0"]

    def test_refused_connection_spools_then_replays_in_order(
        self, faults: Faults, db: Path, tmp_path: Path, free_port: int
    ) -> None:
        """With no server, records wait in the spool; once it starts they arrive in order, once."""
        port = free_port
        exporter = exporter_for(f"http://127.0.0.1:{port}", tmp_path, max_retries=1)
        promptrail.configure(exporters=[exporter])
        for n in range(5):
            answer(n)
        started = time.monotonic()
        assert not promptrail.flush(3)
        assert time.monotonic() - started < 3.5  # flush honours its timeout
        assert [r.output for r in Spool(exporter.spool_path).read()] == numbers(0, 4)
        with ServerThread(faults, port=port):
            for n in range(5, 7):
                answer(n)
            assert promptrail.flush(5)
        assert stored_in_arrival_order(db) == numbers(0, 6)
        assert faults.posted == numbers(0, 6)
        assert exporter.stats()["pending"] == 0
        assert not exporter.spool_path.exists()

    def test_server_stopped_mid_run_then_restarted(
        self, faults: Faults, db: Path, tmp_path: Path
    ) -> None:
        """Stopping and restarting the server loses nothing and duplicates nothing."""
        server = ServerThread(faults).start()
        promptrail.configure(exporters=[exporter_for(server.url, tmp_path, max_retries=1)])
        try:
            for n in range(3):
                answer(n)
            assert promptrail.flush(5)
            server.stop()
            for n in range(3, 6):
                answer(n)
            assert not promptrail.flush(3)
            server = ServerThread(faults, port=server.port).start()
            for n in range(6, 9):
                answer(n)
            assert promptrail.flush(5)
        finally:
            server.stop()
        assert stored_in_arrival_order(db) == numbers(0, 8)
        assert Counter(faults.posted) == Counter(numbers(0, 8))

    def test_server_killed_mid_batch_then_restarted(
        self, faults: Faults, db: Path, tmp_path: Path
    ) -> None:
        """The server stops while a batch is being sent: calls go on unblocked, flush keeps its
        timeout, and after a restart on the same port every record is stored exactly once."""
        server = ServerThread(faults).start()
        exporter = exporter_for(server.url, tmp_path, max_retries=1)
        promptrail.configure(exporters=[exporter])
        total, during = 300, 20
        durations: list[float] = []

        def timed_call(n: int) -> None:
            started = time.perf_counter()
            assert answer(n) == str(n)
            durations.append(time.perf_counter() - started)

        try:
            for n in range(total):  # one batch (< max_batch_size), POSTed record by record
                timed_call(n)
            deadline = time.monotonic() + 5
            while len(faults.posted) < 30:
                assert time.monotonic() < deadline, "the batch was not being sent"
                time.sleep(0.002)
            server.stop()
            assert len(faults.posted) < total  # stopped in the middle of the batch
            for n in range(total, total + during):
                timed_call(n)
            started = time.monotonic()
            assert not promptrail.flush(1.0)
            assert time.monotonic() - started < 1.5
            assert exporter.stats()["pending"] > 0
            server = ServerThread(faults, port=server.port).start()
            assert promptrail.flush(8)
        finally:
            server.stop()
        stored = stored_in_arrival_order(db)
        assert stored == numbers(0, total + during - 1)  # all, in order, none twice
        assert set(faults.posted) == set(stored)
        assert exporter.stats()["pending"] == 0
        assert max(durations) < 0.1

    def test_flush_and_shutdown_honour_their_timeouts_while_down(
        self, tmp_path: Path, free_port: int
    ) -> None:
        """With long backoffs and no server, flush(0.5) and shutdown(0.5) still return in time."""
        exporter = exporter_for(
            f"http://127.0.0.1:{free_port}", tmp_path, backoff=5.0, max_backoff=5.0
        )
        promptrail.configure(exporters=[exporter])
        for n in range(3):
            answer(n)
        started = time.monotonic()
        assert not promptrail.flush(0.5)
        assert time.monotonic() - started < 1.0
        started = time.monotonic()
        promptrail.shutdown(0.5)
        assert time.monotonic() - started < 1.0
        deadline = time.monotonic() + 3  # written ahead before the first retry wait
        while len(Spool(exporter.spool_path)) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert [r.output for r in Spool(exporter.spool_path).read()] == numbers(0, 2)

    def test_next_start_replays_the_spool(
        self, server: ServerThread, db: Path, tmp_path: Path, free_port: int
    ) -> None:
        """Records spooled by an earlier run are sent before the new run's, by a new exporter."""
        dead = exporter_for(f"http://127.0.0.1:{free_port}", tmp_path, max_retries=0)
        promptrail.configure(exporters=[dead])
        answer(0)
        answer(1)
        promptrail.shutdown(3)
        promptrail.configure(exporters=[exporter_for(server.url, tmp_path)])
        answer(2)
        assert promptrail.flush(5)
        assert stored_in_arrival_order(db) == numbers(0, 2)

    def test_wrong_key_is_reported_once_and_not_retried(
        self,
        server: ServerThread,
        faults: Faults,
        db: Path,
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A 401 stops after one request, says why without the key, and keeps the logs."""
        wrong = "wrong-key-SECRET-99"
        exporter = exporter_for(server.url, tmp_path, api_key=wrong)
        promptrail.configure(exporters=[exporter])
        with caplog.at_level(logging.DEBUG):
            answer(0)
            answer(1)
            assert not promptrail.flush(5)  # not delivered: waiting for a key that works
        assert faults.posted == ["0"]
        assert stored_in_arrival_order(db) == []
        assert promptrail.stats().failed == 0
        assert exporter.stats()["pending"] == 2
        assert "HTTP 401" in caplog.text
        assert "invalid API key" in caplog.text
        assert wrong not in caplog.text
        promptrail.configure(exporters=[exporter_for(server.url, tmp_path)])  # the right key
        assert promptrail.flush(5)
        assert stored_in_arrival_order(db) == numbers(0, 1)


class TestKeyNeverLeaks:
    def test_key_in_no_record_spool_log_error_repr_or_server_store(
        self,
        faults: Faults,
        db: Path,
        tmp_path: Path,
        free_port: int,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Through an outage, a 4xx and a recovery, the exporter's key shows up nowhere."""
        secret = "sk-live-HTTPKEY-4f9a2b7c1d"
        server_app = create_app(db_path=db, api_keys=[secret])
        memory = promptrail.exporters.InMemoryExporter()
        exporter = exporter_for(f"http://127.0.0.1:{free_port}", tmp_path, api_key=secret)
        errors: list[str] = []
        for url, bad in (("ftp://x", {}), ("http://x", {"timeout": 0})):
            try:
                exporter_for(url, tmp_path, api_key=secret, **bad)
            except promptrail.ConfigurationError as exc:
                errors.append(f"{exc!s} {exc!r}")
        assert len(errors) == 2
        promptrail.configure(exporters=[exporter, memory])
        with caplog.at_level(logging.DEBUG):
            for n in range(3):
                answer(n)
            assert not promptrail.flush(3)  # refused: the records wait in the spool
            spool_bytes = exporter.spool_path.read_bytes()
            with ServerThread(Faults(server_app), port=free_port) as server:
                assert promptrail.flush(5)
                response = httpx2.post(  # a 4xx answer on the receiver side too
                    server.url + "/v5/prompts/log", json={"x": 1}, headers={"X-API-KEY": secret}
                )
                assert response.status_code == 422
            promptrail.shutdown(3)
        assert len(spool_bytes) > 0
        assert [r.output for r in memory.records] == numbers(0, 2)
        assert stored_in_arrival_order(db) == numbers(0, 2)
        assert any("unavailable" in r.getMessage() for r in caplog.records)
        places = {
            "records": "".join(r.model_dump_json() for r in memory.records).encode(),
            "spool": spool_bytes,
            "logs": "\n".join(r.getMessage() for r in caplog.records).encode(),
            "errors": "\n".join([*errors, *promptrail.stats().errors]).encode(),
            "repr": f"{exporter!r} {exporter.stats()!r}".encode(),
            "server store": b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*")),
        }
        assert secret.encode() in response.request.headers["X-API-KEY"].encode()  # the probe
        assert [name for name, data in places.items() if secret.encode() in data] == []
