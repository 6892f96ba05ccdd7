"""``@flush_after``: deliver a handler's logs before a serverless platform freezes the process.

AWS Lambda, Google Cloud Functions and Azure Functions freeze (or end) the process as soon as the
handler returns: the export worker then never runs, and the logs of that invocation wait until
the next one thaws it, or are lost with the instance. ``@flush_after`` calls :func:`flush` when
the handler returns or raises, on the handler's own thread, within ``timeout``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from promptrail._runtime import errors as _errors
from promptrail.exceptions import ConfigurationError
from promptrail.pipeline._configure import flush

__all__ = ["flush_after"]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_TIMEOUT = 5.0
"""How long ``@flush_after`` waits for delivery by default, in seconds."""


def _flush(timeout: float) -> None:
    try:
        flush(timeout)
    except Exception as exc:  # pragma: no cover - flush never raises (a bug if it does)
        _errors.report("flush_after", exc, "flush after a handler failed", internal=True)


@overload
def flush_after(func: F, /) -> F: ...


@overload
def flush_after(*, timeout: float = DEFAULT_TIMEOUT) -> Callable[[F], F]: ...


def flush_after(func: F | None = None, /, *, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """Flush the pipeline each time the decorated function returns or raises.

    For serverless handlers (sync or ``async``), as ``@promptrail.flush_after`` or
    ``@promptrail.flush_after(timeout=2)``. When the handler returns, every log finished during
    it has been delivered, or, with :class:`~promptrail.exporters.HttpExporter`, written to its
    spool on disk (sent by a later invocation of the same instance; an instance the platform
    discards takes its spool with it), unless ``timeout`` ran out first. The handler's result and
    exceptions pass through unchanged; the flush never raises.

    Args:
        func: The handler.
        timeout: The most the flush may add to an invocation, in seconds.

    Raises:
        ConfigurationError: If ``timeout`` is not a positive number, or what is decorated is a
            generator function (a handler returns).

    .. versionadded:: 0.2.0
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        msg = f"flush_after's timeout must be a positive number of seconds, not {timeout!r}"
        raise ConfigurationError(msg)

    def decorate(handler: F) -> F:
        if not callable(handler):
            msg = f"flush_after decorates a function, not {handler!r}"
            raise ConfigurationError(msg)
        if inspect.isgeneratorfunction(handler) or inspect.isasyncgenfunction(handler):
            msg = f"flush_after decorates a handler that returns, not the generator {handler!r}"
            raise ConfigurationError(msg)
        if inspect.iscoroutinefunction(handler):

            @functools.wraps(handler)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await handler(*args, **kwargs)
                finally:
                    _flush(timeout)

            return run_async  # type: ignore[return-value]

        @functools.wraps(handler)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            finally:
                _flush(timeout)

        return run  # type: ignore[return-value]

    return decorate if func is None else decorate(func)
