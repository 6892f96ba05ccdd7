"""The pytest plugin (``pytest11`` entry point): the ``capture_logs`` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from promptrail._record.models import LogRecord
from promptrail.testing import capture_logs as _capture_logs

__all__ = ["capture_logs"]


@pytest.fixture(name="capture_logs")
def capture_logs() -> Iterator[list[LogRecord]]:
    """Collect the records made during the test (deterministic ids and clock).

    .. versionadded:: 0.1.0
    """
    with _capture_logs() as logs:
        yield logs
