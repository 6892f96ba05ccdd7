"""The fast argument binder agrees with inspect.Signature.bind_partial + apply_defaults."""

from __future__ import annotations

import inspect
import itertools
from typing import Any

import pytest

from promptrail._tracing.active import ActiveLog
from promptrail._tracing.spec import CallSpec, _Binder


def _ordinary(a: Any, b: Any = 2, *, c: Any = 3, d: Any) -> None:
    """Positional-or-keyword and keyword-only parameters, some with defaults."""


def _chat(*, model: Any, messages: Any, temperature: Any = 1.0) -> None:
    """Keyword-only, like an SDK call."""


def _method(self: Any, x: Any, y: Any = 1) -> None:
    """A method's function (self included)."""


def _nothing() -> None:
    """No parameters."""


def _reference(sig: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        bound = sig.bind_partial(*args, **kwargs)
    except TypeError:
        return None
    bound.apply_defaults()
    return list(bound.arguments.items())


CALLS = [
    (args, kwargs)
    for n in range(4)
    for args in itertools.product([1, "x", None], repeat=n)
    for kwargs in (
        {},
        {"a": 9},
        {"b": 8},
        {"d": 6},
        {"model": "m", "messages": []},
        {"model": "m", "messages": [], "temperature": 0.5},  # all, in order: the shortcut
        {"messages": [], "temperature": 0.5, "model": "m"},  # all, another order
        {"a": 1, "b": 2, "c": 3, "d": 4},
        {"unknown": 1},
        {"y": 5, "x": 4},
    )
]


class TestBinder:
    @pytest.mark.parametrize("func", [_ordinary, _chat, _method, _nothing])
    def test_binds_like_inspect_or_defers(self, func: Any) -> None:
        """Every call binds to the same names, values and order as inspect, or returns None."""
        sig = inspect.signature(func)
        binder = _Binder.of(sig)
        assert binder is not None
        deferred = 0
        for args, kwargs in CALLS:
            got = binder.bind(args, kwargs)
            if got is None:
                deferred += 1
                continue
            assert list(got.items()) == _reference(sig, args, kwargs), (args, kwargs)
        assert deferred < len(CALLS)

    def test_defers_when_inspect_would_reject(self) -> None:
        """Too many positionals, unknown keywords and repeated arguments are left to inspect."""
        binder = _Binder.of(inspect.signature(_ordinary))
        assert binder is not None
        assert binder.bind((1, 2, 3), {}) is None
        assert binder.bind((), {"zzz": 1}) is None
        assert binder.bind((1,), {"a": 2}) is None

    def test_not_built_for_var_or_positional_only_parameters(self) -> None:
        """Signatures with *args, **kwargs or positional-only parameters use inspect."""

        def var(*args: Any, **kwargs: Any) -> None: ...

        def posonly(a: Any, /, b: Any) -> None: ...

        assert _Binder.of(inspect.signature(var)) is None
        assert _Binder.of(inspect.signature(posonly)) is None
        assert _Binder.of(None) is None

    def test_inputs_of_a_bound_method_skip_self(self) -> None:
        """The method binder drops self, so a log's inputs name only the real arguments."""
        spec = CallSpec(path="p", kind="prompt", signature=inspect.signature(_method))
        log = ActiveLog(spec, None, 1, 2, 3)
        log.args = (7,)
        log.kwargs = {"y": 9}
        log.bound = True
        assert log._inputs() == ({"x": 7, "y": 9}, None)

    def test_messages_are_split_from_inputs(self) -> None:
        """A ``messages`` argument is returned apart from the other inputs."""
        spec = CallSpec(path="p", kind="prompt", signature=inspect.signature(_chat))
        log = ActiveLog(spec, None, 1, 2, 3)
        log.kwargs = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        assert log._inputs() == (
            {"model": "m", "temperature": 1.0},
            [{"role": "user", "content": "hi"}],
        )
