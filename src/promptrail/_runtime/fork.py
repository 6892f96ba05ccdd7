"""Work to redo in a forked child: the ``call_after_fork`` registry.

Exporters and processors register bound methods (restart a worker thread, forget the parent's
queue); a forked child calls each, after :mod:`promptrail._runtime.locks` has replaced every
registered lock. A failure is reported and the rest still run. Objects are held weakly.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

from promptrail._runtime import errors as _errors
from promptrail._runtime import locks as _locks

__all__ = ["call_after_fork"]

_methods: list[weakref.WeakMethod[Any]] = []
_guard = threading.Lock()


def call_after_fork(method: Any) -> None:
    """Call the bound ``method`` in a forked child (its object is held weakly)."""
    with _guard:
        _methods[:] = [ref for ref in _methods if ref() is not None]  # forget dead objects
        _methods.append(weakref.WeakMethod(method))


def _after_fork_in_child() -> None:
    global _guard
    _guard = threading.Lock()
    failures = _locks.take_failures()
    for method_ref in list(_methods):
        method = method_ref()
        if method is None:
            continue
        try:
            method()
        except Exception as exc:
            failures.append(exc)
    for failure in failures:
        _errors.report("fork", failure, "re-initialising after fork failed", internal=False)


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)
