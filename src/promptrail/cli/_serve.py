"""``promptrail serve`` and ``promptrail ui``: the receiver, or the viewer alone, under uvicorn.

uvicorn and FastAPI are imported only when a command runs.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import Any, TextIO

from promptrail.cli._admin import parse_age
from promptrail.cli._args import whole_number
from promptrail.exceptions import ConfigurationError
from promptrail.server._retention import Retention
from promptrail.stores._base import StoreUnavailableError
from promptrail.stores._open import open_store
from promptrail.stores._sqlite import default_db_path

__all__ = ["cannot_listen", "configure_parser", "configure_ui_parser", "run", "run_ui"]

HELP = "run the log receiver (a Humanloop-compatible API over a SQLite or PostgreSQL store)"
UI_HELP = "open the trace viewer web page over a local store (read-only, no keys, 127.0.0.1)"


def cannot_listen(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (in use, not an address here), or None.

    Checked before the app is built and the addresses are announced; the socket is closed at
    once and uvicorn binds its own (with the same ``SO_REUSEADDR``).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.create_server((host, port), family=family):
            return None
    except OSError as exc:
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def _network_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine)"
    )
    parser.add_argument(
        "--port",
        type=whole_number(0, 65535, "a port number (0 to 65535)"),
        default=8000,
        help="port (default 8000)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the viewer answers to, besides the bound address and loopback names "
        "(repeatable); other Host headers get 400 (DNS rebinding)",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="close a connection that has not sent its request headers within this time "
        "(default 10)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=None,
        help="connections served at once; past it the one waiting longest for its headers is "
        "closed (default: below the open-file limit)",
    )


def _serve_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"host": args.host, "port": args.port}
    if args.header_timeout is not None:
        options["header_timeout"] = args.header_timeout
    if args.max_connections is not None:
        options["max_connections"] = args.max_connections
    return options


def _viewer_hosts(args: argparse.Namespace) -> list[str]:
    from promptrail.server._web import LOOPBACK_HOSTS

    # The viewer is read-only and needs no key: answer only to the names this server is
    # known by (a page whose name resolves here must not read the traces).
    return [*LOOPBACK_HOSTS, args.host, *args.allowed_host]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` options to ``parser``."""
    parser.add_argument(
        "--db",
        default=None,
        help="the store: a SQLite file or a postgresql:// URL shared by several receivers "
        "(default: $PROMPTRAIL_DB or ./promptrail.db)",
    )
    parser.add_argument(
        "--retain",
        type=parse_age,
        default=None,
        help="delete traces older than this (30d, 12h), checked hourly; one replica at a time",
    )
    _network_options(parser)
    parser.add_argument(
        "--max-body-bytes", type=int, default=None, help="largest request body (default 1 MiB)"
    )
    parser.add_argument(
        "--no-viewer",
        action="store_true",
        help="do not serve the trace viewer page at / (the API under /v5 only)",
    )
    parser.epilog = KEYS_NEEDED


KEYS_NEEDED = (
    "API keys: set PROMPTRAIL_SERVER_API_KEYS to one or more keys, comma-separated (clients send "
    "one in X-API-KEY, or as Authorization: Bearer). They are not taken on the command line, "
    "where ps would show them."
)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Serve until interrupted; return the exit status.

    API keys come from ``$PROMPTRAIL_SERVER_API_KEYS`` only (a key on the command line would
    show in ``ps``).
    """
    try:
        from promptrail.server._app import DEFAULT_MAX_BODY_BYTES, create_app
        from promptrail.server._serving import serve
    except ImportError as exc:
        sys.stderr.write(
            f"promptrail: serve needs the server extra ({exc.name} is missing): "
            "pip install 'promptrail[server]'\n"
        )
        return 2
    if not any(k.strip() for k in os.environ.get("PROMPTRAIL_SERVER_API_KEYS", "").split(",")):
        sys.stderr.write(f"promptrail: serve needs at least one API key.\n{KEYS_NEEDED}\n")
        return 2
    problem = cannot_listen(args.host, args.port)
    if problem:
        sys.stderr.write(f"promptrail: {problem}\n")
        return 2
    db = args.db or default_db_path()
    try:
        app = create_app(db_path=db, max_body_bytes=args.max_body_bytes or DEFAULT_MAX_BODY_BYTES)
    except (ConfigurationError, StoreUnavailableError) as exc:
        sys.stderr.write(f"promptrail: {exc}\n")
        return 2
    store = app.state.store
    if args.retain is not None:
        interval = float(os.environ.get("PROMPTRAIL_RETAIN_INTERVAL", "3600"))
        Retention(store, args.retain, interval=interval).start()
        out.write(f"promptrail: deleting traces older than {args.retain / 86400:g} days\n")
    if not args.no_viewer:
        from promptrail.server._web import create_web_app

        app.mount("/", create_web_app(app.state.store, allowed_hosts=_viewer_hosts(args)))
        out.write(f"promptrail: trace viewer at http://{args.host}:{args.port}/\n")
    out.write(f"promptrail: serving {store.location} at http://{args.host}:{args.port}/v5\n")
    out.write(f"promptrail: OTLP/HTTP traces at http://{args.host}:{args.port}/v1/traces\n")
    out.write(
        f"promptrail: OTLP/HTTP logs (GenAI events) at http://{args.host}:{args.port}/v1/logs\n"
    )
    out.flush()
    serve(app, **_serve_options(args))
    return 0


def configure_ui_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``ui`` options to ``parser``."""
    parser.add_argument(
        "--db",
        default=None,
        help="the store to view: a SQLite file or a postgresql:// URL "
        "(default: $PROMPTRAIL_DB or ./promptrail.db)",
    )
    _network_options(parser)


def run_ui(args: argparse.Namespace, out: TextIO) -> int:
    """Serve the trace viewer alone (GET routes only, no keys) until interrupted."""
    try:
        from promptrail.server._serving import serve
        from promptrail.server._web import create_web_app
    except ImportError as exc:
        sys.stderr.write(
            f"promptrail: ui needs the server extra ({exc.name} is missing): "
            "pip install 'promptrail[server]'\n"
        )
        return 2
    store = open_store(args.db or default_db_path(), create=False)
    problem = cannot_listen(args.host, args.port)
    if problem:
        sys.stderr.write(f"promptrail: {problem}\n")
        return 2
    app = create_web_app(store, allowed_hosts=_viewer_hosts(args))
    out.write(f"promptrail: trace viewer for {store.location} at http://{args.host}:{args.port}/\n")
    out.flush()
    serve(app, **_serve_options(args))
    return 0
