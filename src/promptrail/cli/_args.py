"""Argument types the commands share: a number out of range is a usage error, not a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["whole_number"]


def whole_number(low: int, high: int | None = None, what: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` (to ``high``), else a usage error.

    ``what`` names it in the error (default: "a whole number from LOW up").
    """
    named = what or f"a whole number from {low} up"

    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            number = None
        if number is None or number < low or (high is not None and number > high):
            msg = f"not {named}: {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return number

    return parse
