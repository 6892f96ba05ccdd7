"""Locks that survive ``os.fork()``.

A lock held by another thread at the moment of ``fork()`` stays held forever in the child (the
thread that would release it does not exist there): the child's first log would deadlock. Objects
and modules register their locks here; in a forked child every registered lock is replaced by a
fresh one, before any of the work :mod:`promptrail._runtime.fork` redoes there. Objects are held
weakly.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from typing import Any

__all__ = ["hold_across_fork", "path_lock", "relock_after_fork", "take_failures"]

_RLOCK_TYPE = type(threading.RLock())
# Weak references in a list, not a WeakKeyDictionary: owners need not be hashable.
_objects: list[tuple[weakref.ref[Any], tuple[str, ...]]] = []
_modules: list[tuple[dict[str, Any], str]] = []
_guard = threading.Lock()
_failures: list[BaseException] = []


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


_path_locks: dict[str, threading.Lock] = {}
_held: list[tuple[weakref.ref[Any], str]] = []
_acquired: list[Any] = []
_FORK_WAIT = 5.0
"""Seconds ``fork()`` waits for one writer to finish its write (then forks anyway)."""


def hold_across_fork(owner: Any, name: str) -> None:
    """Make ``fork()`` wait until ``owner``'s lock ``name`` is free, and hold it meanwhile.

    For locks around writes to a file (SQLite, JSONL, the spool): a child forked mid-write
    would inherit the half-done state (an SQLite file lock its copy believes it holds) and could
    never write the file. The child gets a fresh lock (as with :func:`relock_after_fork`).
    Every :func:`path_lock` is held this way too.
    """
    relock_after_fork(owner, name)
    with _guard:
        _held[:] = [(ref, n) for ref, n in _held if ref() is not None]
        _held.append((weakref.ref(owner), name))


def _hold_before_fork() -> None:
    with _guard:
        locks: list[Any] = list(_path_locks.values())
        for ref, name in _held:
            owner = ref()
            if owner is not None:
                locks.append(getattr(owner, name, None))
    for lock in locks:
        try:
            if lock is not None and lock.acquire(timeout=_FORK_WAIT):
                _acquired.append(lock)
        except Exception as exc:  # pragma: no cover - defensive: fork must go on
            _failures.append(exc)


def _release_after_fork_in_parent() -> None:
    while _acquired:
        lock = _acquired.pop()
        with contextlib.suppress(RuntimeError):  # released meanwhile
            lock.release()


def path_lock(path: str | os.PathLike[str]) -> threading.Lock:
    """The in-process lock of a file, shared by every writer of this process using it.

    Look it up per write rather than keeping it: a forked child starts with new locks.
    """
    key = os.path.abspath(path)
    with _guard:
        return _path_locks.setdefault(key, threading.Lock())


def take_failures() -> list[BaseException]:
    """Return (and forget) the failures of the last re-locking in a forked child."""
    failures = _failures[:]
    _failures.clear()
    return failures


def _fresh(old: Any) -> Any:
    return threading.RLock() if isinstance(old, _RLOCK_TYPE) else threading.Lock()


def _relock_in_child() -> None:
    global _guard
    _guard = threading.Lock()
    _acquired.clear()  # the parent's copies: the child gets fresh locks below
    _path_locks.clear()  # a lock held by the parent's writer would never be released here
    # Each step on its own: one failure must not leave the rest with the parent's state.
    for namespace, name in _modules:
        try:
            namespace[name] = _fresh(namespace[name])
        except Exception as exc:  # pragma: no cover - defensive
            _failures.append(exc)
    for ref, names in list(_objects):
        owner = ref()
        for name in names if owner is not None else ():
            try:
                setattr(owner, name, _fresh(getattr(owner, name)))
            except Exception as exc:  # pragma: no cover - defensive
                _failures.append(exc)


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    # Registered when this module is first imported, before fork.py's hook (which imports it):
    # after-fork hooks run in registration order, so locks are fresh before any work is redone.
    os.register_at_fork(
        before=_hold_before_fork,
        after_in_parent=_release_after_fork_in_parent,
        after_in_child=_relock_in_child,
    )
