"""Run work on SIGTERM/SIGINT, then hand the signal to whatever was there before.

:func:`on_signal` wraps the handler in place: ours runs the action (bounded by the caller), then
calls the previous Python handler, or for the default action restores it and re-sends the signal
(the process then ends as it would have, with the signal's status). A handler the app installed is
never dropped: it runs after ours. An ignored signal stays ignored. Handlers can only be set from
the main thread: elsewhere nothing is installed.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from promptrail._runtime import errors as _errors

__all__ = ["on_signal"]

_installed: dict[int, Any] = {}  # signum -> our handler (to know whether it is still in place)


def on_signal(signum: int, action: Callable[[], bool], *, only_if_default: bool = False) -> bool:
    """Run ``action`` when ``signum`` arrives, then the previous handler (or default action).

    Args:
        signum: ``signal.SIGTERM``, ``signal.SIGINT``...
        action: Runs in the main thread, inside the handler; exceptions are reported. It
            returns False to keep the signal from the previous handler (the process is
            ending already).
        only_if_default: Install only when the app has not set a handler of its own.

    Returns:
        True if our handler is in place (now or from an earlier call).
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        previous = signal.getsignal(signum)
    except (ValueError, OSError):  # pragma: no cover - not a signal on this platform
        return False
    if previous is _installed.get(signum):
        return True
    if previous is signal.SIG_IGN or previous is None:  # ignored, or set outside Python
        return False
    default = signal.SIG_DFL if signum != signal.SIGINT else signal.default_int_handler
    if only_if_default and previous is not default and previous is not signal.SIG_DFL:
        return False

    def handler(received: int, frame: FrameType | None) -> None:
        try:
            if not action():
                return
        except Exception as exc:
            _errors.report("signal", exc, f"draining on signal {received} failed", internal=False)
        if callable(previous):
            previous(received, frame)
            return
        # The default action: put it back and deliver the signal again.
        signal.signal(received, signal.SIG_DFL)
        _installed.pop(received, None)
        os.kill(os.getpid(), received)

    try:
        signal.signal(signum, handler)
    except (ValueError, OSError):  # pragma: no cover - not allowed here
        return False
    _installed[signum] = handler
    return True
