"""The ``promptrail`` command: ``promptrail show`` prints traces from the SQLite store.

Subcommands register themselves in :data:`COMMANDS` (name → (configure parser, run)), so a
module adding one (``serve``, ``stats``) does not touch the others.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from promptrail._records import LogRecord
from promptrail.exporters._sqlite import NotAStoreError, SqliteStore
from promptrail.server import _command as _serve

__all__ = ["COMMANDS", "main", "render_tree"]

Runner = Callable[[argparse.Namespace, TextIO], int]
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Runner]] = {}


def _default_db() -> str:
    return os.environ.get("PROMPTRAIL_DB") or "promptrail.db"


def _tokens(record: LogRecord) -> str:
    if record.prompt_tokens is None and record.output_tokens is None:
        return ""
    return f" tokens={record.prompt_tokens or 0}+{record.output_tokens or 0}"


def _duration(record: LogRecord) -> str:
    if record.provider_latency is None:
        return "?"
    ms = record.provider_latency * 1000
    return f"{ms:.0f}ms" if ms >= 10 else f"{ms:.2f}ms"


def render_tree(records: Sequence[LogRecord]) -> list[str]:
    """Return the lines of one trace drawn as an indented tree (children in start order).

    A log whose parent is not in ``records`` is drawn as a root, so a partial trace still shows.
    """
    ids = {r.log_id for r in records}
    children: dict[str | None, list[LogRecord]] = {}
    for record in sorted(records, key=lambda r: (r.start_time, r.log_id)):
        parent = record.trace_parent_id if record.trace_parent_id in ids else None
        children.setdefault(parent, []).append(record)
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for record in children.get(parent, []):
            marker = f"  ✗ {record.error}" if record.error else ""
            incomplete = record.metadata.get("promptrail.incomplete")
            note = f"  (incomplete: {incomplete})" if incomplete else ""
            lines.append(
                f"{'  ' * depth}{'└─ ' if depth else ''}{record.path} [{record.kind}] "
                f"{_duration(record)}{_tokens(record)}{marker}{note}"
            )
            walk(record.log_id, depth + 1)

    walk(None, 0)
    return lines


def _show_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace_id", nargs="?", help="show only this trace")
    parser.add_argument(
        "--db", default=None, help="the SQLite store (default: $PROMPTRAIL_DB or ./promptrail.db)"
    )
    parser.add_argument("--last", type=int, default=5, help="how many recent traces (default 5)")
    parser.add_argument("--json", action="store_true", help="print the logs as JSON lines")


def _show(args: argparse.Namespace, out: TextIO) -> int:
    store = SqliteStore(args.db or _default_db(), create=False)
    trace_ids = [args.trace_id] if args.trace_id else store.recent_trace_ids(args.last)
    if not trace_ids:
        out.write(f"no traces in {store.path}\n")
        return 0
    for trace_id in trace_ids:
        records = store.trace(trace_id)
        if not records:
            out.write(f"no trace {trace_id} in {store.path}\n")
            return 1
        if args.json:
            for record in records:
                out.write(json.dumps(record.to_body(), ensure_ascii=False) + "\n")
            continue
        out.write(f"trace {trace_id}  ({records[0].start_time:%Y-%m-%d %H:%M:%S} UTC)\n")
        for line in render_tree(records):
            out.write(f"  {line}\n")
        out.write("\n")
    return 0


COMMANDS["show"] = ("print recent traces from the SQLite store as trees", _show_parser, _show)
COMMANDS["serve"] = (_serve.HELP, _serve.configure_parser, _serve.run)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the ``promptrail`` command line; return the exit status.

    .. versionadded:: 0.1.0
    """
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="promptrail", description="Look at promptrail logs.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, configure_parser, _run) in COMMANDS.items():
        configure_parser(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    run = COMMANDS[args.command][2]
    try:
        return run(args, out)
    except NotAStoreError as exc:
        sys.stderr.write(f"promptrail: {exc}\n")
        return 2
