"""Run work on SIGTERM/SIGINT, then hand the signal to whatever was there before.

:func:`on_signal` wraps the handler in place: ours runs the action (bounded by the caller), then
calls the previous Python handler, or for the default action restores it and re-sends the signal
(the process then ends as it would have, with the signal's status). A handler the app installed is
never dropped: it runs after ours. An ignored signal stays ignored. Handlers can only be set from
the main thread: elsewhere nothing is installed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from promptrail._runtime import errors as _errors

__all__ = ["on_signal", "watch_blocked_main_thread"]

_installed: dict[int, Any] = {}  # signum -> our handler (to know whether it is still in place)
_started: dict[int, threading.Event] = {}  # signum -> set when our handler starts running
_WATCH_GRACE = 0.2  # seconds the main thread has to run our handler before it is nudged


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
        started = _started.get(received)
        if started is not None:
            started.set()
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


def watch_blocked_main_thread(signum: int) -> bool:
    """Make sure our handler for ``signum`` runs even when the main thread is blocked in C.

    Python runs signal handlers in the main thread between bytecodes. A signal that arrives
    just before the main thread blocks in a C call (a ``multiprocessing`` worker waiting for its
    next task on a semaphore), or that the kernel hands to another thread, only marks the
    handler as due: it runs when the main thread next executes Python code, which may be never
    (``Pool.terminate()`` then waits for ever for a worker it sent SIGTERM). The C-level handler
    also writes the signal's number to the wakeup fd, which a watcher thread reads: if our
    handler has not started shortly after, the watcher sends the signal to the main thread
    again, which interrupts its blocking call, and the handler runs.

    Installed only from the main thread, with our handler in place, and when no wakeup fd is
    set already (asyncio's event loop uses it for its own signal handling).

    Returns:
        True if the watcher runs.
    """
    if threading.current_thread() is not threading.main_thread() or signum in _started:
        return signum in _started
    if signal.getsignal(signum) is not _installed.get(signum):
        return False
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except (ValueError, OSError):  # pragma: no cover - not allowed here
        os.close(read_fd)
        os.close(write_fd)
        return False
    if previous != -1:  # someone else's (asyncio): leave it alone
        signal.set_wakeup_fd(previous)
        os.close(read_fd)
        os.close(write_fd)
        return False
    started = threading.Event()
    _started[signum] = started
    main = threading.main_thread().ident
    assert main is not None

    def watch() -> None:
        while True:
            try:
                received = os.read(read_fd, 64)
            except OSError:  # pragma: no cover - the pipe is gone
                return
            if not received:  # pragma: no cover - closed
                return
            if signum in received:
                if not started.wait(_WATCH_GRACE):
                    with contextlib.suppress(OSError, ValueError):
                        signal.pthread_kill(main, signum)
                started.clear()

    threading.Thread(target=watch, name="promptrail-signals", daemon=True).start()
    return True


def _forget_in_child() -> None:
    # A forked child has no watcher thread; its wakeup fd is the parent's pipe's copy.
    if _started:
        _started.clear()
        with contextlib.suppress(ValueError, OSError):
            signal.set_wakeup_fd(-1)


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_forget_in_child)
