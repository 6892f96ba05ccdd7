"""The call-time wrappers, one per kind of function: sync, async, generator, async generator.

At call time a wrapper does only what must happen on the caller's thread: read the global
state, take the clock, snapshot the arguments, set the current-log contextvar, call, reset it,
and hand the ended log to the processors.

Generators are traced across their whole life. The parent is fixed when the generator is
*created*; the contextvar is set only around each resumption of the wrapped generator and reset
before each ``yield`` (no token is held across a yield, so closing the generator from another task
or thread is safe, and code the consumer runs between items does not nest under it). The log ends
when the generator is exhausted, raises, is closed, or is garbage-collected.

The synchronous wrapper (the common case) spells out ``start_log`` and ``end_log`` inline: each
Python call saved is ~5 % of a decorated call. The rare branches (first use, sampling, on_start
hooks, scopes, streams, no pipeline) stay in functions. Keep the two in step.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any

from promptrail._record.serialize import _ATOMIC
from promptrail._runtime.ids import next_seq
from promptrail._runtime.state import STATE, _State
from promptrail._tracing.active import ActiveLog
from promptrail._tracing.context import CURRENT, attach, detach
from promptrail._tracing.lifecycle import (
    DEFERRED,
    defer,
    end_incomplete,
    end_log,
    first_use,
    on_end_failed,
    route,
    run_deferred,
    snapshot_args,
    snapshot_kwargs,
    start_log,
    started,
)
from promptrail._tracing.spec import CallSpec
from promptrail._tracing.streams import STREAM_KINDS, TTFT_KEY, UNSEEN, wrapper_for

__all__ = [
    "Wrapper",
    "async_generator_wrapper",
    "async_wrapper",
    "generator_wrapper",
    "sync_wrapper",
]

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]
"""wrapt's wrapper signature: ``(wrapped, instance, args, kwargs)``."""

_stream_kind = STREAM_KINDS.get
_allocate = object.__new__


def _returned(st: _State, log: ActiveLog, result: Any) -> Any:
    """End the log now, or hand back a proxy that ends it with the returned stream."""
    wrap = wrapper_for(type(result))
    if wrap is None:
        end_log(st, log)
        return result
    return wrap(st, log, result)


def sync_wrapper(spec: CallSpec) -> Wrapper:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        st = STATE
        if not st.enabled:
            return wrapped(*args, **kwargs)
        # start_log(), inline
        if st.processors is None:
            first_use(st)
        capture = spec.capture_inputs
        if capture is None:
            capture = st.settings.capture_inputs
        if not capture:
            kept, kept_kwargs = (), None
        else:
            kept = args
            for arg in args:
                if type(arg) not in _ATOMIC:
                    kept = snapshot_args(st, args)
                    break
            kept_kwargs = snapshot_kwargs(st, kwargs) if kwargs else None
        # ActiveLog(...), inline: Python 3.11 cannot specialise a call to a class (type.__call__,
        # then __init__ in a nested interpreter frame); this is ~6 % of the call. Every slot is
        # set here as in ActiveLog.__init__ (tests/test_hot_path.py checks both ways agree).
        log: ActiveLog = _allocate(ActiveLog)
        log.spec = spec
        parent = log.parent = CURRENT.get()
        if parent is None:
            log._root = None
            log.sampled = True
        else:
            log._root = parent._root or parent
            log.sampled = parent.sampled
        log.seq = next_seq()
        # ``clock = st.x; clock()``, not ``st.x()``: a method-call lookup of an attribute that
        # holds a function cannot be specialised by the interpreter (a type lookup per call).
        clock = st.wall_ns
        log.start_ns = clock()
        clock = st.perf_ns
        log.perf_start = clock()
        log.perf_end = None
        log._ids = st.ids
        log._id = None
        log.args = kept
        log.kwargs = kept_kwargs
        log.bound = instance is not None
        log.result = None
        if st.slow_start:
            started(st, log)
        # the call
        token = CURRENT.set(log)
        attached = attach(st.scopes, log) if st.scopes else None
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            if attached is not None:
                detach(attached, log)
            CURRENT.reset(token)
            end_log(st, log, exc)
            raise
        if attached is not None:
            detach(attached, log)
        CURRENT.reset(token)
        log.result = result
        if _stream_kind(type(result), UNSEEN) is not None:  # a stream, or a type not seen yet
            return _returned(st, log, result)
        # end_log(), inline (the log cannot have ended yet)
        if DEFERRED:
            run_deferred()
        clock = st.perf_ns
        log.perf_end = clock()
        sink = st.sink
        if sink is not None and sink._running and log.sampled:
            # BatchProcessor.on_end, inline for the default pipeline (a Python call saved is ~7 %
            # of a call); tests/test_hot_path.py checks both ways agree.
            queue = sink._queue
            n = len(queue)
            queue.append(log)
            count = sink._next_enqueued
            count()
            if n >= sink._notify_at:
                try:
                    sink._batch_ready(n)
                except Exception as err:  # pragma: no cover - logging and an Event
                    on_end_failed(sink, err)
            return result
        enders = st.enders
        if log.sampled and enders:
            for processor in enders:
                try:
                    processor.on_end(log)
                except Exception as err:
                    on_end_failed(processor, err)
        else:
            route(st, log)
        return result

    return wrapper


