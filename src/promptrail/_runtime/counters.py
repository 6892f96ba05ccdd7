"""A lock-free event counter for the hot path."""

from __future__ import annotations

import itertools

__all__ = ["AtomicCounter"]


class AtomicCounter:
    """Counts events from any thread without a lock.

    ``increment`` is ``itertools.count().__next__``, which is atomic under the GIL (a C call that
    does not release it), so concurrent increments are never lost. Reading the value does not
    consume one.
    """

    __slots__ = ("_count", "increment")

    def __init__(self) -> None:
        self._count = itertools.count()
        self.increment = self._count.__next__

    @property
    def value(self) -> int:
        """The number of increments so far."""
        # itertools.count has no "peek"; its repr carries the next value: "count(N)".
        text = repr(self._count)
        return int(text[6:-1])
