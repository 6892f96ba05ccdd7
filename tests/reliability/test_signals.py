"""SIGTERM/SIGINT: what is queued is flushed within exit_timeout, then the signal goes on."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

APP = r"""
import os, signal, sys, promptrail
from promptrail.exporters import JsonlExporter
path, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "app-handler":
    def mine(signum, frame):
        print("app handler ran", flush=True)
        sys.exit(3)
    signal.signal(signal.SIGTERM, mine)
promptrail.configure(exporters=[JsonlExporter(path)], exit_timeout=10,
                     handle_signals=mode != "opt-out")

@promptrail.log_prompt(path="app/p")
def call(i):
    return str(i)

for i in range(n):
    call(i)
os.kill(os.getpid(), signal.SIGINT if mode == "sigint" else signal.SIGTERM)
print("not reached", flush=True)
"""


def run(tmp_path: Path, mode: str, n: int = 10_000) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run the app until it signals itself; return the process and the records written."""
    out = tmp_path / "logs.jsonl"
    args = [sys.executable, "-c", APP, str(out), mode, str(n)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    written = len(out.read_bytes().splitlines()) if out.exists() else 0
    return done, written


def test_sigterm_flushes_a_full_queue_then_ends_the_process(tmp_path: Path) -> None:
    """SIGTERM with 10,000 logs queued: all are written, then the process ends by the signal."""
    done, written = run(tmp_path, "default")
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert written == 10_000
    assert "not reached" not in done.stdout


def test_sigterm_chains_to_the_app_handler(tmp_path: Path) -> None:
    """An app's own SIGTERM handler still runs, after the flush."""
    done, written = run(tmp_path, "app-handler")
    assert done.returncode == 3, done.stderr
    assert "app handler ran" in done.stdout
    assert written == 10_000


def test_sigint_without_an_app_handler_flushes_then_raises(tmp_path: Path) -> None:
    """SIGINT flushes, then raises KeyboardInterrupt as Python's default handler does."""
    done, written = run(tmp_path, "sigint")
    assert "KeyboardInterrupt" in done.stderr
    assert written == 10_000


def test_opt_out_leaves_the_default_action(tmp_path: Path) -> None:
    """With handle_signals=False, SIGTERM ends the process at once, without a flush."""
    done, _ = run(tmp_path, "opt-out", n=10)
    assert done.returncode == -signal.SIGTERM
    assert "not reached" not in done.stdout
