"""Exporters: where finished records go.

Built in: :class:`InMemoryExporter`, :class:`JsonlExporter`, :class:`SqliteExporter` (the
embedded default), :class:`ConsoleExporter` and :class:`HttpExporter` (imported on first use, so
importing promptrail does not import httpx2). Any object with ``export``, ``force_flush`` and
``shutdown`` (the :class:`Exporter` protocol) can be passed to ``promptrail.configure()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from promptrail.exporters._base import Exporter, ExportResult
from promptrail.exporters._console import ConsoleExporter
from promptrail.exporters._jsonl import JsonlExporter
from promptrail.exporters._memory import InMemoryExporter
from promptrail.exporters._sqlite import SqliteExporter
from promptrail.stores._sqlite import NotAStoreError, SqliteStore

if TYPE_CHECKING:
    from promptrail.exporters._http import HttpExporter

__all__ = [
    "ConsoleExporter",
    "ExportResult",
    "Exporter",
    "HttpExporter",
    "InMemoryExporter",
    "JsonlExporter",
    "NotAStoreError",
    "SqliteExporter",
    "SqliteStore",
]


def __getattr__(name: str) -> Any:
    # Lazy: httpx2 is imported only by code that uses the HTTP exporter.
    if name == "HttpExporter":
        from promptrail.exporters._http import HttpExporter

        globals()[name] = HttpExporter
        return HttpExporter
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
