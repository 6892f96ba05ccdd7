"""The current log, held in one ContextVar, and helpers that carry it into threads.

Each asyncio task runs in a copy of its creator's context, so ``asyncio.gather`` and
``create_task`` nest correctly on their own. Threads do not: ``threading.Thread`` and
``ThreadPoolExecutor`` start with an empty context. :func:`bind_context` and
:class:`ContextThreadPoolExecutor` copy the caller's context into the thread, so a call made
there nests under the log that was current when the work was submitted.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, Self, TypeVar

from promptrail._runtime import errors as _errors

if TYPE_CHECKING:
    from promptrail._tracing.active import ActiveLog

__all__ = [
    "ATTRIBUTES",
    "CURRENT",
    "IN_SDK_REQUEST",
    "AsyncBlock",
    "ContextThreadPoolExecutor",
    "Scope",
    "attach",
    "bind_context",
    "detach",
    "get_current_log_id",
    "get_current_trace_id",
]

P = ParamSpec("P")
R = TypeVar("R")

CURRENT: contextvars.ContextVar[ActiveLog | None] = contextvars.ContextVar(
    "promptrail_current_log", default=None
)
"""The log in progress in this context (the parent of any log started now)."""


ATTRIBUTES: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "promptrail_attributes", default=None
)
"""The attributes every log started now inherits (an ``attributes.Inherited``), or ``None``.

Set by ``attributes()`` and ``trace(session_id=..., user=..., tags=...)`` blocks; read only once
``STATE.inherit`` is set (see ``lifecycle.started``), so the hot path never reads it otherwise."""


IN_SDK_REQUEST: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "promptrail_in_sdk_request", default=False
)
"""True while a stream manager promptrail already logs starts its request: the SDK methods it
calls inside (``stream()`` helpers call ``create(stream=True)``) are not logged a second time."""


def get_current_log_id() -> str | None:
    """Return the ``log_id`` of the log in progress, or ``None`` outside any log.

    .. versionadded:: 0.1.0
    """
    log = CURRENT.get()
    return None if log is None else log.log_id


def get_current_trace_id() -> str | None:
    """Return the ``trace_id`` of the trace in progress, or ``None`` outside any log.

    .. versionadded:: 0.1.0
    """
    log = CURRENT.get()
    return None if log is None else log.trace_id


def bind_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Return ``fn`` bound to a copy of the current context, to run in another thread.

    Logs started inside the returned callable nest under the log that was current when
    ``bind_context`` was called::

        threading.Thread(target=promptrail.bind_context(work)).start()

    Each call of the returned function runs in its own copy, so it may be called from several
    threads at once.

    .. versionadded:: 0.1.0
    """
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return ctx.copy().run(fn, *args, **kwargs)

    return run


class AsyncBlock:
    """``async with`` for a block whose ``__enter__``/``__exit__`` never wait (a mixin)."""

    def __enter__(self) -> Self:
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class ContextThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose tasks run in a copy of the submitter's context.

    A drop-in replacement: ``executor.submit(fn)`` and ``executor.map(fn, ...)`` calls nest under
    the log current at submission. (Plain ``ThreadPoolExecutor`` tasks become separate traces.)

    .. versionadded:: 0.1.0
    """

    def submit(
        self, fn: Callable[..., R], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[R]:
        """Schedule ``fn(*args, **kwargs)`` in a copy of the current context."""
        ctx = contextvars.copy_context()
        return super().submit(ctx.run, fn, *args, **kwargs)


class Scope(Protocol):
    """A processor that also follows each log's *execution*, not just its start and end.

    ``attach`` runs whenever a log's code starts or resumes running (a call, each step of a
    generator, a ``trace()`` block) and ``detach`` when it stops or suspends, in the same context:
    the OpenTelemetry bridge uses it to make the log's span current while its code runs. A
    processor that has both methods is used as a scope automatically.

    .. versionadded:: 0.1.0
    """

    def attach(self, log: ActiveLog) -> object:
        """Enter ``log``'s scope; return a token for :meth:`detach`."""
        ...

    def detach(self, log: ActiveLog, token: object) -> None:
        """Leave ``log``'s scope entered with ``token``."""
        ...


def attach(scopes: tuple[Scope, ...], log: ActiveLog) -> list[tuple[Scope, object]]:
    """Attach every scope to ``log``; return the (scope, token) pairs to hand to :func:`detach`.

    A scope whose ``attach`` raises is reported and left out (it is not detached). Logs of traces
    dropped by sampling are not attached (their processors never see them). The pairs, not the
    global scopes, are what ``detach`` uses: ``configure()`` may change the scopes meanwhile.
    """
    attached: list[tuple[Scope, object]] = []
    if not log.sampled:
        return attached
    for scope in scopes:
        try:
            attached.append((scope, scope.attach(log)))
        except Exception as exc:
            name = type(scope).__name__
            _errors.report(f"attach:{name}", exc, f"{name}.attach raised", internal=False)
    return attached


def detach(attached: list[tuple[Scope, object]], log: ActiveLog) -> None:
    """Detach what :func:`attach` attached, innermost first; never raises."""
    for scope, token in reversed(attached):
        try:
            scope.detach(log, token)
        except Exception as exc:
            name = type(scope).__name__
            _errors.report(f"detach:{name}", exc, f"{name}.detach raised", internal=False)
