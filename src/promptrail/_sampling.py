"""Per-trace sampling: a whole tree is kept or dropped, never half of it.

The root log of a trace draws once (``random() < sample_rate``); every log under it inherits the
decision (``ActiveLog.sampled``). Logs of an unsampled trace skip ``on_start`` and scopes and are
held on their root until the root ends. Then, if ``keep_errors`` is on and any log of the tree
failed, the whole tree goes to the processors after all; otherwise it is dropped and counted in
``stats().sampled_out``. A log ending after its unsampled root ended follows the root's decision.
At most :data:`MAX_PENDING` logs are held per trace; beyond that they are dropped and counted.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from promptrail._counting import AtomicCounter

if TYPE_CHECKING:
    from promptrail._active import ActiveLog
    from promptrail._config import _State

__all__ = ["MAX_PENDING", "end_unsampled", "keep_trace", "sampled_out_count"]

MAX_PENDING = 10_000

_rng = random.Random()
_sampled_out = AtomicCounter()


def keep_trace(rate: float) -> bool:
    """Decide whether a new trace is kept."""
    return _rng.random() < rate


def end_unsampled(
    st: _State, log: ActiveLog, dispatch: Callable[[_State, ActiveLog], None]
) -> None:
    """Hold, release or drop an ended log of an unsampled trace."""
    root = log.root
    if log.error is not None:
        root.tree_error = True
    if log is not root and not root.ended:
        pending = root.pending
        if pending is None:
            pending = root.pending = []
        if len(pending) < MAX_PENDING:
            pending.append(log)
        else:
            _sampled_out.increment()
        return
    batch = [log]
    if log is root and root.pending:
        batch = [*root.pending, root]
        root.pending = None
    if st.keep_errors and root.tree_error:
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
