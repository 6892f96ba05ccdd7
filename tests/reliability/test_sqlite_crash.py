"""SQLite: a writer killed mid-batch and several writer processes leave a consistent store."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from promptrail.exporters import SqliteStore

Spawn = Callable[..., subprocess.Popen[str]]

BATCH = 500

WRITER = """
import sys, datetime
from promptrail import LogRecord
from promptrail.exporters import SqliteExporter

path, prefix, batches, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
exporter = SqliteExporter(path)
now = datetime.datetime.now(datetime.timezone.utc)
body = "x" * 2000
n = 0
while batches < 0 or n < batches:
    records = [
        LogRecord(
            log_id=f"{prefix}-{n}-{i}", trace_id=f"{prefix}-{n}", path="crash/test",
            start_time=now, created_at=now, output=body,
        )
        for i in range(size)
    ]
    exporter.export(records)
    n += 1
    if n == 1:
        print("first", flush=True)
exporter.shutdown()
"""


def start_writer(
    spawn: Spawn, db: Path, prefix: str, batches: int, size: int
) -> subprocess.Popen[str]:
    """Start a child process writing ``batches`` batches (-1: forever) of ``size`` records."""
    return spawn(WRITER, str(db), prefix, str(batches), str(size))


def check_consistent(db: Path) -> int:
    """Assert the file passes SQLite's integrity check and every row parses; return the count."""
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()
    store = SqliteStore(db, create=False)
    try:
        count = store.count()
        assert len(store.logs(limit=None)) == count
    finally:
        store.close()
    return count


class TestSqliteCrash:
    """A writer process killed with SIGKILL while committing big batches."""

    @pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
    @pytest.mark.parametrize("delay", [0.05, 0.3])
    def test_every_batch_is_all_or_nothing(
        self, tmp_path: Path, delay: float, spawn: Spawn
    ) -> None:
        """After the kill, the store is readable and holds only whole batches."""
        db = tmp_path / "crash.db"
        proc = start_writer(spawn, db, "w", -1, BATCH)
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "first"
            time.sleep(delay)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=5)
        assert proc.returncode == -signal.SIGKILL
        count = check_consistent(db)
        assert count >= BATCH
        assert count % BATCH == 0
        # Per trace (= per batch): all of it or none of it.
        conn = sqlite3.connect(db)
        try:
            sizes = {n for (n,) in conn.execute("SELECT COUNT(*) FROM logs GROUP BY trace_id")}
        finally:
            conn.close()
        assert sizes == {BATCH}


class TestConcurrentWriters:
    """Several processes writing the same file at once."""

    def test_no_write_is_lost(self, tmp_path: Path, spawn: Spawn) -> None:
        """4 processes x 20 batches x 50 records: every record stored once, file consistent."""
        db = tmp_path / "shared.db"
        procs = [start_writer(spawn, db, f"p{k}", 20, 50) for k in range(4)]
        for proc in procs:
            _, err = proc.communicate(timeout=9)
            assert proc.returncode == 0, err
        assert check_consistent(db) == 4 * 20 * 50
