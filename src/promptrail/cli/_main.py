"""The ``promptrail`` command: ``show``, ``tail`` and ``stats`` over a store (SQLite or PostgreSQL).

Subcommands register themselves in :data:`COMMANDS` (name → (help, configure parser, run)), so a
module adding one (``serve``) does not touch the others. Drawing lives in ``_viewer``, following
in ``_follow``, figures in ``_query``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from promptrail._record.models import LogRecord
from promptrail._version import __version__
from promptrail.cli import _admin, _prices, _serve
from promptrail.cli._args import whole_number
from promptrail.cli._follow import Follower, NewTrace
from promptrail.cli._viewer import (
    Palette,
    format_cost,
    format_duration,
    render_trace,
    render_tree,
    sanitize,
)
from promptrail.exceptions import ConfigurationError
from promptrail.stores._base import NotAStoreError, Store, StoreUnavailableError
from promptrail.stores._open import is_postgres_url, open_store
from promptrail.stores._query import PathStats, parse_since, path_stats
from promptrail.stores._sqlite import default_db_path

__all__ = ["COMMANDS", "main", "render_tree"]

Runner = Callable[[argparse.Namespace, TextIO], int]
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Runner]] = {}


DB_HELP = (
    "the store: a SQLite file or a postgresql:// URL (default: $PROMPTRAIL_DB or ./promptrail.db)"
)


def _default_db() -> str:
    return default_db_path()


def _seconds(text: str) -> float:
    """An argparse type: a positive number of seconds (``inf``: no limit)."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:  # also NaN
        msg = f"not a positive number of seconds: {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return seconds


def _interval(text: str) -> float:
    """An argparse type: a positive number of seconds ``time.sleep`` accepts (not ``inf``)."""
    seconds = _seconds(text)
    if seconds > threading.TIMEOUT_MAX:
        msg = f"not a number of seconds to wait between polls: {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return seconds


def _since(text: str) -> str:
    try:
        return parse_since(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common(parser: argparse.ArgumentParser, *, filters: bool = True) -> None:
    parser.add_argument("--db", default=None, help=DB_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="colours: auto (a terminal, unless NO_COLOR is set), always or never",
    )
    if filters:
        parser.add_argument(
            "--path", help="only traces with a log at this path or under this folder"
        )
        parser.add_argument("--errors", action="store_true", help="only traces with an error")


def _write_json_lines(records: Sequence[LogRecord], out: TextIO) -> None:
    for record in records:
        out.write(json.dumps(record.to_body(), ensure_ascii=False) + "\n")


# -- show ------------------------------------------------------------------------------------------


def _show_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "trace_id", nargs="?", help="show only this trace (its id, or the start or end of it)"
    )
    _common(parser)
    parser.add_argument(
        "--last", type=whole_number(1), default=5, help="how many recent traces (default 5)"
    )
    parser.add_argument(
        "--since", type=_since, help="only traces since then: 30m, 1h, 2d or an ISO date/time"
    )
    parser.add_argument(
        "--full", action="store_true", help="add messages, output, inputs and metadata"
    )
    parser.add_argument(
        "--reverse",
        action="store_true",
        help="oldest first (default: newest first, as the web page)",
    )
    parser.add_argument("--session", help="only traces of this session (a session_id)")
    parser.add_argument("--user", help="only traces of this user")
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        help="only traces tagged so (repeat: every tag given)",
    )


def _resolve(store: Store, trace_id: str) -> str | None:
    """Return the full id of a trace given whole or shortened (the start or end of it)."""
    if store.trace_summaries([trace_id]):
        return trace_id
    matches = store.match_trace_ids(trace_id, limit=6) if len(trace_id) >= 4 else []
    if len(matches) == 1:
        return matches[0]
    shown = sanitize(trace_id)
    if matches:
        listed = ", ".join(sanitize(m) for m in matches[:5])
        sys.stderr.write(
            f"promptrail: {shown} is ambiguous: {listed}{', ...' * (len(matches) > 5)}\n"
        )
    else:
        sys.stderr.write(f"promptrail: no trace {shown} in {store.location}\n")
    return None


