"""Shared fixtures: every test starts from promptrail's defaults, in a scratch directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import promptrail
from promptrail.exporters import InMemoryExporter
from promptrail.testing import reset


def pytest_configure(config: pytest.Config) -> None:
    """Make promptrail re-raise its own internal errors so no bug hides in this suite."""
    os.environ["PROMPTRAIL_RAISE_INTERNAL_ERRORS"] = "1"


@pytest.fixture(autouse=True)
def _reset_promptrail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run each test in its own directory with a fresh pipeline, and reset afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMPTRAIL_DB", str(tmp_path / "default.db"))
    reset()
    yield
    reset()


@pytest.fixture(name="memory")
def fixture_memory() -> InMemoryExporter:
    """An in-memory exporter fed synchronously (records are there as soon as a call ends)."""
    exporter = InMemoryExporter()
    promptrail.configure(processors=[promptrail.SimpleProcessor(exporter)])
    return exporter
