"""Several receivers on one PostgreSQL database behave as one; a database restart loses no ack."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from promptrail.server import ServerThread, create_app
from promptrail.server._retention import Retention
from promptrail.server._web import create_web_app
from promptrail.stores._open import open_store

KEY = "replica-key-0123456789"


def body(log_id: str, trace_id: str, parent: str | None, path: str) -> dict[str, Any]:
    return {
        "log_id": log_id,
        "trace_id": trace_id,
        "trace_parent_id": parent,
        "path": path,
        "start_time": "2026-11-30T10:00:00+00:00",
        "created_at": "2026-11-30T10:00:01+00:00",
        "output": "ok",
    }


@pytest.fixture(name="replicas")
def fixture_replicas(postgres_url: str) -> Iterator[list[ServerThread]]:
    """Two receivers (with the viewer) on loopback ports, one database."""
    servers = []
    for _ in range(2):
        app = create_app(db_path=postgres_url, api_keys=[KEY])
        app.mount("/", create_web_app(app.state.store))
        servers.append(ServerThread(app).start())
    yield servers
    for server in servers:
        server.stop()
        server._app.state.store.close()


def post(server: ServerThread, kind: str, data: dict[str, Any]) -> httpx2.Response:
    return httpx2.post(
        f"{server.url}/v5/{kind}/log", json=data, headers={"X-API-KEY": KEY}, timeout=10
    )


class TestReplicas:
    """Logs spread over two receivers make whole trees; each sees what the other stored."""

    def test_logs_spread_over_replicas_make_whole_trees(self, replicas: list[ServerThread]) -> None:
        """A trace whose logs went to both replicas reads back whole from either."""
        a, b = replicas
        # Children first, on alternate replicas: a parent may arrive after its children.
        assert post(a, "prompts", body("llm", "t", "tool", "app/llm")).status_code == 200
        assert post(b, "tools", body("tool", "t", "t", "app/tool")).status_code == 200
        assert post(a, "flows", body("t", "t", None, "app")).status_code == 200
        for server in (a, b):
            tree = httpx2.get(f"{server.url}/v5/traces/t", headers={"X-API-KEY": KEY}).json()
            (root,) = tree["logs"]
            assert root["log_id"] == "t"
            assert root["children"][0]["log_id"] == "tool"
            assert root["children"][0]["children"][0]["log_id"] == "llm"

    def test_live_page_of_one_sees_logs_posted_to_the_other(
        self, replicas: list[ServerThread]
    ) -> None:
        """The viewer's cursor on one replica moves when the other stores a log."""
        a, b = replicas
        before = httpx2.get(f"{a.url}/ui/api/cursor").json()["cursor"]
        assert post(b, "flows", body("live", "live", None, "app")).status_code == 200
        listed = httpx2.get(f"{a.url}/ui/api/traces").json()
        assert listed["cursor"] > before
        assert [t["trace_id"] for t in listed["traces"]] == ["live"]

    def test_retention_runs_in_one_replica_at_a_time(self, postgres_url: str) -> None:
        """While one process prunes, another's round is skipped; the logs go once."""
        import psycopg

        from promptrail.stores._postgres import PRUNE_LOCK

        first, second = open_store(postgres_url), open_store(postgres_url)
        try:
            from tests.fixtures.traces import NOW, support_trace

            first.insert(support_trace("old", base=NOW.replace(year=NOW.year - 1)))
            with psycopg.connect(postgres_url) as holder, holder.transaction():
                holder.execute("SELECT pg_advisory_xact_lock(%s)", (PRUNE_LOCK,))
                blocked = Retention(second, 30 * 86400)
                assert blocked.run_once() is None
                assert (blocked.skipped, first.count()) == (1, 3)
            retention = Retention(first, 30 * 86400)
            assert retention.run_once() == 3
            assert (retention.rounds, retention.pruned, second.count()) == (1, 3, 0)
        finally:
            first.close()
            second.close()


def _restart_cluster() -> None:
    subprocess.run(
        ["pg_ctlcluster", "15", "main", "restart", "-m", "fast"],
        check=True,
        timeout=60,
        capture_output=True,
    )


@pytest.mark.skipif(
    shutil.which("pg_ctlcluster") is None and not os.environ.get("CI"),
    reason="restarting the database needs Debian's pg_ctlcluster",
)
def test_database_restart_mid_load_loses_no_acknowledged_log(postgres_url: str) -> None:
    """Logs acknowledged before, during and after a restart are all stored; 503s are retried."""
    app = create_app(db_path=postgres_url, api_keys=[KEY])
    acked: list[str] = []
    statuses: list[int] = []
    stop = threading.Event()

    def load(server: ServerThread) -> None:
        with httpx2.Client(base_url=server.url, headers={"X-API-KEY": KEY}, timeout=10) as client:
            n = 0
            deadline = time.monotonic() + 60
            while not stop.is_set() and time.monotonic() < deadline:
                log_id = f"r{n}"
                try:
                    status = client.post(
                        "/v5/flows/log", json=body(log_id, log_id, None, "app")
                    ).status_code
                except httpx2.TransportError:
                    status = 0
                statuses.append(status)
                if status == 200:
                    acked.append(log_id)
                    n += 1
                else:  # what HttpExporter does: wait and send the same log again
                    time.sleep(0.05)

    with ServerThread(app) as server:
        worker = threading.Thread(target=load, args=(server,))
        worker.start()
        try:
            deadline = time.monotonic() + 10
            while len(acked) < 50 and time.monotonic() < deadline:
                time.sleep(0.01)
            _restart_cluster()
            during = len(acked)
            deadline = time.monotonic() + 30
            while len(acked) < during + 50 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            worker.join(30)
        store = app.state.store
        try:
            stored = {r.log_id for r in store.logs(limit=None)}
        finally:
            store.close()
    assert len(acked) >= during + 50, "the receiver did not recover after the restart"
    assert set(acked) <= stored
    assert set(statuses) <= {200, 503}
