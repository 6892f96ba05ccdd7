"""Turning a decorated function's return value into log fields.

An extractor takes a return value and returns the log fields it can read from it (``output``,
``output_message``, token counts, ``finish_reason``, ...), or ``None`` when the value is not its
kind. Extractors run in the worker, never on the caller's thread. The first one that answers wins;
user extractors registered with :func:`register_extractor` are tried before the built-in ones.

The built-in ones read OpenAI ``ChatCompletion`` and Responses API ``Response`` objects, Anthropic
``Message`` objects, the same shapes as plain dicts (``providers._responses``), the summary a
wrapped stream leaves behind, and the items a decorated generator yielded when they are text or
stream chunks (:mod:`promptrail.providers._accumulate`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

from promptrail._runtime import errors as _errors
from promptrail._runtime.locks import relock_after_fork
from promptrail.providers._accumulate import StreamAccumulator
from promptrail.providers._responses import read_response

__all__ = ["Extractor", "extract", "register_extractor", "unregister_extractor"]


class Extractor(Protocol):
    """Reads log fields from a return value: a function ``(value) -> dict | None``.

    Return a dict of :class:`LogRecord` fields (``output``, ``output_message``,
    ``prompt_tokens``, ...) for values it understands, ``None`` to let the next extractor try.

    .. versionadded:: 0.1.0
    """

    def __call__(self, value: Any, /) -> Mapping[str, Any] | None:
        """Return the log fields read from ``value``, or ``None``."""
        ...


_lock = threading.Lock()
_extractors: tuple[Extractor, ...] = ()


def register_extractor(extractor: Extractor) -> None:
    """Add ``extractor`` in front of the others (it is tried first).

    Args:
        extractor: Called with the decorated function's return value (for generators, the list of
            yielded items); returns a dict of log fields, or ``None`` to pass.

    .. versionadded:: 0.1.0
    """
    global _extractors
    with _lock:
        _extractors = (extractor, *(e for e in _extractors if e is not extractor))


def unregister_extractor(extractor: Extractor) -> None:
    """Remove an extractor added with :func:`register_extractor` (no error if absent).

    .. versionadded:: 0.1.0
    """
    global _extractors
    with _lock:
        _extractors = tuple(e for e in _extractors if e is not extractor)


def extract(value: Any, *, is_stream: bool = False) -> dict[str, Any]:
    """Return the log fields read from ``value``.

    ``is_stream`` says that ``value`` is the list of items a generator yielded.
    """
    if value is None:
        return {}
    try:
        text = isinstance(value, str)
    except Exception:  # a user type whose ``__class__`` raises: it is not text
        text = False
    if text:
        return {"output": value}
    for extractor in _extractors:
        try:
            fields = extractor(value)
        except Exception as exc:
            name = getattr(extractor, "__qualname__", type(extractor).__qualname__)
            _errors.report(f"extract:{name}", exc, f"extractor {name} failed", internal=False)
            continue
        if fields is None:
            continue
        if isinstance(fields, Mapping):
            return dict(fields)
        name = getattr(extractor, "__qualname__", type(extractor).__qualname__)
        _errors.report(
            f"extract:{name}", None, f"extractor {name} returned a non-dict", internal=False
        )
    try:
        return _builtin(value, is_stream)
    except Exception as exc:  # a malformed response or chunk: keep the raw value instead
        _errors.report("extract:builtin", exc, "could not read the result", internal=False)
        return {"output": value}


_NUMBERS = frozenset({int, float, bool})


def _builtin(value: Any, is_stream: bool) -> dict[str, Any]:
    if type(value) in _NUMBERS:  # no response shape reads anything from a number
        return {"output": value}
    if isinstance(value, StreamAccumulator):  # what a wrapped stream leaves in ``log.result``
        return value.fields()
    if is_stream:
        if not value:
            return {"output": ""}
        accumulator = StreamAccumulator()
        for item in value:
            if not accumulator.add(item):
                return {"output": value}
        return accumulator.fields()
    fields = read_response(value)
    if fields is not None:
        return fields
    return {"output": value}


relock_after_fork(globals(), "_lock")
