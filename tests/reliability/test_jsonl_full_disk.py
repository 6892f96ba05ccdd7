"""JSONL on a full disk holds whole lines only, and its counts match the file."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import promptrail
from promptrail import trace
from promptrail.exporters import JsonlExporter

RunScript = Callable[..., subprocess.CompletedProcess[str]]

FULL_DISK = """
import json, resource, signal, sys
import promptrail
from promptrail import trace
from promptrail.exporters import JsonlExporter

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))
processor = promptrail.BatchProcessor(JsonlExporter(sys.argv[1]), max_batch_size=64)
promptrail.configure(processors=[processor])
for i in range(500):
    with trace(path=f"log-{i}"):
        pass
promptrail.flush(10.0)
stats = promptrail.stats()
print(json.dumps({"exported": stats.exported, "failed": stats.failed}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE stands in for a full disk")
def test_full_disk_leaves_whole_lines_and_true_counts(
    tmp_path: Path, run_script: RunScript
) -> None:
    """When the file cannot grow, no torn line is left and ``exported`` equals the lines written."""
    out = tmp_path / "out.jsonl"
    done = run_script(FULL_DISK, str(out), timeout=30)
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout.splitlines()[-1])
    data = out.read_bytes()
    assert data.endswith(b"\n")
    lines = data.decode().splitlines()
    for line in lines:
        json.loads(line)
    assert counts["exported"] == len(lines)
    assert counts["exported"] + counts["failed"] == 500
    assert counts["failed"] > 0


def test_torn_tail_is_cut_before_the_next_append(tmp_path: Path) -> None:
    """A file ending in half a line (a crash mid-write) is repaired before new lines go in."""
    out = tmp_path / "out.jsonl"
    out.write_bytes(b'{"path": "whole"}\n{"path": "to')
    promptrail.configure(exporters=[JsonlExporter(out)])
    with trace(path="next"):
        pass
    assert promptrail.flush(5.0) is True
    paths = [json.loads(line)["path"] for line in out.read_text().splitlines()]
    assert paths == ["whole", "next"]
