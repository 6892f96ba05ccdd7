"""Locks that survive ``os.fork()``.

A lock held by another thread at the moment of ``fork()`` stays held forever in the child (the
thread that would release it does not exist there): the child's first log would deadlock. Objects
and modules register their locks here; in a forked child every registered lock is replaced by a
fresh one. Objects are held weakly.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

__all__ = ["call_after_fork", "path_lock", "relock_after_fork"]

_RLOCK_TYPE = type(threading.RLock())
# Weak references in a list, not a WeakKeyDictionary: owners need not be hashable.
_objects: list[tuple[weakref.ref[Any], tuple[str, ...]]] = []
_modules: list[tuple[dict[str, Any], str]] = []
_methods: list[weakref.WeakMethod[Any]] = []
_guard = threading.Lock()


def relock_after_fork(owner: Any, *names: str) -> None:
    """Replace ``owner``'s lock attributes ``names`` with fresh locks in a forked child.

    ``owner`` is an object (held weakly) or a module's ``globals()`` (held for good).
    """
    with _guard:
        if isinstance(owner, dict):
            _modules.extend((owner, name) for name in names)
        else:
            _objects[:] = [(ref, n) for ref, n in _objects if ref() is not None]
            _objects.append((weakref.ref(owner), names))


def call_after_fork(method: Any) -> None:
    """Call the bound ``method`` in a forked child (its object is held weakly)."""
    with _guard:
        _methods[:] = [ref for ref in _methods if ref() is not None]  # forget dead objects
        _methods.append(weakref.WeakMethod(method))


_path_locks: dict[str, threading.Lock] = {}


def path_lock(path: str | os.PathLike[str]) -> threading.Lock:
    """The in-process lock of a file, shared by every writer of this process using it.

    Look it up per write rather than keeping it: a forked child starts with new locks.
    """
    key = os.path.abspath(path)
    with _guard:
        return _path_locks.setdefault(key, threading.Lock())


def _fresh(old: Any) -> Any:
    return threading.RLock() if isinstance(old, _RLOCK_TYPE) else threading.Lock()


def _after_fork_in_child() -> None:
    global _guard
    _guard = threading.Lock()
    _path_locks.clear()  # a lock held by the parent's writer would never be released here
    # Each step on its own: one failure must not leave the rest with the parent's state.
    failures: list[BaseException] = []
    for namespace, name in _modules:
        try:
            namespace[name] = _fresh(namespace[name])
        except Exception as exc:  # pragma: no cover - defensive
            failures.append(exc)
    for ref, names in list(_objects):
        owner = ref()
        for name in names if owner is not None else ():
            try:
                setattr(owner, name, _fresh(getattr(owner, name)))
            except Exception as exc:  # pragma: no cover - defensive
                failures.append(exc)
    for method_ref in list(_methods):
        method = method_ref()
        if method is None:
            continue
        try:
            method()
        except Exception as exc:
            failures.append(exc)
    for failure in failures:
        from promptrail._runtime import errors as _errors  # here: _errors imports this module

        _errors.report("fork", failure, "re-initialising after fork failed", internal=False)


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)
