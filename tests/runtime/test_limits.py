"""Limits: the bounds on a captured value are checked where they are made."""

from __future__ import annotations

import numbers

import pytest

import promptrail
from promptrail import Limits
from promptrail.testing import capture_logs


class TestLimits:
    """Limits(...) accepts positive ints only."""

    @pytest.mark.parametrize(
        "bounds",
        [{"max_string": -1}, {"max_items": -5}, {"max_depth": 0}, {"max_string": "10"}],
    )
    def test_a_bound_that_is_not_a_positive_int(self, bounds: dict[str, object]) -> None:
        """A negative, zero or non-int bound raises ConfigurationError naming it."""
        (name,) = bounds
        with pytest.raises(promptrail.ConfigurationError, match=f"Limits.{name}"):
            Limits(**bounds)  # type: ignore[arg-type]

    def test_small_bounds_still_cut(self) -> None:
        """A bound of 1 is valid: values are cut to it."""
        promptrail.configure(limits=Limits(max_string=1, max_items=1, max_depth=1))

        @promptrail.log_prompt(path="a/b")
        def echo(text: str, items: list[int]) -> str:
            return text

        with capture_logs() as logs:
            echo("hello", [1, 2, 3])
        assert logs[0].inputs is not None
        assert logs[0].inputs["text"].startswith("h…")


class _Bound:
    """An integer type of another library (numpy's int64, say): an Integral that is not an int."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    def __lt__(self, other: int) -> bool:
        return self.value < other


numbers.Integral.register(_Bound)


def test_a_bound_of_another_integer_type_is_kept_as_an_int() -> None:
    """A positive bound of any integer type is accepted, and kept as a plain int."""
    limits = Limits(max_items=_Bound(5))  # type: ignore[arg-type]
    assert limits.max_items == 5
    assert type(limits.max_items) is int
