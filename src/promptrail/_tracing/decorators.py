"""``@log_prompt``, ``@log_tool`` and ``@log_flow``: the decorators, built on wrapt.

At decoration time the function's kind (sync, async, generator, async generator), its signature
and its default path are computed once into a :class:`CallSpec`, and a wrapper specialised for the
kind is chosen. A plain synchronous function that is never bound (module-level or local) gets a
closure around that wrapper; everything else gets a wrapt proxy. At call time the wrapper does
only what must happen on the caller's thread: read the global state, take the clock, snapshot
the arguments, set the current-log contextvar, call, reset it, and hand the ended log to the
processors.

Generators are traced across their whole life. The parent is fixed when the generator is
*created*; the contextvar is set only around each resumption of the wrapped generator and reset
before each ``yield`` (no token is held across a yield, so closing the generator from another task
or thread is safe, and code the consumer runs between items does not nest under it). The log ends
when the generator is exhausted, raises, is closed, or is garbage-collected.
"""

from __future__ import annotations

import collections
import functools
import inspect
import types
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, ParamSpec, TypeVar, cast, overload

import wrapt

from promptrail._record.models import LogKind
from promptrail._record.serialize import _ATOMIC, ARGUMENT_DEPTH, dict_copy, snapshot
from promptrail._runtime import errors as _errors
from promptrail._runtime.counters import AtomicCounter
from promptrail._runtime.ids import next_seq
from promptrail._runtime.state import STATE, _State
from promptrail._tracing import sampling as _sampling
from promptrail._tracing.active import ActiveLog
from promptrail._tracing.context import CURRENT, attach, detach
from promptrail._tracing.spec import CallSpec
from promptrail._tracing.streams import STREAM_KINDS, TTFT_KEY, UNSEEN, wrapper_for
from promptrail.providers._tool_schema import tool_schema

__all__ = ["end_log", "log_flow", "log_prompt", "log_tool", "start_log"]

P = ParamSpec("P")
R = TypeVar("R")

_Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]

INCOMPLETE_KEY = "promptrail.incomplete"


# -- the hot path ---------------------------------------------------------------------------


# The synchronous wrapper (the common case) spells out ``start_log`` and ``end_log`` inline: each
# Python call saved is ~5 % of a decorated call. The rare branches (first use, sampling, on_start
# hooks, scopes, streams, no pipeline) stay in functions. Keep the two in step.


def start_log(
    st: _State, spec: CallSpec, instance: Any, args: tuple[Any, ...], kwargs: Any
) -> ActiveLog:
    """Create the log of a call starting now, under the current log, and tell the processors."""
    if st.processors is None:
        _first_use()
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
    if st.starters or st.sample_rate < 1.0:
        started(st, log)
    return log


def _first_use() -> None:
    from promptrail.pipeline._configure import ensure_processors

    ensure_processors()


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


_deferred: collections.deque[Callable[[], None]] = collections.deque()
"""Ends requested by garbage-collector finalizers, run by the next ordinary end (or a flush)."""


def defer(action: Callable[[], None]) -> None:
    """Run ``action`` (a finalizer's log end) later, outside the finalizer.

    A finalizer runs wherever the collector happens to run: possibly on a thread that holds one
    of promptrail's own locks (an exporter mid-write). Ending a log there could deadlock, so the
    finalizer only queues the end (``deque.append`` is atomic and takes no lock).
    """
    _deferred.append(action)


def run_deferred() -> None:
    """Run the log ends finalizers queued; never raises."""
    while _deferred:
        try:
            action = _deferred.popleft()
        except IndexError:  # pragma: no cover - another thread emptied it
            return
        try:
            action()
        except Exception as exc:
            _errors.report("finalizer", exc, "ending a collected log failed", internal=True)


def end_log(st: _State, log: ActiveLog, exc: BaseException | None = None) -> None:
    """End ``log`` (once) and hand it to the processors; never raises."""
    if _deferred:
        run_deferred()
    if log.perf_end is not None:  # ended already
        return
    log.perf_end = st.perf_ns()
    if exc is not None:
        log.error = describe(exc)
    route(st, log)


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


