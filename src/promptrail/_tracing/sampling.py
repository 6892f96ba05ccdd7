"""Per-trace sampling: a whole tree is kept or dropped, never half of it.

The root log of a trace draws once (``random() < sample_rate``); every log under it inherits the
decision (``ActiveLog.sampled``). Logs of an unsampled trace skip ``on_start`` and scopes and are
held on their root until the root ends. Then, if ``keep_errors`` is on and any log of the tree
failed, the whole tree goes to the processors after all; otherwise it is dropped and counted in
``stats().sampled_out``. A log ending after its unsampled root ended follows the root's decision
(an error in such a late log does not change it: a tree is never half kept).
At most :data:`MAX_PENDING` logs are held per trace; beyond that they are dropped and counted.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from promptrail._runtime.counters import AtomicCounter
from promptrail._runtime.locks import relock_after_fork

if TYPE_CHECKING:
    from promptrail._runtime.state import _State
    from promptrail._tracing.active import ActiveLog

__all__ = ["MAX_PENDING", "end_unsampled", "keep_trace", "sampled_out_count"]

MAX_PENDING = 10_000

_rng = random.Random()
_lock = threading.RLock()  # re-entrant: a log ended by the GC may arrive while it is held
_sampled_out = AtomicCounter()


def keep_trace(rate: float) -> bool:
    """Decide whether a new trace is kept."""
    return _rng.random() < rate


class _Held:
    """What an unsampled root keeps until it ends: its finished logs, and then its decision."""

    __slots__ = ("error", "kept", "logs")

    def __init__(self) -> None:
        self.logs: list[ActiveLog] = []
        self.error = False
        self.kept: bool | None = None


def end_unsampled(
    st: _State, log: ActiveLog, dispatch: Callable[[_State, ActiveLog], None]
) -> None:
    """Hold, release or drop an ended log of an unsampled trace."""
    root = log.root
    fresh = _Held() if root.held is None else None  # allocated before taking the lock
    with _lock:  # children may end on other threads while the root decides
        held = root.held
        if held is None:
            held = root.held = fresh if fresh is not None else _Held()
        if held.kept is None:  # undecided: the root is still running
            if log.error is not None:
                held.error = True
            if log is not root:
                if len(held.logs) < MAX_PENDING:
                    held.logs.append(log)
                else:
                    _sampled_out.increment()
                return
            held.kept = st.keep_errors and held.error
            batch = [*held.logs, root]
            held.logs = []
        else:  # a late log (a generator or thread outliving its root) follows the decision
            batch = [log]
        keep = held.kept
    if keep:
        for item in batch:
            dispatch(st, item)
    else:
        for _ in batch:
            _sampled_out.increment()


def sampled_out_count() -> int:
    """Return how many logs sampling dropped since the process started (or the last reset)."""
    return _sampled_out.value


def reset() -> None:
    """Forget the counts (tests)."""
    global _sampled_out
    _sampled_out = AtomicCounter()


relock_after_fork(globals(), "_lock")

if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    # Forked children must not all draw the same sampling decisions.
    os.register_at_fork(after_in_child=_rng.seed)
