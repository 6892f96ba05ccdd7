"""Batched delivery to ``promptrail serve``: per-log results, fallback, write-ahead, poison logs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx2

from promptrail import LogRecord
from promptrail.exporters import ExportResult, HttpExporter, SqliteStore
from promptrail.server import ServerThread, create_app

KEY = "test-key-0123456789"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def record(log_id: str, **fields: Any) -> LogRecord:
    """Return a finished prompt record."""
    return LogRecord.model_validate(
        {"log_id": log_id, "path": "app/p", "kind": "prompt", "trace_id": log_id,
         "start_time": T0, "created_at": T0, **fields}
    )  # fmt: skip


@pytest.fixture(name="server")
def fixture_server(tmp_path: Path) -> Iterator[ServerThread]:
    """A receiver on 127.0.0.1."""
    with ServerThread(create_app(db_path=tmp_path / "r.db", api_keys=[KEY])) as server:
        yield server


def stored(tmp_path: Path) -> set[str]:
    """The log ids in the receiver's store."""
    return {r.log_id for r in SqliteStore(tmp_path / "r.db").logs(limit=100_000)}


def test_batch_route_answers_per_log(server: ServerThread) -> None:
    """One invalid log in a batch is rejected alone; its neighbours are stored."""
    logs = [record("a").to_body(), {"kind": "prompt", "path": 5}, record("b").to_body()]
    response = httpx2.post(
        server.url + "/v5/logs/batch", json={"logs": logs}, headers={"X-API-KEY": KEY}, timeout=5
    )
    assert response.status_code == 200
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == [200, 422, 200]


def test_batch_route_says_created_or_duplicate(server: ServerThread) -> None:
    """Each stored log's result says whether it is new or was stored already (a re-send)."""

    def post(logs: list[dict[str, object]]) -> list[str]:
        response = httpx2.post(
            server.url + "/v5/logs/batch",
            json={"logs": logs},
            headers={"X-API-KEY": KEY},
            timeout=5,
        )
        return [r.get("result") for r in response.json()["results"]]

    assert post([record("x").to_body()]) == ["created"]
    assert post([record("x").to_body(), record("y").to_body()]) == ["duplicate", "created"]


def test_exporter_uses_batch_route(server: ServerThread, tmp_path: Path) -> None:
    """HttpExporter delivers a batch of 500 records through the batch route; the spool is empty."""
    exporter = HttpExporter(base_url=server.url + "/v5", api_key=KEY, spool_path=tmp_path / "s")
    try:
        records = [record(f"r{i}") for i in range(500)]
        assert exporter.export(records) is ExportResult.SUCCESS
        assert exporter.stats()["delivered"] == 500
        assert exporter.stats()["pending"] == 0
    finally:
        exporter.shutdown()
    assert len(stored(tmp_path)) == 500


def test_poison_log_is_dead_lettered_and_the_rest_flow(
    server: ServerThread, tmp_path: Path
) -> None:
    """A log the server keeps failing goes to the dead-letter file after bounded attempts."""
    exporter = HttpExporter(
        base_url=server.url + "/v5", api_key=KEY, spool_path=tmp_path / "spool.jsonl",
        backoff=0.01, max_backoff=0.05, max_attempts=3,
    )  # fmt: skip
    try:
        # A record an older promptrail could build (no 64-bit check), as a spool may hold it.
        poison = record("bad").model_copy(update={"prompt_tokens": 2**64})
        result = exporter.export([record("x"), poison, record("y")])
        assert result is ExportResult.FAILURE
        assert exporter.export([record("z")]) is ExportResult.SUCCESS
        counts = exporter.stats()
    finally:
        exporter.shutdown()
    assert stored(tmp_path) == {"x", "y", "z"}
    assert counts["dead_lettered"] + counts["rejected"] == 1
    assert counts["pending"] == 0


def test_poison_log_on_per_log_server_is_dead_lettered(tmp_path: Path) -> None:
    """Without a batch route, a log answered 500 every time is dead-lettered once; others pass."""
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/logs/batch"):
            return httpx2.Response(404)
        log_id = json.loads(request.content)["log_id"]
        seen.append(log_id)
        return httpx2.Response(500 if log_id == "bad" else 200, json={"id": log_id})

    exporter = HttpExporter(
        base_url="http://test/v5", api_key=KEY, spool_path=tmp_path / "spool.jsonl",
        transport=httpx2.MockTransport(handler), sleep=lambda _: None, max_attempts=3,
    )  # fmt: skip
    try:
        exporter.export([record("a"), record("bad"), record("b")])
        exporter.export([record("c")])
        counts = exporter.stats()
    finally:
        exporter.shutdown()
    assert counts["dead_lettered"] == 1
    assert counts["pending"] == 0
    assert seen.count("bad") == 3
    dead = (tmp_path / "spool.dead.jsonl").read_text().splitlines()
    assert [json.loads(line)["log_id"] for line in dead] == ["bad"]
    assert {"a", "b", "c"} <= set(seen)


