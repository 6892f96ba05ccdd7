"""How much of a captured value is kept: :class:`Limits`."""

from __future__ import annotations

import dataclasses
import numbers

from promptrail.exceptions import ConfigurationError

__all__ = ["DEFAULT_LIMITS", "TRUNCATED_MARK", "Limits"]

TRUNCATED_MARK = "…[truncated]"
"""Appended to a string cut at ``Limits.max_string``."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Limits:
    """Bounds applied when converting a value.

    Raises:
        ConfigurationError: If a bound is not a positive int.

    .. versionadded:: 0.1.0

    Attributes:
        max_string: Longest string kept, in characters.
        max_items: Most elements kept from one list or dict.
        max_depth: Deepest nesting converted; deeper containers become a bounded repr.
    """

    max_string: int = 32_768
    max_items: int = 1_000
    max_depth: int = 12

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            # Any integer type (numpy's included), kept as an int: the bounds are compared
            # for every value converted.
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                msg = f"Limits.{field.name} must be a positive int, not {value!r}"
                raise ConfigurationError(msg)
            object.__setattr__(self, field.name, int(value))


DEFAULT_LIMITS = Limits()