def describe(exc: BaseException) -> str:
    """Return ``"{ExceptionType}: {message}"`` for ``exc``, even if its ``__str__`` fails."""
    try:
        text = str(exc)
    except Exception:
        text = f"<unprintable {type(exc).__name__}>"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _incomplete(st: _State, log: ActiveLog, reason: str) -> None:
    if not log.ended:
        log.update({"metadata": {INCOMPLETE_KEY: reason}})
        end_log(st, log)


_stream_kind = STREAM_KINDS.get
_allocate = object.__new__


def _returned(st: _State, log: ActiveLog, result: Any) -> Any:
    """End the log now, or hand back a proxy that ends it with the returned stream."""
    wrap = wrapper_for(type(result))
    if wrap is None:
        end_log(st, log)
        return result
    return wrap(st, log, result)


def _sync_wrapper(spec: CallSpec) -> _Wrapper:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        st = STATE
        if not st.enabled:
            return wrapped(*args, **kwargs)
        # start_log(), inline
        if st.processors is None:
            _first_use()
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
        if st.starters or st.sample_rate < 1.0:
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
        if _deferred:
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


def _async_wrapper(spec: CallSpec) -> _Wrapper:
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
        defer(functools.partial(_incomplete, self.st, self.log, reason))


def _generator_wrapper(spec: CallSpec) -> _Wrapper:
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


def _first_item(st: _State, log: ActiveLog) -> None:
    """Record ``metadata.time_to_first_token`` when a decorated generator yields its first item."""
    clock = st.perf_ns
    log.update({"metadata": {TTFT_KEY: (clock() - log.perf_start) / 1e9}})


def _traced_generator(
    st: _State, log: ActiveLog, gen: Generator[Any, Any, Any], guard: _EndIfAbandoned
) -> Generator[Any, Any, Any]:
    value: Any = None
    pending: BaseException | None = None
    while True:
        token = CURRENT.set(log)
        attached = attach(st.scopes, log) if st.scopes else None
        try:
            item = gen.send(value) if pending is None else gen.throw(pending)
        except StopIteration as stop:
            end_log(st, log)
            return stop.value
        except BaseException as exc:
            end_log(st, log, exc)
            raise
        finally:
            if attached is not None:
                detach(attached, log)
            CURRENT.reset(token)
        if log.items is None:
            _first_item(st, log)
        log.add_item(item)
        pending = None
        try:
            value = yield item
        except GeneratorExit:
            token = CURRENT.set(log)
            attached = attach(st.scopes, log) if st.scopes else None
            try:
                gen.close()
            finally:
                if attached is not None:
                    detach(attached, log)
                CURRENT.reset(token)
                _incomplete(st, log, "closed")
            raise
        except BaseException as exc:
            pending = exc


def _async_generator_wrapper(spec: CallSpec) -> _Wrapper:
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
    while True:
        token = CURRENT.set(log)
        attached = attach(st.scopes, log) if st.scopes else None
        try:
            if pending is None:
                item = await agen.asend(value)
            else:
                item = await agen.athrow(pending)
        except StopAsyncIteration:
            end_log(st, log)
            return
        except BaseException as exc:
            end_log(st, log, exc)
            raise
        finally:
            if attached is not None:
                detach(attached, log)
            CURRENT.reset(token)
        if log.items is None:
            _first_item(st, log)
        log.add_item(item)
        pending = None
        try:
            value = yield item
        except GeneratorExit:
            token = CURRENT.set(log)
            attached = attach(st.scopes, log) if st.scopes else None
            try:
                await agen.aclose()
            finally:
                if attached is not None:
                    detach(attached, log)
                CURRENT.reset(token)
                _incomplete(st, log, "closed")
            raise
        except BaseException as exc:
            pending = exc


# -- wrapt subclasses that pickle by reference ----------------------------------------------


class _BoundTracedFunction(wrapt.BoundFunctionWrapper):  # type: ignore[type-arg]
    """A decorated function bound to an instance or class; pickles as ``getattr(obj, name)``."""

    def __reduce_ex__(self, protocol: Any) -> Any:
        # wrapt's own record of what it is bound to: ``__self__`` is proxied and can be the
        # wrapped function's attribute (which promptrail sets to None on plain functions).
        owner: Any = getattr(self, "_self_instance")  # noqa: B009 - invisible to type checkers
        return getattr, (owner, getattr(self, "__name__"))  # noqa: B009


