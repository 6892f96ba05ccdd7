"""An instrumented SDK call: a log of its own, or the completion of the enclosing prompt log.

``integrations/`` patches the SDKs' methods; each patched call comes here. Inside a
``@log_prompt`` log that has not yet recorded an LLM call, the SDK call *completes* that log: it
gets a log object that is never handed to the processors (``merge_into``), and the enclosing
log's record reads the request as sent and the response from it (``build.py``). Anywhere else
(inside a flow or tool log, a second SDK call in the same prompt log, or outside any log) the SDK
call is a ``prompt`` log of its own, a child of the current log.

Streams come back wrapped by the same proxies as a decorated function's returned stream
(``streams.py``): the log ends, or the enclosing log is completed, when the stream does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from promptrail._runtime.ids import next_seq
from promptrail._runtime.state import STATE, _State
from promptrail._tracing.active import ActiveLog
from promptrail._tracing.context import CURRENT, attach, detach
from promptrail._tracing.lifecycle import end_log, snapshot_kwargs, start_log
from promptrail._tracing.spec import CallSpec
from promptrail._tracing.streams import wrapper_for

__all__ = ["ERROR_STATUS_KEY", "ERROR_TYPE_KEY", "call_async", "call_sync", "sdk_spec"]

ERROR_STATUS_KEY = "error_status"
"""Metadata key: the HTTP status of an error an SDK raised (``APIStatusError.status_code``)."""

ERROR_TYPE_KEY = "error_type"
"""Metadata key: the type of the error an SDK raised (``RateLimitError``, ...)."""


def sdk_spec(path: str) -> CallSpec:
    """The spec of an instrumented SDK method's logs (kind ``prompt``, default path ``path``)."""
    return CallSpec(path=path, kind="prompt", signature=None, instrumented=True)


def _completes(current: ActiveLog | None) -> bool:
    """Whether an SDK call made now completes ``current`` rather than starting a child log."""
    return (
        current is not None
        and current.spec.kind == "prompt"
        and not current.spec.instrumented
        and current.sdk is None
        and not current.ended
    )


def _merged_log(st: _State, spec: CallSpec, target: ActiveLog, kwargs: Any) -> ActiveLog:
    """The never-dispatched log of an SDK call that completes ``target``."""
    capture = spec.capture_inputs
    kept = snapshot_kwargs(st, kwargs) if kwargs and (capture is None or capture) else None
    log = ActiveLog(spec, target, next_seq(), st.wall_ns(), st.perf_ns(), st.ids, (), kept)
    log.merge_into = target
    target.sdk = log
    return log


def _failed(st: _State, log: ActiveLog, exc: BaseException) -> None:
    """End ``log`` with the SDK's error; its HTTP status and type go to metadata."""
    metadata: dict[str, Any] = {ERROR_TYPE_KEY: type(exc).__name__}
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        metadata[ERROR_STATUS_KEY] = status
    log.update({"metadata": metadata})
    end_log(st, log, exc)


def _finished(st: _State, log: ActiveLog, result: Any) -> Any:
    """End ``log`` with ``result``, or hand back a proxy that ends it with the stream."""
    log.result = result
    wrap = wrapper_for(type(result))
    if wrap is None:
        end_log(st, log)
        return result
    return wrap(st, log, result)


def call_sync(
    spec: CallSpec, wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Call the SDK method ``wrapped`` and log it; the SDK's result and errors are untouched."""
    st = STATE
    if not st.enabled:
        return wrapped(*args, **kwargs)
    current = CURRENT.get()
    if _completes(current):
        assert current is not None  # for the type checker: _completes checked it
        log = _merged_log(st, spec, current, kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            _failed(st, log, exc)
            raise
        return _finished(st, log, result)
    log = start_log(st, spec, None, (), kwargs)
    token = CURRENT.set(log)
    attached = attach(st.scopes, log) if st.scopes else None
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        if attached is not None:
            detach(attached, log)
        CURRENT.reset(token)
        _failed(st, log, exc)
        raise
    if attached is not None:
        detach(attached, log)
    CURRENT.reset(token)
    return _finished(st, log, result)


async def call_async(
    spec: CallSpec, wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The coroutine form of :func:`call_sync`, for the SDKs' async clients."""
    st = STATE
    if not st.enabled:
        return await wrapped(*args, **kwargs)
    current = CURRENT.get()
    if _completes(current):
        assert current is not None
        log = _merged_log(st, spec, current, kwargs)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            _failed(st, log, exc)
            raise
        return _finished(st, log, result)
    log = start_log(st, spec, None, (), kwargs)
    token = CURRENT.set(log)
    attached = attach(st.scopes, log) if st.scopes else None
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        if attached is not None:
            detach(attached, log)
        CURRENT.reset(token)
        _failed(st, log, exc)
        raise
    if attached is not None:
        detach(attached, log)
    CURRENT.reset(token)
    return _finished(st, log, result)
