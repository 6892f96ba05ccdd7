"""``promptrail prune`` (delete old traces) and ``promptrail db upgrade`` (apply migrations)."""

from __future__ import annotations

import argparse
import re
from typing import TextIO

from promptrail.stores._open import open_store
from promptrail.stores._query import parse_since
from promptrail.stores._sqlite import default_db_path

__all__ = ["DB_HELP", "PRUNE_HELP", "db", "db_parser", "parse_age", "prune", "prune_parser"]

PRUNE_HELP = "delete the traces older than an age (e.g. 30d), in SQLite or PostgreSQL"
DB_HELP = "manage the store's schema: db upgrade applies pending migrations"
_STORE_HELP = (
    "the store: a SQLite file or a postgresql:// URL (default: $PROMPTRAIL_DB or ./promptrail.db)"
)
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> float:
    """Return the seconds in an age such as ``30d``, ``12h`` or ``90m``.

    Raises:
        argparse.ArgumentTypeError: ``text`` is not a number and a unit (s, m, h, d, w).
    """
    match = _AGE.match(text)
    if not match or float(match.group(1)) <= 0:
        msg = f"not an age: {text!r} (try 30d, 12h or 90m)"
        raise argparse.ArgumentTypeError(msg)
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def prune_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``prune`` options to ``parser``."""
    parser.add_argument("--db", default=None, help=_STORE_HELP)
    parser.add_argument(
        "--older-than",
        required=True,
        type=parse_age,
        help="delete the traces whose every log started longer ago than this (30d, 12h)",
    )


def prune(args: argparse.Namespace, out: TextIO) -> int:
    """Delete old traces; print how many logs went."""
    store = open_store(args.db or default_db_path(), create=False)
    try:
        gone = store.prune(parse_since(f"{args.older_than}s"))
    finally:
        store.close()
    out.write(f"promptrail: pruned {gone} logs older than {args.older_than / 86400:g} days\n")
    return 0


def db_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``db`` subcommands to ``parser``."""
    parser.add_argument("action", choices=["upgrade"], help="upgrade: apply pending migrations")
    parser.add_argument("--db", default=None, help=_STORE_HELP)


def db(args: argparse.Namespace, out: TextIO) -> int:
    """Apply the migrations a store lacks (``serve`` does it at start too)."""
    store = open_store(args.db or default_db_path(), create=True)  # applies them, under a lock
    try:
        version = store.schema_version()
    finally:
        store.close()
    out.write(f"promptrail: {store.location} is at schema version {version}\n")
    return 0