def _show(args: argparse.Namespace, out: TextIO) -> int:
    store = open_store(args.db or _default_db(), create=False)
    if args.trace_id:
        found = _resolve(store, args.trace_id)
        if found is None:
            return 1
        trace_ids = [found]
    else:
        trace_ids = store.recent_trace_ids(
            args.last,
            path=args.path,
            errors_only=args.errors,
            since=args.since,
            session_id=args.session,
            user=args.user,
            tags=args.tag,
        )
    if not trace_ids:
        if not args.json:
            out.write(f"no matching traces in {store.location}\n")
        return 0
    palette = Palette.for_stream(out, args.color)
    for trace_id in reversed(trace_ids) if args.reverse else trace_ids:  # newest first
        records = store.trace(trace_id)
        if args.json:
            _write_json_lines(records, out)
            continue
        for line in render_trace(records, palette=palette, full=args.full):
            out.write(line + "\n")
        out.write("\n")
    return 0


COMMANDS["show"] = ("print recent traces from the SQLite store as trees", _show_parser, _show)
COMMANDS["serve"] = (_serve.HELP, _serve.configure_parser, _serve.run)
COMMANDS["ui"] = (_serve.UI_HELP, _serve.configure_ui_parser, _serve.run_ui)


# -- tail ------------------------------------------------------------------------------------------


