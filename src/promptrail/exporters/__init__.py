"""Exporters: where finished records go.

Built in: :class:`InMemoryExporter`, :class:`JsonlExporter`, :class:`SqliteExporter` (the
embedded default) and :class:`ConsoleExporter`. Any object with ``export``, ``force_flush`` and
``shutdown`` (the :class:`Exporter` protocol) can be passed to ``promptrail.configure()``.
"""

from __future__ import annotations

from promptrail.exporters._base import Exporter, ExportResult
from promptrail.exporters._console import ConsoleExporter
from promptrail.exporters._jsonl import JsonlExporter
from promptrail.exporters._memory import InMemoryExporter
from promptrail.exporters._sqlite import NotAStoreError, SqliteExporter, SqliteStore

__all__ = [
    "ConsoleExporter",
    "ExportResult",
    "Exporter",
    "InMemoryExporter",
    "JsonlExporter",
    "NotAStoreError",
    "SqliteExporter",
    "SqliteStore",
]
