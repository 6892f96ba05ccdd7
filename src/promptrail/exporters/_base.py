"""The exporter protocol and its result type."""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from promptrail._record.models import LogRecord

__all__ = ["ExportResult", "Exporter", "write_all"]


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (``os.write`` may write less than it is given)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class ExportResult(enum.Enum):
    """Whether an ``export()`` call delivered its records.

    .. versionadded:: 0.1.0
    """

    SUCCESS = "success"
    FAILURE = "failure"


@runtime_checkable
class Exporter(Protocol):
    """Where finished records go: a file, a database, a server.

    Exporters own formatting and I/O and know nothing about threads: a processor calls
    ``export`` from one thread at a time. ``export`` returns :class:`ExportResult` rather than
    raising; a raised exception is caught, logged once and counted by the processor.

    .. versionadded:: 0.1.0
    """

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        """Deliver ``records``; return ``SUCCESS`` or ``FAILURE``."""
        ...

    def force_flush(self, timeout: float = 30.0) -> bool:
        """Deliver anything buffered within ``timeout`` seconds; return whether it all went."""
        ...

    def shutdown(self) -> None:
        """Release resources; later ``export`` calls return ``FAILURE``."""
        ...
