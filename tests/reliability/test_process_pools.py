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
