"""ConsoleExporter: one human-readable line per record."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from promptrail._record.models import LogRecord
from promptrail.exceptions import ConfigurationError
from promptrail.exporters._base import ExportResult

__all__ = ["ConsoleExporter", "format_line"]


def format_line(record: LogRecord) -> str:
    """Return ``kind path duration tokens [error]`` for one record."""
    parts = [f"[{record.kind}]", record.path]
    if record.provider_latency is not None:
        parts.append(f"{record.provider_latency * 1000:.1f}ms")
    if record.prompt_tokens is not None or record.output_tokens is not None:
        parts.append(f"tokens={record.prompt_tokens or 0}+{record.output_tokens or 0}")
    if record.error:
        parts.append(f"ERROR {record.error}")
    parts.append(f"trace={record.trace_id[-8:]} log={record.log_id[-8:]}")
    return " ".join(parts)


class ConsoleExporter:
    """Writes one line per record to a stream (``sys.stderr`` by default).

    Args:
        stream: Where to write; looked up at export time when ``None``, so pytest's capture and
            redirections work.

    Raises:
        ConfigurationError: If ``stream`` has no ``write()`` (a path, say).

    .. versionadded:: 0.1.0
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        if stream is not None and not callable(getattr(stream, "write", None)):
            msg = (
                "ConsoleExporter writes to a stream such as sys.stdout, not "
                f"{type(stream).__name__} (for a file, pass open(path, 'a') or use JsonlExporter)"
            )
            raise ConfigurationError(msg)
        self._stream = stream
        self._lock = threading.Lock()

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        """Write ``records``, one line each."""
        stream = self._stream or sys.stderr
        text = "".join(format_line(r) + "\n" for r in records)
        with self._lock:
            stream.write(text)
            stream.flush()
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float = 30.0) -> bool:
        """Lines are written through: always True."""
        return True

    def shutdown(self) -> None:
        """Nothing to release."""
