#!/usr/bin/env python
"""Logs/s into SQLite and PostgreSQL, with one and two receivers, and read latency at scale.

Three measurements, on whatever machine runs it (clients and servers share it):

* **Through ``promptrail serve``**: replicas (1 or 2 ``promptrail serve`` processes on loopback
  ports, one store) take ``POST /v5/logs/batch`` requests of 500 logs (what ``HttpExporter``
  sends it), and, for comparison, per-log ``POST /v5/flows/log`` requests (bounded by HTTP per
  request, not by the store), from client threads spread over them. Logs/s counts logs the
  server answered as stored.
* **Store inserts**: what a batch route would hand the store: ``store.insert`` of 500-log batches
  from 1 or 2 processes (one per replica), each with its own store object.
* **Reads at scale**: ``--logs N`` (default 1,000,000) logs in 50-log traces bulk-loaded (SQLite
  ``executemany``, PostgreSQL ``COPY``), then the trace list's first page (50 traces with their
  summaries, as the viewer asks), one 50-log trace tree, one session's page (traces are in
  sessions of 10) and a rare tag's page (1 trace in 1,000 carries it), median of 20 reads.

PostgreSQL comes from ``--postgres URL`` (or ``PROMPTRAIL_TEST_POSTGRES_URL``); its promptrail
tables are dropped and recreated. Usage::

    python benchmarks/ingest.py --postgres postgresql://promptrail:promptrail@127.0.0.1/promptrail
    python benchmarks/ingest.py --logs 100000 --seconds 5     # quicker
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx2

from promptrail import LogRecord
from promptrail.stores._open import open_store

SRC = Path(__file__).resolve().parents[1] / "src"
KEY = "bench-key-0123456789"
BASE = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def record(i: int, prefix: str) -> LogRecord:
    start = BASE + datetime.timedelta(milliseconds=i)
    return LogRecord(
        log_id=f"{prefix}{i}",
        trace_id=f"{prefix}{i - i % 10}",
        trace_parent_id=None if i % 10 == 0 else f"{prefix}{i - i % 10}",
        path="bench/answer" if i % 10 == 0 else "bench/llm",
        kind="flow" if i % 10 == 0 else "prompt",
        start_time=start,
        end_time=start + datetime.timedelta(milliseconds=5),
        created_at=start,
        output="a short answer of a few words",
        prompt_tokens=120,
        output_tokens=20,
    )


def drop_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS promptrail_logs, promptrail_schema")


def fresh_target(kind: str, url: str, tmp: Path, name: str) -> str:
    if kind == "postgres":
        drop_postgres(url)
        open_store(url).close()
        return url
    path = tmp / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = open_store(str(path))
    store.count()  # creates the file and schema
    store.close()
    return str(path)


# -- store inserts ---------------------------------------------------------------------------


def _insert_worker(target: str, prefix: str, seconds: float, queue: Any) -> None:
    store = open_store(target)
    batch, i, done = 500, 0, 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        # Building the records is timed too: a receiver parses every log it stores.
        store.insert([record(i + j, prefix) for j in range(batch)])
        i += batch
        done += batch
    store.close()
    queue.put((done, time.perf_counter() - deadline + seconds))


def store_inserts(target: str, processes: int, seconds: float) -> float:
    queue: Any = multiprocessing.get_context("spawn").Queue()
    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(target=_insert_worker, args=(target, f"p{n}-", seconds, queue))
        for n in range(processes)
    ]
    for w in workers:
        w.start()
    # Each worker inserts for ``seconds`` once started (interpreter start-up is not counted).
    total = sum(done / spent for done, spent in (queue.get(timeout=seconds + 120) for _ in workers))
    for w in workers:
        w.join(30)
    return total


# -- through promptrail serve ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(target: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PROMPTRAIL_SERVER_API_KEYS": KEY, "PYTHONPATH": str(SRC)}
    cmd = [sys.executable, "-m", "promptrail", "serve", "--db", target, "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--no-viewer"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx2.get(url + "/healthz").status_code == 200:
                return proc, url
        except httpx2.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("promptrail serve did not start")


def batch_body(first: int, prefix: str, size: int = 500) -> bytes:
    """A ``/v5/logs/batch`` body of ``size`` logs in 10-log traces (cheap to build)."""
    logs = []
    for i in range(first, first + size):
        trace = f"{prefix}{i - i % 10}"
        root = i % 10 == 0
        start = (BASE + datetime.timedelta(milliseconds=i)).isoformat()
        logs.append(
            _BODY.format(
                log_id=f"{prefix}{i}",
                path="bench/answer" if root else "bench/llm",
                kind="flow" if root else "prompt",
                trace_id=trace,
                parent="null" if root else f'"{trace}"',
                start=start,
                end=start,
            )
        )
    return ('{"logs":[' + ",".join(logs) + "]}").encode()


def through_serve(target: str, replicas: int, seconds: float, *, batch: bool) -> float:
    """Logs/s stored through ``promptrail serve``: 500-log batches, or one POST per log."""
    servers = [start_serve(target) for _ in range(replicas)]
    threads = 2 * replicas if batch else 8
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def client(n: int) -> None:
        url = servers[n % replicas][1]
        with httpx2.Client(base_url=url, headers={"X-API-KEY": KEY}, timeout=60) as http:
            i = 0
            while time.perf_counter() < stop:
                if batch:
                    answer = http.post("/v5/logs/batch", content=batch_body(i, f"s{n}-"))
                    results = answer.json()["results"] if answer.status_code == 200 else []
                    counts[n] += sum(r["status"] == 200 for r in results)
                    i += 500
                    continue
                body = record(i, f"s{n}-").to_body()
                if http.post("/v5/flows/log", content=json.dumps(body)).status_code == 200:
                    counts[n] += 1
                i += 1

    try:
        start = time.perf_counter()
        pool = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(seconds + 60)
        return sum(counts) / (time.perf_counter() - start)
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(10)


# -- reads at scale --------------------------------------------------------------------------

_BODY = (
    '{{"log_id":"{log_id}","path":"{path}","kind":"{kind}","trace_id":"{trace_id}",'
    '"trace_parent_id":{parent},"start_time":"{start}","end_time":"{end}",'
    '"created_at":"{start}","output":"ok","prompt_tokens":120,"output_tokens":20,'
    '"session_id":"{session}","user":"{user}"{tags}}}'
)
_COLUMNS = (
    "log_id, trace_id, trace_parent_id, path, kind, start_time, end_time, latency, error, "
    "prompt_tokens, output_tokens, cost, session_id, user_id, body"
)


def _session(trace: int) -> str:
    return f"s{trace // 500:07d}"  # 10 traces of 50 logs each


def _rare(trace: int) -> bool:
    return trace % 50_000 == 0  # 1 trace in 1,000


def bulk_rows(n: int) -> Any:
    for i in range(n):
        trace = i - i % 50
        log_id, trace_id = f"b{i:08d}", f"b{trace:08d}"
        root = i % 50 == 0
        parent = None if root else trace_id
        start = (BASE + datetime.timedelta(milliseconds=i)).isoformat()
        end = (BASE + datetime.timedelta(milliseconds=i + 5)).isoformat()
        path, kind = ("bench/answer", "flow") if root else ("bench/llm", "prompt")
        session, user = _session(trace), f"u{trace // 5000:06d}"
        body = _BODY.format(
            log_id=log_id,
            path=path,
            kind=kind,
            trace_id=trace_id,
            parent="null" if parent is None else f'"{parent}"',
            start=start,
            end=end,
            session=session,
            user=user,
            tags=',"tags":["rare"]' if _rare(trace) else "",
        )
        row = (log_id, trace_id, parent, path, kind, start, end, 0.005, None, 120, 20, None)
        yield (*row, session, user, body), ["rare"] if _rare(trace) else None


def bulk_load(kind: str, target: str, n: int) -> None:
    if kind == "postgres":
        import psycopg

        with psycopg.connect(target) as conn, conn.cursor() as cur:
            with cur.copy(f"COPY promptrail_logs ({_COLUMNS}, tags) FROM STDIN") as copy:
                for row, tags in bulk_rows(n):
                    copy.write_row((*row, tags))
            conn.execute("ANALYZE promptrail_logs")
        return
    import sqlite3

    conn = sqlite3.connect(target)
    conn.execute("PRAGMA journal_mode=WAL")
    tagged: list[tuple[str, str]] = []

    def rows() -> Any:
        for row, tags in bulk_rows(n):
            tagged.extend((tag, row[0]) for tag in tags or ())
            yield row

    marks = ",".join("?" * 15)
    conn.executemany(f"INSERT INTO logs ({_COLUMNS}) VALUES ({marks})", rows())
    conn.executemany("INSERT INTO log_tags (tag, log_id) VALUES (?, ?)", tagged)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def read_latency(target: str, n: int, repeats: int = 20) -> tuple[float, ...]:
    store = open_store(target, create=False)
    trace_id = f"b{(n // 2) - (n // 2) % 50:08d}"
    session = _session((n // 2) - (n // 2) % 50)

    def session_page() -> None:
        ids = store.recent_trace_ids(50, session_id=session)
        assert len(ids) == 10, len(ids)
        store.trace_summaries(ids)

    def tag_page() -> None:
        ids = store.recent_trace_ids(50, tags=["rare"])
        assert ids, "no tagged trace"
        store.trace_summaries(ids)

    def first_page() -> None:
        store.trace_summaries(store.recent_trace_ids(50))

    def tree() -> None:
        logs = store.trace(trace_id)
        assert len(logs) == 50, len(logs)

    def median_ms(fn: Any) -> float:
        fn()  # warm
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1000

    try:
        return median_ms(first_page), median_ms(tree), median_ms(session_page), median_ms(tag_page)
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", default=os.environ.get("PROMPTRAIL_TEST_POSTGRES_URL"))
    parser.add_argument("--logs", type=int, default=1_000_000, help="logs for the read test")
    parser.add_argument("--seconds", type=float, default=10.0, help="per ingest measurement")
    parser.add_argument("--skip-reads", action="store_true")
    parser.add_argument("--skip-ingest", action="store_true")
    args = parser.parse_args()
    kinds = ["sqlite"] + (["postgres"] if args.postgres else [])
    print(
        f"# ingest benchmark, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        print(
            "\n| store | replicas | store.insert, 500/batch | batch route via serve "
            "| per-log POST via serve |"
        )
        print("|---|---|---|---|---|")
        for kind in kinds if not args.skip_ingest else []:
            for replicas in (1, 2):
                target = fresh_target(kind, args.postgres, tmp, f"ins{replicas}")
                inserts = store_inserts(target, replicas, args.seconds)
                target = fresh_target(kind, args.postgres, tmp, f"bat{replicas}")
                batched = through_serve(target, replicas, args.seconds, batch=True)
                target = fresh_target(kind, args.postgres, tmp, f"srv{replicas}")
                served = through_serve(target, replicas, args.seconds, batch=False)
                print(
                    f"| {kind} | {replicas} | {inserts:,.0f} | {batched:,.0f} | {served:,.0f} |",
                    flush=True,
                )
        if args.skip_reads:
            return
        print(
            "\n| store | logs | load s | trace list first page ms | 50-log trace tree ms "
            "| one session's page ms | a rare tag's page ms |"
        )
        print("|---|---|---|---|---|---|---|")
        for kind in kinds:
            target = fresh_target(kind, args.postgres, tmp, "reads")
            start = time.perf_counter()
            bulk_load(kind, target, args.logs)
            load = time.perf_counter() - start
            page, tree, session, tag = read_latency(target, args.logs)
            print(
                f"| {kind} | {args.logs:,} | {load:.0f} | {page:.1f} | {tree:.1f} "
                f"| {session:.1f} | {tag:.1f} |",
                flush=True,
            )
        if args.postgres:
            drop_postgres(args.postgres)


if __name__ == "__main__":
    main()
