"""An instrumented SDK call that completes the enclosing prompt log.

``integrations/`` patches the SDKs' methods. Inside a ``@log_prompt`` log that has not yet recorded
an LLM call, the SDK call *completes* that log: it gets a log object that is never handed to the
processors (``merge_into``), and the enclosing log's record reads the request as sent and the
response from it (``build.py``). Anywhere else (inside a flow or tool log, a second SDK call in
the same prompt log, or outside any log) the SDK call is a ``prompt`` log of its own, traced by
the same wrappers as a decorated function (``wrappers.py``), with an instrumented spec.

Streams come back wrapped by the same proxies as a decorated function's returned stream
(``streams.py``): the enclosing log is completed when the stream ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from promptrail._runtime.ids import next_seq
from promptrail._runtime.state import _State
from promptrail._tracing.active import ActiveLog
from promptrail._tracing.lifecycle import end_log, snapshot_kwargs
from promptrail._tracing.spec import CallSpec
from promptrail._tracing.streams import wrapper_for

__all__ = ["complete_async", "complete_sync", "completes", "sdk_spec"]


def sdk_spec(path: str, *, provider: str | None = None) -> CallSpec:
    """The spec of an instrumented SDK method's logs (kind ``prompt``, default path ``path``).

    ``provider`` names the server an OpenAI-compatible client talks to (``groq``, ``azure``).
    """
    prompt = {"provider": provider} if provider else None
    return CallSpec(path=path, kind="prompt", signature=None, prompt=prompt, instrumented=True)


def completes(current: ActiveLog | None) -> bool:
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


def _finished(st: _State, log: ActiveLog, result: Any) -> Any:
    """End ``log`` with ``result``, or hand back a proxy that ends it with the stream."""
    log.result = result
    wrap = wrapper_for(type(result))
    if wrap is None:
        end_log(st, log)
        return result
    return wrap(st, log, result)


def complete_sync(
    st: _State,
    spec: CallSpec,
    target: ActiveLog,
    wrapped: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Call the SDK method ``wrapped``; its request and response complete ``target``."""
    log = _merged_log(st, spec, target, kwargs)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        end_log(st, log, exc)
        raise
    return _finished(st, log, result)


async def complete_async(
    st: _State,
    spec: CallSpec,
    target: ActiveLog,
    wrapped: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """The coroutine form of :func:`complete_sync`, for the SDKs' async clients."""
    log = _merged_log(st, spec, target, kwargs)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        end_log(st, log, exc)
        raise
    return _finished(st, log, result)
