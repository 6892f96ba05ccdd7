"""Fixtures for the reliability matrix: running short Python scripts in a child interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")

RunScript = Callable[..., subprocess.CompletedProcess[str]]


def script_env() -> dict[str, str]:
    """The environment for a child interpreter: this checkout's promptrail first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([SRC, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("PROMPTRAIL_RAISE_INTERNAL_ERRORS", None)
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def start_script(code: str, *args: str) -> subprocess.Popen[str]:
    """Start ``code`` (dedented) in a child interpreter, stdout and stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=script_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(name="spawn")
def fixture_spawn() -> Callable[..., subprocess.Popen[str]]:
    """``start_script``, for tests that drive the child themselves (kill it, read its output)."""
    return start_script


@pytest.fixture(name="run_script")
def fixture_run_script() -> RunScript:
    """Run a script in a child interpreter with a timeout; return the completed process."""

    def run(code: str, *args: str, timeout: float = 9.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            env=script_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run
