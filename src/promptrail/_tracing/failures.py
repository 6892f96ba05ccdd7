"""How a failed call is described in its record: the error line and the traceback.

Both run user code (the exception's ``__str__``) and read source files, so they run where the
record is built (the export worker), never on the caller's thread.
"""

from __future__ import annotations

import os
import traceback
from types import TracebackType

__all__ = ["ERROR_TRACEBACK_KEY", "MAX_TRACEBACK", "cut_traceback", "describe", "format_traceback"]

ERROR_TRACEBACK_KEY = "error_traceback"
"""Metadata key: the formatted traceback of the exception a call raised (redacted, bounded)."""

MAX_TRACEBACK = 8192
"""Characters of a traceback kept: its end (the innermost frames and the error itself)."""

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def format_traceback(exc: BaseException, tb: TracebackType | None) -> str | None:
    """Return ``exc``'s traceback as Python prints it, from the user's code on (bounded).

    ``tb`` is the traceback as it was when the log ended; promptrail's own frames (the wrapper)
    are left out. Cut text starts with a marker saying how much was cut. Runs user code (the
    exception's ``__str__``): whatever it raises gives ``None``.
    """
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE):
        tb = tb.tb_next
    try:
        text = "".join(traceback.format_exception(type(exc), exc, tb))
    except BaseException:
        return None
    return cut_traceback(text)


def cut_traceback(text: str) -> str:
    """Return the end of ``text`` (at most :data:`MAX_TRACEBACK` characters, whole lines).

    The cut is moved to the start of the next line: a secret cut in two would no longer match
    its format when the record is masked (``…k-proj-…`` is not an ``sk-`` key, ``…word=x`` is
    not a password assignment), and its tail would be kept. A last line longer than the limit
    (the error itself, also in the record's ``error``) is left out whole.
    """
    if len(text) <= MAX_TRACEBACK:
        return text
    start = text.find("\n", len(text) - MAX_TRACEBACK - 1) + 1  # a line starting at the cut stays
    if start == 0:
        start = len(text)
    return f"[{start} characters cut]\n…" + text[start:]


def describe(exc: BaseException) -> str:
    """Return ``"{ExceptionType}: {message}"`` for ``exc``, even if its ``__str__`` fails.

    ``__str__`` is user code: whatever it raises (``SystemExit`` and ``KeyboardInterrupt``
    included) is caught here, never passed on.
    """
    name = type(exc).__name__
    try:
        text = str(exc)
    except BaseException:
        text = f"<unprintable {name}>"
    return f"{name}: {text}" if text else name
