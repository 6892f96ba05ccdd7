#!/usr/bin/env python
"""Delivery from one app process to ``promptrail serve`` on loopback: throughput and what is kept.

Starts ``promptrail serve`` in its own process (client and server share the machine), then runs
app processes that make logs with a decorated function and exit normally:

* ``batch``: logs/s delivered through ``POST /v5/logs/batch`` (first log made to ``flush()``
  returning, after one warm-up log that pays the process's one-off start of the HTTP client),
  then a normal exit; every log must be stored.
* ``per-log``: the same with ``HttpExporter(batch=False)`` (several requests in flight).
* ``down`` / ``hung``: no server (connection refused) / a socket that accepts and never answers:
  every log must be in the spool at exit; the next run, with the server up, delivers each exactly
  once (the store holds each ``log_id`` once and the spool is empty).

Usage::

    PYTHONPATH=src python benchmarks/delivery.py              # 20,000 logs per scenario
    PYTHONPATH=src python benchmarks/delivery.py -n 5000      # quicker

Exit status non-zero when a log is lost (not stored and not spooled) or stored twice.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

KEY = "bench-key-0123456789"

APP = r"""
import json, sys, time
import promptrail
from promptrail.exporters import HttpExporter

url, spool, n, batch, deadline = sys.argv[1:6]
n, deadline = int(n), float(deadline)
exporter = HttpExporter(base_url=url, api_key=KEY, spool_path=spool, timeout=deadline,
                        batch=None if batch == "auto" else batch == "1", concurrency=8)
# The queue holds the whole burst: a loop makes logs faster than any server stores them, and
# past max_queue_size (default 16,384) the oldest are dropped (counted).
processor = promptrail.BatchProcessor(exporter, max_queue_size=65_536)
promptrail.configure(processors=[processor], exit_timeout=deadline)

@promptrail.log_prompt(path="bench/delivery")
def call(i):
    return str(i)

if batch != "skip" and n:
    # Warm up: the worker's first export imports the HTTP stack and opens the connection pool
    # (a one-off cost per process, on the worker); the rate is the steady state after it.
    call(-1)
    promptrail.flush(60)
started = time.perf_counter()
for i in range(n):
    call(i)
flushed = promptrail.flush(60) if batch != "skip" else False
elapsed = time.perf_counter() - started
print(json.dumps({"elapsed": elapsed, "flushed": flushed, "stats": exporter.stats()}))
""".replace("KEY", repr(KEY))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(db: Path, port: int) -> Iterator[None]:
    """``promptrail serve`` in a child process, until the block ends."""
    env = {**os.environ, "PROMPTRAIL_SERVER_API_KEYS": KEY}
    code = "import sys; from promptrail.cli._main import main; sys.exit(main())"
    cmd = [sys.executable, "-c", code, "serve", "--db", str(db), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
                break
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def hung(port: int) -> Iterator[None]:
    """A socket that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen(1024)
        yield


def run_app(url: str, spool: Path, n: int, batch: str, deadline: float = 5.0) -> dict[str, object]:
    """Run one app process; return its report (with the exit's stderr)."""
    cmd = [sys.executable, "-c", APP, url, str(spool), str(n), batch, str(deadline)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    lines = done.stdout.strip().splitlines()
    report: dict[str, object] = json.loads(lines[-1]) if lines else {}
    report["stderr"] = done.stderr.strip().splitlines()[-2:]
    return report


def stored(db: Path) -> tuple[int, int]:
    """(rows, distinct log ids) in the store."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT log_id) FROM logs"
        ).fetchone()
        return int(rows), int(distinct)


def spooled(spool: Path) -> int:
    """Records waiting in the spool file."""
    return len(spool.read_bytes().splitlines()) if spool.exists() else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="logs per scenario")
    n = parser.parse_args().n
    ok = True
    print(
        f"# delivery to promptrail serve on loopback, {n} logs per scenario, "
        f"{os.cpu_count()} CPUs\n"
    )
    print("| scenario | logs/s | stored | spooled at exit | next run: stored once | lost |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, batch in (("batch", "1"), ("per-log", "0")):
            db, spool, port = Path(tmp, f"{name}.db"), Path(tmp, f"{name}.spool"), _free_port()
            with serve(db, port):
                report = run_app(f"http://127.0.0.1:{port}/v5", spool, n, batch)
                rows, distinct = stored(db)
            rate = n / float(report["elapsed"])  # type: ignore[arg-type]
            distinct -= 1  # the warm-up log
            lost = n - distinct - spooled(spool)
            ok = ok and lost == 0 and rows == distinct
            print(f"| {name} | {rate:,.0f} | {distinct:,} | {spooled(spool):,} | - | {lost} |")
        for name in ("down", "hung"):
            db, spool, port = Path(tmp, f"{name}.db"), Path(tmp, f"{name}.spool"), _free_port()
            url = f"http://127.0.0.1:{port}/v5"
            with hung(port) if name == "hung" else contextlib.nullcontext():
                run_app(url, spool, n, "skip", deadline=2.0)
            at_exit = spooled(spool)
            with serve(db, port):
                run_app(url, spool, 0, "1")  # the next run: re-sends the spool
                rows, distinct = stored(db)
            lost = n - distinct - spooled(spool)
            ok = ok and at_exit == n and rows == distinct == n
            print(
                f"| server {name} | - | 0 | {at_exit:,} | {distinct:,} ({rows:,} rows) | {lost} |"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
