"""Forking while a writer thread is mid-write leaves the child able to write the same file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")

APP = r"""
import os, sys, threading, time
from datetime import datetime, timezone
from promptrail import LogRecord
from promptrail.exporters import JsonlExporter, SqliteStore
from promptrail.exporters._spool import Spool

kind, path, forks = sys.argv[1], sys.argv[2], int(sys.argv[3])
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)

def rec(log_id):
    return LogRecord.model_validate({"log_id": log_id, "path": "p", "kind": "prompt",
        "trace_id": log_id, "start_time": T0, "created_at": T0})

if kind == "sqlite":
    writer = SqliteStore(path, busy_timeout=3)
    write = writer.write
elif kind == "jsonl":
    writer = JsonlExporter(path)
    write = writer.export
else:
    writer = Spool(path)
    write = writer.append

stop = threading.Event()
def loop():
    n = 0
    while not stop.is_set():
        write([rec(f"p{n}-{i}") for i in range(200)])
        n += 1
threading.Thread(target=loop, daemon=True).start()
time.sleep(0.2)
failed = 0
for k in range(forks):
    time.sleep(0.01)
    pid = os.fork()
    if pid == 0:
        try:
            write([rec(f"child-{k}")])
            code = 0
        except BaseException as exc:
            print(f"child {k}: {exc!r}", file=sys.stderr)
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    failed += os.waitstatus_to_exitcode(status) != 0
stop.set()
print(failed)
"""


@pytest.mark.parametrize("kind", ["sqlite", "jsonl", "spool"])
def test_child_forked_mid_write_can_write(tmp_path: Path, kind: str) -> None:
    """20 children forked while the parent's thread writes in a loop: each child writes."""
    path = tmp_path / ("logs.db" if kind == "sqlite" else "logs.jsonl")
    done = subprocess.run(
        [sys.executable, "-c", APP, kind, str(path), "20"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0", done.stderr
