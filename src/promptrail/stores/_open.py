"""``open_store(target)``: a ``postgresql://`` URL opens PostgreSQL, anything else SQLite."""

from __future__ import annotations

import os

from promptrail.exceptions import ConfigurationError
from promptrail.stores._base import Store
from promptrail.stores._sqlite import SqliteStore

__all__ = ["is_postgres_url", "open_store"]


def is_postgres_url(target: str | os.PathLike[str]) -> bool:
    """Whether ``target`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def open_store(target: str | os.PathLike[str], *, create: bool = True) -> Store:
    """Open the store at ``target``: a ``postgresql://`` URL, else a SQLite file path.

    Args:
        target: A PostgreSQL URL (needs ``promptrail[postgres]``) or a SQLite path.
        create: Create the SQLite file or apply PostgreSQL migrations when missing; when False,
            a store that is not there raises :class:`~promptrail.stores._sqlite.NotAStoreError`.

    .. versionadded:: 0.1.0
    """
    if is_postgres_url(target):
        try:
            from promptrail.stores._postgres import PostgresStore  # psycopg: an optional extra
        except ImportError as exc:
            msg = (
                f"a postgresql:// store needs the postgres extra ({exc.name} is missing): "
                "pip install 'promptrail[postgres]'"
            )
            raise ConfigurationError(msg) from exc

        return PostgresStore(str(target), create=create)
    return SqliteStore(target, create=create)