def test_hung_server_leaves_the_batch_in_the_spool(tmp_path: Path) -> None:
    """Records sent to a server that never answers are kept in the spool, not failed."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("no answer", request=request)

    exporter = HttpExporter(
        base_url="http://test/v5", api_key=KEY, spool_path=tmp_path / "spool.jsonl",
        transport=httpx2.MockTransport(handler), sleep=lambda _: None,
    )  # fmt: skip
    try:
        assert exporter.export([record(f"h{i}") for i in range(20)]) is ExportResult.SUCCESS
        assert not exporter.force_flush(1)
        counts = exporter.stats()
    finally:
        exporter.shutdown()
    assert counts["pending"] == 20
    assert counts["spooled"] == 20
    assert counts["dead_lettered"] == 0


APP = r"""
import sys, promptrail
from promptrail.exporters import HttpExporter
url, spool, n, flush = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
exporter = HttpExporter(base_url=url, api_key="k-0123456789", spool_path=spool)
promptrail.configure(exporters=[exporter], exit_timeout=2)

@promptrail.log_prompt(path="app/p")
def call(i):
    return str(i)

for i in range(n):
    call(i)
if flush:
    promptrail.flush(flush)
"""


def run_app(url: str, spool: Path, n: int, flush: float = 0.0) -> subprocess.CompletedProcess[str]:
    """Run an app process that makes ``n`` logs and exits normally (bounded by a timeout)."""
    args = [sys.executable, "-c", APP, url, str(spool), str(n), str(flush)]
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def spool_ids(spool: Path) -> list[str]:
    """The log ids waiting in a spool file."""
    return [json.loads(line)["log_id"] for line in spool.read_bytes().splitlines() if line]


@pytest.fixture(name="hung_url")
def fixture_hung_url() -> Iterator[str]:
    """A loopback socket that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v5"


def test_hung_server_at_exit_spools_every_log(hung_url: str, tmp_path: Path) -> None:
    """With a server that never answers, every log is in the spool at exit and the exit says so."""
    spool = tmp_path / "spool.jsonl"
    started = time.monotonic()
    done = run_app(hung_url, spool, 500)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 20
    assert len(set(spool_ids(spool))) == 500
    assert "500 logs spooled for the next run" in done.stderr
    assert "dropped" not in done.stderr


def test_hung_server_with_a_full_queue_spools_every_log(hung_url: str, tmp_path: Path) -> None:
    """5,000 logs queued behind a request that never ends are spooled by the exit drain."""
    spool = tmp_path / "spool.jsonl"
    done = run_app(hung_url, spool, 5000)
    assert done.returncode == 0, done.stderr
    assert len(set(spool_ids(spool))) == 5000
    assert "5000 logs spooled for the next run" in done.stderr
    assert "dropped" not in done.stderr


def test_short_flush_in_an_outage_then_exit_spools_every_log(tmp_path: Path) -> None:
    """flush(0.5) while the server is down, then exit: every log is spooled, none dropped."""
    with socket.socket() as sock:  # a free port with nothing listening: connection refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v5"
    spool = tmp_path / "spool.jsonl"
    done = run_app(url, spool, 30, flush=0.5)
    assert done.returncode == 0, done.stderr
    assert len(set(spool_ids(spool))) == 30
    assert "dropped" not in done.stderr


def test_spooled_logs_are_delivered_once_by_the_next_run(hung_url: str, tmp_path: Path) -> None:
    """Logs spooled during an outage are stored exactly once by the next run."""
    spool = tmp_path / "spool.jsonl"
    run_app(hung_url, spool, 200)
    assert len(spool_ids(spool)) == 200
    app = create_app(db_path=tmp_path / "r.db", api_keys=["k-0123456789"])
    with ServerThread(app) as server:
        done = run_app(server.url + "/v5", spool, 0, flush=10)
        assert done.returncode == 0, done.stderr
    assert not spool.exists() or not spool_ids(spool)
    rows = SqliteStore(tmp_path / "r.db").logs(limit=10_000)
    assert len(rows) == len({r.log_id for r in rows}) == 200