def _tail_parser(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument(
        "--last",
        type=whole_number(0),
        default=3,
        help="first show this many recent traces (default 3)",
    )
    parser.add_argument(
        "--interval", type=_interval, default=1.0, help="seconds between polls (default 1)"
    )
    parser.add_argument("--timeout", type=_seconds, help="stop after this many seconds")
    parser.add_argument(
        "--max-polls",
        type=whole_number(1),
        help="stop after this many polls (for scripts and tests)",
    )
    parser.add_argument("--full", action="store_true", help="add each log's details")


def _open_when_there(
    args: argparse.Namespace, stop: Callable[[int], bool]
) -> tuple[Store | None, bool]:
    """Open the store, waiting while the file does not exist yet; also say whether we waited."""
    path = args.db or _default_db()
    if is_postgres_url(path):
        return open_store(path, create=False), False
    polls = 0
    while True:
        if os.path.exists(path):
            try:
                return open_store(path, create=False), polls > 0
            except NotAStoreError:
                if not polls:  # it was there before us and is something else
                    raise
                # Created while we waited, schema not written yet: look again next time.
        if polls == 0:
            sys.stderr.write(f"promptrail: waiting for {path} to be created (Ctrl-C stops)\n")
        polls += 1
        if stop(polls):
            return None, True
        time.sleep(args.interval)


def _print_traces(traces: list[NewTrace], args: argparse.Namespace, out: TextIO) -> None:
    palette = Palette.for_stream(out, args.color)
    for new in traces:
        if args.json:
            _write_json_lines(new.records, out)
        elif new.late:
            label = palette.paint(f"late in trace {sanitize(new.trace_id)}:", "dim")
            out.write(label + "\n")
            for line in render_tree(new.records, palette):
                out.write(f"  {line}\n")
            out.write("\n")
        else:
            for line in render_trace(new.records, palette=palette, full=args.full):
                out.write(line + "\n")
            out.write("\n")
    out.flush()


def _tail(args: argparse.Namespace, out: TextIO) -> int:
    deadline = None if args.timeout is None else time.monotonic() + args.timeout

    def stop(polls: int) -> bool:
        if args.max_polls is not None and polls >= args.max_polls:
            return True
        return deadline is not None and time.monotonic() >= deadline

    try:
        store, waited = _open_when_there(args, stop)
        if store is None:
            return 0
        # A store that appeared while we waited is all new: follow it from its first log.
        follower = Follower(store, path=args.path, errors_only=args.errors, from_start=waited)
        if not waited:
            _print_traces(follower.backlog(args.last), args, out)
        polls = 0
        while not stop(polls):
            if polls:
                time.sleep(args.interval)
            _print_traces(follower.poll(), args, out)
            polls += 1
    except KeyboardInterrupt:
        return 0
    return 0


COMMANDS["tail"] = ("follow new traces as they are stored", _tail_parser, _tail)


# -- stats -----------------------------------------------------------------------------------------


def _stats_parser(parser: argparse.ArgumentParser) -> None:
    _common(parser, filters=False)
    parser.add_argument("--path", help="only this path, or the paths under this folder")
    parser.add_argument(
        "--since", type=_since, help="only logs since then: 30m, 1h, 2d or an ISO date/time"
    )


def _totals(rows: list[PathStats]) -> dict[str, Any]:
    count = sum(s.count for s in rows)
    errors = sum(s.errors for s in rows)
    costs = [s.cost for s in rows if s.cost is not None]
    return {
        "count": count,
        "errors": errors,
        "error_rate": errors / count if count else 0.0,
        "prompt_tokens": sum(s.prompt_tokens for s in rows),
        "output_tokens": sum(s.output_tokens for s in rows),
        "cost": sum(costs) if costs else None,
    }


def _stats(args: argparse.Namespace, out: TextIO) -> int:
    store = open_store(args.db or _default_db(), create=False)
    rows = path_stats(store.log_summaries(path=args.path, since=args.since))
    totals = _totals(rows)
    if args.json:
        body = {"since": args.since, "paths": [s.to_dict() for s in rows], "total": totals}
        out.write(json.dumps(body) + "\n")
        return 0
    palette = Palette.for_stream(out, args.color)
    window = f"since {args.since[:19].replace('T', ' ')} UTC" if args.since else "all time"
    out.write(palette.paint(f"{store.location}  {window}", "bold") + "\n")
    if not rows:
        out.write("no logs\n")
        return 0
    width = min(max(len("path"), *(len(sanitize(s.path)) for s in rows)), 56)
    head = (
        f"{'path':<{width}}  {'kind':<6} {'calls':>6} {'errors':>6} {'err%':>6} "
        f"{'p50':>8} {'p95':>8} {'p99':>8} {'tokens in+out':>15} {'cost':>9}"
    )
    out.write(palette.paint(head, "dim") + "\n")
    for s in rows:
        rate = palette.paint(f"{s.error_rate * 100:>5.1f}%", "red" if s.errors else "green")
        tokens = (
            f"{s.prompt_tokens}+{s.output_tokens}" if s.prompt_tokens or s.output_tokens else ""
        )
        out.write(
            f"{sanitize(s.path):<{width}}  {s.kind:<6} {s.count:>6} {s.errors:>6} {rate}"
            f" {format_duration(s.latency(50)):>8} {format_duration(s.latency(95)):>8}"
            f" {format_duration(s.latency(99)):>8} {tokens:>15} {format_cost(s.cost):>9}\n"
        )
    rate = f"{totals['error_rate'] * 100:.1f}%"
    tokens = f"{totals['prompt_tokens']}+{totals['output_tokens']}"
    out.write(
        palette.paint(
            f"{'total':<{width}}  {'':<6} {totals['count']:>6} {totals['errors']:>6} {rate:>6} "
            f"{'':>8} {'':>8} {'':>8} {tokens:>15} {format_cost(totals['cost']):>9}",
            "bold",
        )
        + "\n"
    )
    return 0


COMMANDS["stats"] = (
    "counts, error rate, latency percentiles, tokens and cost per path",
    _stats_parser,
    _stats,
)
COMMANDS["prices"] = (_prices.HELP, _prices.configure_parser, _prices.run)
COMMANDS["prune"] = (_admin.PRUNE_HELP, _admin.prune_parser, _admin.prune)
COMMANDS["db"] = (_admin.DB_HELP, _admin.db_parser, _admin.db)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the ``promptrail`` command line; return the exit status.

    .. versionadded:: 0.1.0
    """
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="promptrail", description="Look at promptrail logs.")
    parser.add_argument("--version", action="version", version=f"promptrail {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, configure_parser, _run) in COMMANDS.items():
        configure_parser(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    run = COMMANDS[args.command][2]
    try:
        return run(args, out)
    except (NotAStoreError, ConfigurationError) as exc:
        sys.stderr.write(f"promptrail: {exc}\n")
        return 2
    except StoreUnavailableError as exc:
        sys.stderr.write(f"promptrail: the store is unavailable: {exc}\n")
        return 3
    except BrokenPipeError:  # `promptrail show | head`: the reader left, which is fine
        if out is sys.stdout:  # pragma: no cover - needs a real closed pipe
            # Point stdout at /dev/null so the interpreter's final flush does not complain.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
