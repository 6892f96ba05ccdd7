"""``promptrail prices MODEL``: what promptrail would charge per million tokens, and why."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from promptrail.providers._prices import describe_price

__all__ = ["HELP", "configure_parser", "run"]

HELP = "what promptrail charges for a model per million tokens, and where the price comes from"

_ROWS = (("input", "input"), ("output", "output"), ("cache read", "cache_read"))


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("model", help="the model name, as the provider reports it")
    parser.add_argument(
        "--provider", help="the provider (openai, anthropic, google, aws, mistral, ...)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Print the prices of ``args.model``; exit status 1 when no price is known."""
    described = describe_price(args.model, args.provider)
    if described is None:
        out.write(
            f"no price known for {args.model!r}: its calls get no cost. Register one with "
            f'promptrail.register_price("{args.model}", input=..., output=...)\n'
        )
        return 1
    if args.json:
        out.write(json.dumps(described) + "\n")
        return 0
    out.write(f"{args.model}  ({described['source']})\n")
    for label, key in (*_ROWS, ("cache write", "cache_write")):
        value = described[key]
        if value is not None:
            out.write(f"  {label:<12} ${value:>9.4f} / 1M tokens\n")
    return 0