class _TracedFunction(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """The decorated function; pickles by reference like the plain function it replaces."""

    __bound_function_wrapper__ = _BoundTracedFunction

    def __reduce_ex__(self, protocol: Any) -> Any:
        # A plain function pickles as "module.qualname"; the decorated one sits at that name.
        qualname: str = getattr(self, "__qualname__")  # noqa: B009
        return qualname


# -- decoration time ------------------------------------------------------------------------


def _unwrap_descriptor(obj: Any) -> Any:
    if isinstance(obj, (classmethod, staticmethod)):
        return obj.__func__
    return obj


def default_path(func: Any) -> str:
    """Return ``module/qualname`` with dots as slashes and ``<locals>`` parts dropped."""
    module: str = getattr(func, "__module__", None) or "unknown"
    qualname: str = getattr(func, "__qualname__", None) or str(
        getattr(func, "__name__", "function")
    )
    parts = [p for p in qualname.split(".") if p != "<locals>"]
    return "/".join([*module.split("."), *parts])


def _in_class_body(func: types.FunctionType) -> bool:
    """Whether ``func`` was defined in a class body (and will be bound as a method)."""
    owner = func.__qualname__.rpartition(".")[0]
    return bool(owner) and not owner.endswith("<locals>")


def _traced_function(func: types.FunctionType, wrapper: _Wrapper) -> Any:
    """The decorated form of a plain synchronous function: a closure, not a wrapt proxy.

    A function defined at module level or inside another function is never bound to an
    instance, so wrapt's descriptor machinery buys nothing there, and its call path (a C call
    into the Python wrapper plus a ``__self__`` lookup) costs about 1,200 interpreter
    instructions, ~7 % of a decorated call. The closure has the function's name, docstring,
    module, qualname (so it pickles by reference) and ``__wrapped__`` (so ``inspect.signature``
    sees the function's signature). Methods, classmethods, staticmethods, callables and the
    async and generator kinds keep the wrapt proxy.
    """

    def traced(*args: Any, **kwargs: Any) -> Any:
        return wrapper(func, None, args, kwargs)

    return functools.update_wrapper(traced, func)


def _decorate(func: Any, kind: LogKind, options: dict[str, Any]) -> Any:
    if isinstance(func, type):
        msg = (
            f"promptrail cannot decorate the class {func.__qualname__}; "
            "decorate its methods (or the function that calls the model) instead"
        )
        raise TypeError(msg)
    target = _unwrap_descriptor(func)
    if not callable(target):
        msg = f"promptrail decorates functions, not {type(func).__name__} objects"
        raise TypeError(msg)
    try:
        signature: inspect.Signature | None = inspect.signature(target)
    except (TypeError, ValueError):  # builtins without a signature
        signature = None
    prompt = {k: v for k, v in (options.get("prompt") or {}).items() if v is not None}
    spec = CallSpec(
        path=options.get("path") or default_path(target),
        kind=kind,
        signature=signature,
        prompt=prompt or None,
        metadata=options.get("metadata"),
        capture_inputs=options.get("capture_inputs"),
        capture_output=options.get("capture_output"),
        capture_provider_payloads=options.get("capture_provider_payloads"),
        tool=tool_schema(target) if kind == "tool" else None,
    )
    if inspect.isasyncgenfunction(target):
        wrapper = _async_generator_wrapper(spec)
    elif inspect.isgeneratorfunction(target):
        wrapper = _generator_wrapper(spec)
    elif inspect.iscoroutinefunction(target):
        wrapper = _async_wrapper(spec)
    else:
        wrapper = _sync_wrapper(spec)
        if type(func) is types.FunctionType and not _in_class_body(func):
            return _traced_function(func, wrapper)
    if type(func) is types.FunctionType and "__self__" not in func.__dict__:
        # wrapt's FunctionWrapper.__call__ reads ``wrapped.__self__`` on every call (to spot
        # callables bound before wrapping). On a plain function that read raises and swallows an
        # AttributeError, about 0.6 µs, a third of the call budget. ``__self__ = None`` answers
        # it at once; wrapt's binding (decided by inspect.isfunction) is unchanged.
        func.__dict__["__self__"] = None
    return _TracedFunction(func, wrapper)


def _apply(
    func: Callable[P, R] | None, kind: LogKind, options: dict[str, Any]
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate ``func`` now (bare decorator), or return the decorator (called with options)."""
    if func is not None:
        return cast("Callable[P, R]", _decorate(func, kind, options))

    def decorator(fn: Callable[P, R]) -> Callable[P, R]:
        return cast("Callable[P, R]", _decorate(fn, kind, options))

    return decorator


@overload
def log_prompt(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def log_prompt(
    *,
    path: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    endpoint: str | None = None,
    template: str | list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    capture_inputs: bool | None = None,
    capture_output: bool | None = None,
    capture_provider_payloads: bool | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def log_prompt(
    func: Callable[P, R] | None = None,
    /,
    *,
    path: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    endpoint: str | None = None,
    template: str | list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    capture_inputs: bool | None = None,
    capture_output: bool | None = None,
    capture_provider_payloads: bool | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Log every call of the decorated function as a ``prompt`` log (an LLM call).

    Works on functions, ``async def`` functions, generators and async generators, and on methods,
    classmethods and staticmethods (put ``@log_prompt`` outside ``@classmethod``). The result, the
    exceptions and the signature of the function are unchanged; ``@log_prompt`` and
    ``@log_prompt()`` are the same.

    Args:
        func: The function, when used without parentheses.
        path: Where the log is filed, ``folder/name``; default ``module/qualname``.
        model: Default ``prompt.model`` (call arguments win).
        provider: Default ``prompt.provider``, e.g. ``"openai"``.
        endpoint: Default ``prompt.endpoint``, ``"chat"`` or ``"complete"``.
        template: Default ``prompt.template``.
        metadata: Metadata added to every log of this function.
        capture_inputs: False logs no arguments (no ``inputs``, no ``messages``); ``None``
            follows ``configure(capture_inputs=...)``.
        capture_output: False logs no result; ``None`` follows
            ``configure(capture_outputs=...)``.
        capture_provider_payloads: True records ``provider_request``/``provider_response``;
            ``None`` follows ``configure(capture_provider_payloads=...)`` (off by default).

    Raises:
        TypeError: At decoration time, when applied to a class or a non-callable.

    .. versionadded:: 0.1.0
    """
    options: dict[str, Any] = {
        "path": path,
        "metadata": metadata,
        "capture_inputs": capture_inputs,
        "capture_output": capture_output,
        "capture_provider_payloads": capture_provider_payloads,
        "prompt": {
            "model": model,
            "provider": provider,
            "endpoint": endpoint,
            "template": template,
        },
    }
    return _apply(func, "prompt", options)


@overload
def log_tool(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def log_tool(
    *,
    path: str | None = None,
    metadata: dict[str, Any] | None = None,
    capture_inputs: bool | None = None,
    capture_output: bool | None = None,
    capture_provider_payloads: bool | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def log_tool(
    func: Callable[P, R] | None = None,
    /,
    *,
    path: str | None = None,
    metadata: dict[str, Any] | None = None,
    capture_inputs: bool | None = None,
    capture_output: bool | None = None,
    capture_provider_payloads: bool | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Log every call of the decorated function as a ``tool`` log.

    Same behaviour and options as :func:`log_prompt`, for functions a model calls as tools.

    .. versionadded:: 0.1.0
    """
    options: dict[str, Any] = {
        "path": path,
        "metadata": metadata,
        "capture_inputs": capture_inputs,
        "capture_output": capture_output,
        "capture_provider_payloads": capture_provider_payloads,
    }
    return _apply(func, "tool", options)


@overload
def log_flow(func: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def log_flow(
    *,
    path: str | None = None,
    metadata: dict[str, Any] | None = None,
    capture_inputs: bool | None = None,
    capture_output: bool | None = None,
    capture_provider_payloads: bool | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def log_flow(
    func: Callable[P, R] | None = None,
    /,
    *,
    path: str | None = None,
    metadata: dict[str, Any] | None = None,
    capture_inputs: bool | None = None,
    capture_output: bool | None = None,
    capture_provider_payloads: bool | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Log every call of the decorated function as a ``flow`` log (a workflow or agent run).

    The decorator form of :func:`trace`: every log made inside the call nests under it.

    .. versionadded:: 0.1.0
    """
    options: dict[str, Any] = {
        "path": path,
        "metadata": metadata,
        "capture_inputs": capture_inputs,
        "capture_output": capture_output,
        "capture_provider_payloads": capture_provider_payloads,
    }
    return _apply(func, "flow", options)
