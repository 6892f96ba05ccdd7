"""A log's life on the caller's side: start it, end it once, hand it to the processors.

The functions every tracing entry point shares (decorators, ``trace()``, stream proxies,
emitted outside logs): :func:`start_log` snapshots the arguments and sets the parent,
:func:`end_log` takes the clock and routes the log to sampling or to the processors'
``on_end``. Garbage-collector finalizers never end a log in place: they :func:`defer` it to
the next ordinary end (or flush), which may be on a thread that holds none of promptrail's
locks.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

from promptrail._record.serialize import _ATOMIC, ARGUMENT_DEPTH, dict_copy, snapshot
from promptrail._runtime import errors as _errors
from promptrail._runtime.counters import AtomicCounter
from promptrail._runtime.ids import next_seq
from promptrail._runtime.state import _State
from promptrail._tracing import sampling as _sampling
from promptrail._tracing.active import ActiveLog
from promptrail._tracing.build import describe
from promptrail._tracing.context import ATTRIBUTES, CURRENT
from promptrail._tracing.spec import CallSpec
from promptrail.providers._common import error_status

__all__ = [
    "DEFERRED",
    "ERROR_STATUS_KEY",
    "ERROR_TYPE_KEY",
    "INCOMPLETE_KEY",
    "UNROUTED",
    "defer",
    "describe",
    "dispatch",
    "end_incomplete",
    "end_log",
    "first_use",
    "on_end_failed",
    "route",
    "run_deferred",
    "snapshot_args",
    "snapshot_kwargs",
    "start_log",
    "started",
]

INCOMPLETE_KEY = "promptrail.incomplete"


# -- the hot path ---------------------------------------------------------------------------


# The synchronous wrapper (the common case) spells out ``start_log`` and ``end_log`` inline: each
# Python call saved is ~5 % of a decorated call. The rare branches (first use, sampling, on_start
# hooks, scopes, streams, no pipeline) stay in functions. Keep the two in step.


ERROR_STATUS_KEY = "error_status"
"""Metadata key: the HTTP status of the error a call raised (an SDK's ``APIStatusError``)."""

ERROR_TYPE_KEY = "error_type"
"""Metadata key: the type of that error (``RateLimitError``, ...), next to its status."""


def start_log(
    st: _State, spec: CallSpec, instance: Any, args: tuple[Any, ...], kwargs: Any
) -> ActiveLog:
    """Create the log of a call starting now, under the current log, and tell the processors."""
    if st.processors is None:
        first_use(st)
    capture = spec.capture_inputs
    if capture is None:
        capture = st.settings.capture_inputs
    if not capture:
        args, kwargs = (), None
    else:
        for arg in args:
            if type(arg) not in _ATOMIC:
                args = snapshot_args(st, args)
                break
        kwargs = snapshot_kwargs(st, kwargs) if kwargs else None
    log = ActiveLog(
        spec,
        CURRENT.get(),
        next_seq(),
        st.wall_ns(),
        st.perf_ns(),
        st.ids,
        args,
        kwargs,
        instance is not None,
    )
    if st.slow_start:
        started(st, log)
    return log


def first_use(st: _State) -> None:
    """Build the default pipeline (the pipeline layer sets ``STATE.install_default``)."""
    install = st.install_default
    if install is not None:
        install()


def snapshot_args(st: _State, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The positional arguments as the log keeps them (containers copied, long ones cut)."""
    limit = st.settings.limits.max_items
    return tuple([snapshot(a, ARGUMENT_DEPTH, limit) for a in args])


def snapshot_kwargs(st: _State, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments as the log keeps them (containers copied, long ones cut)."""
    limit = st.settings.limits.max_items
    kept = kwargs.copy()
    atomic = _ATOMIC
    for k, v in kept.items():  # replacing values while iterating is allowed
        t = type(v)
        if t in atomic:
            continue
        if t is list and len(v) <= limit:
            # A message list: snapshot(v, ARGUMENT_DEPTH) spelled out for ARGUMENT_DEPTH == 2
            # (each dict in it copied), ~5 % of an LLM-shaped call. tests/test_hot_path.py
            # checks both give equal copies.
            kept[k] = [
                dict_copy(x)
                if type(x) is dict and len(x) <= limit
                else x
                if type(x) in atomic
                else snapshot(x, ARGUMENT_DEPTH - 1, limit)
                for x in v.copy()
            ]
        else:
            kept[k] = snapshot(v, ARGUMENT_DEPTH, limit)
    return kept


def started(st: _State, log: ActiveLog) -> None:
    """Decide sampling for a new trace and call the processors' ``on_start`` hooks."""
    if st.inherit:
        inherited = ATTRIBUTES.get()
        if inherited is not None:
            log.attrs = inherited
    if log.parent is None and st.sample_rate < 1.0:
        log.sampled = _sampling.keep_trace(st.sample_rate)
    if not log.sampled:
        return
    for processor in st.starters:
        try:
            processor.on_start(log)
        except Exception as exc:
            name = type(processor).__name__
            _errors.report(f"on_start:{name}", exc, f"{name}.on_start raised", internal=False)


DEFERRED: collections.deque[Callable[[], None]] = collections.deque()
"""Ends requested by garbage-collector finalizers, run by the next ordinary end (or a flush)."""


def defer(action: Callable[[], None]) -> None:
    """Run ``action`` (a finalizer's log end) later, outside the finalizer.

    A finalizer runs wherever the collector happens to run: possibly on a thread that holds one
    of promptrail's own locks (an exporter mid-write). Ending a log there could deadlock, so the
    finalizer only queues the end (``deque.append`` is atomic and takes no lock).
    """
    DEFERRED.append(action)


def run_deferred() -> None:
    """Run the log ends finalizers queued; never raises."""
    while DEFERRED:
        try:
            action = DEFERRED.popleft()
        except IndexError:  # pragma: no cover - another thread emptied it
            return
        try:
            action()
        except Exception as exc:
            _errors.report("finalizer", exc, "ending a collected log failed", internal=True)


def end_log(st: _State, log: ActiveLog, exc: BaseException | None = None) -> None:
    """End ``log`` (once) and hand it to the processors; never raises."""
    if DEFERRED:
        run_deferred()
    if log.perf_end is not None:  # ended already
        return
    log.perf_end = st.perf_ns()
    if exc is not None:
        # Kept as the object: formatting it runs user code (``__str__``), which may raise,
        # exit or block; the worker describes it when it builds the record.
        log.error = exc
        # Its traceback now: the exception's grows with every frame it leaves afterwards.
        log.error_tb = exc.__traceback__
        _http_status(log, exc)
    target = log.merge_into
    if target is not None:
        if not target.ended:
            return  # an SDK call completing ``target``: read when ``target`` is built
        # ``target`` ended first (it returned the stream unread): this call is a log of its own.
        log.merge_into = None
        target.sdk = None
    route(st, log)


def _http_status(log: ActiveLog, exc: BaseException) -> None:
    """Keep the HTTP status and type of an SDK's error (see :func:`error_status`)."""
    status = error_status(exc)
    if status is not None:
        log.update({"metadata": {ERROR_STATUS_KEY: status, ERROR_TYPE_KEY: type(exc).__name__}})


def route(st: _State, log: ActiveLog) -> None:
    """Hand an ended log on: to the processors, or to sampling if its trace is not sampled."""
    if not log.sampled:
        _sampling.end_unsampled(st, log, dispatch)
        return
    dispatch(st, log)


UNROUTED = AtomicCounter()
"""Logs that ended with no processor to take them (after ``shutdown()``): counted as dropped."""
_unrouted_warning = _errors.RateLimitedWarning(
    "promptrail: %d logs ended with no pipeline (after shutdown()); call configure() to log again"
)


def dispatch(st: _State, log: ActiveLog) -> None:
    """Hand an ended log to every processor's ``on_end``; never raises."""
    enders = st.enders
    if not enders:  # shut down: nothing takes the log, but its loss is counted, never silent
        UNROUTED.increment()
        _unrouted_warning.hit()
        return
    for processor in enders:
        try:
            processor.on_end(log)
        except Exception as err:
            on_end_failed(processor, err)


def on_end_failed(processor: Any, err: Exception) -> None:
    """Report a processor's ``on_end`` that raised."""
    if _errors.is_reraised(err):
        raise err
    name = type(processor).__name__
    _errors.report(f"on_end:{name}", err, f"{name}.on_end raised", internal=False)


def end_incomplete(st: _State, log: ActiveLog, reason: str) -> None:
    """End ``log`` marked ``metadata["promptrail.incomplete"] = reason`` (unless it ended)."""
    if not log.ended:
        log.update({"metadata": {INCOMPLETE_KEY: reason}})
        end_log(st, log)
