"""Checks of the values users pass to promptrail's options, and how errors name a value.

One rule everywhere an option is checked (``configure()``, the decorators, the processors,
``register_price``): a flag is a bool, or ``0``/``1`` (which meant False and True before options
were checked); a number is any real number but a bool; an error names a wrong value by its type,
never by its ``repr``, which may quote a key (a misplaced client's, a header dict's) or raise.
"""

from __future__ import annotations

import numbers

__all__ = ["is_flag", "is_number", "type_name"]


def is_flag(value: object) -> bool:
    """Whether ``value`` is a bool, ``0`` or ``1``."""
    return isinstance(value, int) and value in (0, 1)


def is_number(value: object) -> bool:
    """Whether ``value`` is a real number (numpy's and ``Fraction`` included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def type_name(value: object) -> str:
    """How an error message names ``value``: its type's qualified name."""
    return type(value).__qualname__
