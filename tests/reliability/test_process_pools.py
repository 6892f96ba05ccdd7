"""Logs made in multiprocessing children reach the store without the user calling flush()."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fork/forkserver are POSIX")

APP = r"""
import multiprocessing, sys
from concurrent.futures import ProcessPoolExecutor
import promptrail
from promptrail.exporters import JsonlExporter

promptrail.configure(exporters=[JsonlExporter(sys.argv[1])])

@promptrail.log_prompt(path="child/work")
def work(i):
    return str(i)

def task(i):
    for j in range(10):
        work(i * 100 + j)
    return i

if __name__ == "__main__":
    method, kind = sys.argv[2], sys.argv[3]
    ctx = multiprocessing.get_context(method)
    if kind == "pool":
        with ctx.Pool(2) as pool:
            assert pool.map(task, range(5)) == list(range(5))
    elif kind == "process":
        procs = [ctx.Process(target=task, args=(i,)) for i in range(5)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
    else:
        with ProcessPoolExecutor(2, mp_context=ctx) as executor:
            assert list(executor.map(task, range(5))) == list(range(5))
"""


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
@pytest.mark.parametrize("kind", ["pool", "process", "executor"])
def test_child_logs_are_stored_without_flush(tmp_path: Path, method: str, kind: str) -> None:
    """Each child's 10 logs per task are written by the time the parent exits."""
    script = tmp_path / "app.py"
    script.write_text(APP)
    out = tmp_path / "logs.jsonl"
    done = subprocess.run(
        [sys.executable, str(script), str(out), method, kind],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    written = len(out.read_bytes().splitlines()) if out.exists() else 0
    assert written == 50, done.stderr


BLOCKED = r"""
import multiprocessing, signal, sys, threading, time
import promptrail
from promptrail.exporters import JsonlExporter

promptrail.configure(exporters=[JsonlExporter(sys.argv[1])])

@promptrail.log_prompt(path="child/work")
def work(i):
    return str(i)

def child():
    for i in range(5):
        work(i)
    blocked = threading.Lock()
    blocked.acquire()

    def nudge():
        # SIGTERM taken by this thread's C-level handler while the main thread is blocked in C:
        # it is never interrupted, as when a signal arrives just before it blocks.
        time.sleep(0.5)
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

    threading.Thread(target=nudge, daemon=True).start()
    blocked.acquire()  # for ever, unless the handler runs

if __name__ == "__main__":
    p = multiprocessing.get_context(sys.argv[2]).Process(target=child)
    p.start()
    p.join(20)
    print("exitcode", p.exitcode)
    if p.exitcode is None:
        p.kill()
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_sigterm_reaches_a_worker_blocked_in_c(tmp_path: Path, method: str) -> None:
    """A child whose main thread is blocked in C still drains and ends on its SIGTERM."""
    script = tmp_path / "app.py"
    script.write_text(BLOCKED)
    out = tmp_path / "logs.jsonl"
    done = subprocess.run(
        [sys.executable, str(script), str(out), method],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "exitcode -15" in done.stdout, done.stdout + done.stderr
    assert len(out.read_bytes().splitlines()) == 5, done.stderr