def async_wrapper(spec: CallSpec) -> Wrapper:
    async def call(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        st = STATE
        log = start_log(st, spec, instance, args, kwargs)
        token = CURRENT.set(log)
        attached = attach(st.scopes, log) if st.scopes else None
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            if attached is not None:
                detach(attached, log)
            CURRENT.reset(token)
            end_log(st, log, exc)
            raise
        if attached is not None:
            detach(attached, log)
        CURRENT.reset(token)
        log.result = result
        if _stream_kind(type(result), UNSEEN) is not None:  # a stream, or a type not seen yet
            return _returned(st, log, result)
        end_log(st, log)
        return result

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not STATE.enabled:
            return wrapped(*args, **kwargs)
        return call(wrapped, instance, args, kwargs)

    return wrapper


class _EndIfAbandoned:
    """Ends a generator's log when the generator is collected without ever being resumed.

    Only the wrapper generator's frame references it, so it dies with that frame. If the log
    already ended (exhausted, closed, raised), it does nothing. When a started generator is
    collected as part of a reference cycle, the collector may finalise this guard before the
    generator itself: a log with yielded items is then marked ``closed``, not ``never_started``.
    """

    __slots__ = ("log", "st")

    def __init__(self, st: _State, log: ActiveLog) -> None:
        self.st = st
        self.log = log

    def __del__(self) -> None:
        # A suspended generator has yielded at least once, so items tell started from not.
        if self.log.ended:
            return
        reason = "never_started" if self.log.items is None else "closed"
        defer(functools.partial(end_incomplete, self.st, self.log, reason))


def generator_wrapper(spec: CallSpec) -> Wrapper:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        st = STATE
        if not st.enabled:
            return wrapped(*args, **kwargs)
        log = start_log(st, spec, instance, args, kwargs)
        try:
            gen = wrapped(*args, **kwargs)
        except BaseException as exc:
            end_log(st, log, exc)
            raise
        return _traced_generator(st, log, gen, _EndIfAbandoned(st, log))

    return wrapper


def _ended(st: _State, log: ActiveLog, exc: BaseException | None, closing: bool) -> None:
    """End a traced generator's log: ``closed`` if it ended while being closed."""
    if closing:
        end_incomplete(st, log, "closed")
    else:
        end_log(st, log, exc)


def _first_item(st: _State, log: ActiveLog) -> None:
    """Record ``metadata.time_to_first_token`` when a decorated generator yields its first item."""
    clock = st.perf_ns
    log.update({"metadata": {TTFT_KEY: (clock() - log.perf_start) / 1e9}})


def _traced_generator(
    st: _State, log: ActiveLog, gen: Generator[Any, Any, Any], guard: _EndIfAbandoned
) -> Generator[Any, Any, Any]:
    value: Any = None
    pending: BaseException | None = None
    closing = False  # GeneratorExit was thrown in (close(), or throw(GeneratorExit))
    while True:
        token = CURRENT.set(log)
        attached = attach(st.scopes, log) if st.scopes else None
        try:
            item = gen.send(value) if pending is None else gen.throw(pending)
        except StopIteration as stop:
            _ended(st, log, None, closing)
            return stop.value
        except BaseException as exc:
            _ended(st, log, exc, closing)
            raise
        finally:
            if attached is not None:
                detach(attached, log)
            CURRENT.reset(token)
        if log.items is None:
            _first_item(st, log)
        log.add_item(item)
        pending = None
        closing = False  # it yielded: a GeneratorExit thrown in was not the end
        try:
            value = yield item
        except BaseException as exc:
            # Thrown on as it came, GeneratorExit included: the generator may catch it and
            # return (close() then returns, throw() raises StopIteration) or yield again.
            pending = exc
            closing = type(exc) is GeneratorExit


def async_generator_wrapper(spec: CallSpec) -> Wrapper:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        st = STATE
        if not st.enabled:
            return wrapped(*args, **kwargs)
        log = start_log(st, spec, instance, args, kwargs)
        try:
            agen = wrapped(*args, **kwargs)
        except BaseException as exc:
            end_log(st, log, exc)
            raise
        return _traced_async_generator(st, log, agen, _EndIfAbandoned(st, log))

    return wrapper


async def _traced_async_generator(
    st: _State, log: ActiveLog, agen: AsyncGenerator[Any, Any], guard: _EndIfAbandoned
) -> AsyncGenerator[Any, Any]:
    value: Any = None
    pending: BaseException | None = None
    closing = False  # GeneratorExit was thrown in (aclose(), or athrow(GeneratorExit))
    while True:
        token = CURRENT.set(log)
        attached = attach(st.scopes, log) if st.scopes else None
        try:
            if pending is None:
                item = await agen.asend(value)
            else:
                item = await agen.athrow(pending)
        except StopAsyncIteration:
            _ended(st, log, None, closing)
            return
        except BaseException as exc:
            _ended(st, log, exc, closing)
            raise
        finally:
            if attached is not None:
                detach(attached, log)
            CURRENT.reset(token)
        if log.items is None:
            _first_item(st, log)
        log.add_item(item)
        pending = None
        closing = False  # it yielded: a GeneratorExit thrown in was not the end
        try:
            value = yield item
        except BaseException as exc:  # thrown on as it came, GeneratorExit included
            pending = exc
            closing = type(exc) is GeneratorExit
