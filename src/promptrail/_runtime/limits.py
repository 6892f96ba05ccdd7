"""How much of a captured value is kept: :class:`Limits`."""

from __future__ import annotations

import dataclasses

__all__ = ["DEFAULT_LIMITS", "TRUNCATED_MARK", "Limits"]

TRUNCATED_MARK = "…[truncated]"
"""Appended to a string cut at ``Limits.max_string``."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Limits:
    """Bounds applied when converting a value.

    .. versionadded:: 0.1.0

    Attributes:
        max_string: Longest string kept, in characters.
        max_items: Most elements kept from one list or dict.
        max_depth: Deepest nesting converted; deeper containers become a bounded repr.
    """

    max_string: int = 32_768
    max_items: int = 1_000
    max_depth: int = 12


DEFAULT_LIMITS = Limits()
