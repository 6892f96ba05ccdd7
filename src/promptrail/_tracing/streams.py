"""Streams returned by decorated functions: a transparent proxy that ends the log at the end.

When a decorated function *returns* a stream (an OpenAI or Anthropic SDK ``Stream``/
``AsyncStream``, one of their ``*Stream`` helpers or managers, or a plain generator
or async generator object), the call is not over when the function returns: the answer arrives
as the caller iterates. :func:`wrapper_for` decides, once per result type, whether a result is
such a stream; the decorator then hands the caller a proxy (``wrapt.ObjectProxy``) instead:

- it yields exactly the items of the original, in order, without copying or buffering them, and
  keeps every attribute (``response``, ``text_stream``, ``get_final_message()`` ...), ``close()``
  and the (async) context-manager protocol;
- it folds each item into a :class:`StreamAccumulator` (text pieces, tool
  call fragments, usage, finish reason) and records ``metadata["time_to_first_token"]`` (seconds
  from the call's start to the first item);
- it ends the log once: when the stream is exhausted, raises (``error`` set, the partial output
  kept), is closed or left through ``with`` before the end (``metadata["promptrail.incomplete"]
  = "closed"``), or is garbage-collected unfinished (``"never_started"``/``"abandoned"``).

SDK helpers that accumulate the message themselves (Anthropic ``MessageStream``, OpenAI
``ChatCompletionStream``/``ResponseStream``) may be consumed through methods that bypass the proxy
(``get_final_message()``, ``until_done()``); for those the log is built from the helper's own
snapshot when it is complete.

Types are recognised by module name and class name only: ``openai`` and ``anthropic`` are never
imported here.
"""

from __future__ import annotations

import functools
import types
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import wrapt

from promptrail._runtime import errors as _errors
from promptrail._runtime.state import STATE
from promptrail._tracing.context import IN_SDK_REQUEST
from promptrail._tracing.lifecycle import INCOMPLETE_KEY, defer, end_log
from promptrail.providers._accumulate import StreamAccumulator
from promptrail.providers._common import SDKS, get

if TYPE_CHECKING:
    from promptrail._runtime.state import _State
    from promptrail._tracing.active import ActiveLog

__all__ = ["STREAM_KINDS", "TTFT_KEY", "UNSEEN", "Wrap", "wrapper_for"]

TTFT_KEY = "time_to_first_token"

Wrap = Callable[["_State", "ActiveLog", Any], Any]
"""Makes the proxy handed to the caller in place of a returned stream."""

# -- the state shared by a proxy and its finalizer --------------------------------------------


class _Tap:
    """Accumulates one stream and ends its log once; held by the proxy and its GC finalizer.

    It never references the proxy, so the proxy can be collected (which runs the finalizer).
    """

    __slots__ = ("acc", "done", "first", "log", "snapshot", "source", "st")

    def __init__(
        self, st: _State, log: ActiveLog, source: Any, snapshot: Callable[[Any], Any] | None
    ) -> None:
        self.st = st
        self.log = log
        self.acc = StreamAccumulator()
        self.first: int | None = None
        self.done = False
        self.source = source
        self.snapshot = snapshot

    def item(self, item: Any) -> None:
        if self.done:  # the worker may be reading the accumulator already
            return
        if self.first is None:
            self.first = self.st.perf_ns()
        try:
            self.acc.add(item)
        except Exception as exc:  # a malformed chunk must not break the user's loop
            self.acc.unknown = True
            _errors.report("stream:accumulate", exc, "could not read a stream item", internal=False)

    def finish(self, exc: BaseException | None = None, incomplete: str | None = None) -> None:
        if self.done:
            return
        self.done = True
        log = self.log
        try:
            metadata: dict[str, Any] = {}
            if self.first is not None:
                metadata[TTFT_KEY] = (self.first - log.perf_start) / 1e9
            result = self._complete_snapshot()
            if result is not None:
                incomplete = None  # consumed through a helper method that bypasses the proxy
            else:
                result = self.acc
            if incomplete is not None:
                metadata[INCOMPLETE_KEY] = incomplete
            log.result = result
            if exc is not None and log.spec.output_on(STATE.settings):
                # to_record skips extraction for errors: keep the partial answer
                partial = self.acc.fields()
                metadata.update(partial.pop("metadata", None) or {})
                partial.pop("prompt", None)
                log.update({k: v for k, v in partial.items() if v is not None})
            if metadata:
                log.update({"metadata": metadata})
        except Exception as err:
            _errors.report("stream:finish", err, "could not finish a stream's log", internal=True)
        finally:
            self.source = None
            end_log(self.st, log, exc)

    def _complete_snapshot(self) -> Any:
        if self.snapshot is None or self.source is None:
            return None
        try:
            snap = self.snapshot(self.source)
        except Exception:  # e.g. Anthropic asserts a snapshot exists before message_start
            return None
        if snap is None:
            return None
        if get(snap, "stop_reason") is not None or get(snap, "status") is not None:
            return snap
        choices = get(snap, "choices")
        if choices and all(get(c, "finish_reason") is not None for c in choices):
            return snap
        return None

    def collected(self) -> None:
        # Called by the garbage collector: queue the end, never run it inside the collector.
        reason = "never_started" if self.first is None else "abandoned"
        defer(functools.partial(self.finish, incomplete=reason))


# -- proxies ----------------------------------------------------------------------------------


class _Proxy(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """Base: holds the tap and registers the GC finalizer."""

    def __init__(self, wrapped: Any, tap: _Tap) -> None:
        super().__init__(wrapped)
        self._self_tap = tap
        self._self_iter: Any = None
        weakref.finalize(self, tap.collected)


class _SyncIterProxy(_Proxy):
    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        it = self._self_iter
        if it is None:
            it = self._self_iter = iter(self.__wrapped__)
        return self._self_step(it.__next__)

    def _self_step(self, advance: Callable[..., Any], *args: Any) -> Any:
        tap = self._self_tap
        try:
            item = advance(*args)
        except StopIteration:
            tap.finish()
            raise
        except BaseException as exc:
            tap.finish(exc)
            raise
        tap.item(item)
        return item

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_tap.finish(incomplete="closed")


class _SyncStreamProxy(_SyncIterProxy):
    """An SDK ``Stream`` (or ``*Stream`` helper): iterable, closable, a context manager."""

    def __enter__(self) -> Any:
        entered = self.__wrapped__.__enter__()
        return self if entered is self.__wrapped__ else entered

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_tap.finish(incomplete="closed")

    @property
    def text_stream(self) -> Any:
        """Anthropic ``MessageStream.text_stream``, read through the proxy (items are seen)."""
        if not hasattr(self.__wrapped__, "text_stream"):
            return self.__wrapped__.text_stream  # raises the original AttributeError
        return (
            event.delta.text
            for event in self
            if event.type == "content_block_delta" and event.delta.type == "text_delta"
        )


class _DualStreamProxy(_SyncStreamProxy):
    """A stream iterated with ``for`` or ``async for`` (LiteLLM's ``CustomStreamWrapper``)."""

    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> Any:
        it = self._self_iter
        if it is None:
            it = self._self_iter = self.__wrapped__.__aiter__()
        return await _async_step(self._self_tap, it.__anext__)


class _GeneratorProxy(_SyncIterProxy):
    """A generator object returned by a plain function."""

    def __next__(self) -> Any:
        return self._self_step(self.__wrapped__.__next__)

    def send(self, value: Any) -> Any:
        return self._self_step(self.__wrapped__.send, value)

    def throw(self, *args: Any) -> Any:
        return self._self_step(self.__wrapped__.throw, *args)


class _AsyncIterProxy(_Proxy):
    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> Any:
        it = self._self_iter
        if it is None:
            it = self._self_iter = self.__wrapped__.__aiter__()
        return await self._self_step(it.__anext__)

    async def _self_step(self, advance: Callable[..., Any], *args: Any) -> Any:
        return await _async_step(self._self_tap, advance, *args)


async def _async_step(tap: _Tap, advance: Callable[..., Any], *args: Any) -> Any:
    """Await the next item from ``advance`` and tell ``tap``; the stream's end ends the log."""
    try:
        item = await advance(*args)
    except StopAsyncIteration:
        tap.finish()
        raise
    except BaseException as exc:
        tap.finish(exc)
        raise
    tap.item(item)
    return item


class _AsyncStreamProxy(_AsyncIterProxy):
    """An SDK ``AsyncStream`` (or ``Async*Stream`` helper)."""

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_tap.finish(incomplete="closed")

    async def __aenter__(self) -> Any:
        entered = await self.__wrapped__.__aenter__()
        return self if entered is self.__wrapped__ else entered

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_tap.finish(incomplete="closed")

    @property
    def text_stream(self) -> Any:
        """Anthropic ``AsyncMessageStream.text_stream``, read through the proxy."""
        if not hasattr(self.__wrapped__, "text_stream"):
            return self.__wrapped__.text_stream
        return self._self_texts()

    async def _self_texts(self) -> Any:
        async for event in self:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                yield event.delta.text


class _AsyncGeneratorProxy(_AsyncIterProxy):
    """An async generator object returned by a plain (async) function."""

    async def __anext__(self) -> Any:
        return await self._self_step(self.__wrapped__.__anext__)

    async def asend(self, value: Any) -> Any:
        return await self._self_step(self.__wrapped__.asend, value)

    async def athrow(self, *args: Any) -> Any:
        return await self._self_step(self.__wrapped__.athrow, *args)

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_tap.finish(incomplete="closed")


class _ManagerProxy(_Proxy):
    """An SDK ``*StreamManager``: the request starts on ``with``; the stream it gives is proxied."""

    def __enter__(self) -> Any:
        token = IN_SDK_REQUEST.set(True)
        try:
            stream = self.__wrapped__.__enter__()
        finally:
            IN_SDK_REQUEST.reset(token)
        tap = self._self_tap
        tap.source, tap.snapshot = stream, _snapshot_reader(stream.__class__)
        return _SyncStreamProxy(stream, tap)

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_tap.finish(incomplete="closed")

    async def __aenter__(self) -> Any:
        token = IN_SDK_REQUEST.set(True)
        try:
            stream = await self.__wrapped__.__aenter__()
        finally:
            IN_SDK_REQUEST.reset(token)
        tap = self._self_tap
        tap.source, tap.snapshot = stream, _snapshot_reader(stream.__class__)
        return _AsyncStreamProxy(stream, tap)

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_tap.finish(incomplete="closed")


# -- classification, once per type ------------------------------------------------------------


def _snapshot_reader(cls: type) -> Callable[[Any], Any] | None:
    name = cls.__name__
    if name.endswith("MessageStream"):
        return lambda s: s.current_message_snapshot
    if name.endswith("ChatCompletionStream"):
        return lambda s: s.current_completion_snapshot
    if name.endswith("ResponseStream"):
        return lambda s: s._state._completed_response
    return None


def _factory(proxy: type[_Proxy]) -> Wrap:
    def wrap(st: _State, log: ActiveLog, result: Any) -> Any:
        # ``__class__`` sees through proxies: a stream already wrapped by an inner decorated
        # function keeps its snapshot reader when an outer one wraps it again.
        try:
            snapshot = _snapshot_reader(result.__class__)
            return proxy(result, _Tap(st, log, result, snapshot))
        except Exception as exc:  # never break the call: end the log now, return the stream
            end_log(st, log)
            _errors.report("stream:wrap", exc, "could not wrap a returned stream", internal=True)
            return result

    return wrap


def _classify(cls: type) -> Wrap | None:
    if issubclass(cls, _Proxy):  # returned by an inner decorated function: the outer log
        return _factory(cls)  # ends with the stream too
    if cls is types.GeneratorType:
        return _factory(_GeneratorProxy)
    if cls is types.AsyncGeneratorType:
        return _factory(_AsyncGeneratorProxy)
    for base in cls.__mro__:
        if base.__module__.partition(".")[0] not in SDKS:
            continue
        name = base.__name__
        if name == "CustomStreamWrapper":  # LiteLLM's stream (sync and async in one class)
            return _factory(_DualStreamProxy)
        if name.endswith("StreamManager"):
            return _factory(_ManagerProxy)
        if name.endswith(("Stream", "StreamAsync")):  # Mistral's async one: EventStreamAsync
            return _factory(_AsyncStreamProxy if "Async" in name else _SyncStreamProxy)
    return None


UNSEEN: Any = object()
"""What :data:`STREAM_KINDS` ``.get`` returns for a type not classified yet."""

STREAM_KINDS: dict[type, Wrap | None] = {}
"""Result type → how to wrap it (``None``: not a stream). The decorator reads it directly: one
dict lookup per call for results that are not streams."""


def wrapper_for(cls: type) -> Wrap | None:
    """Return how to wrap a result of type ``cls`` (``None``: not a stream); cached per type."""
    wrap = STREAM_KINDS.get(cls, UNSEEN)
    if wrap is UNSEEN:
        try:
            wrap = _classify(cls)
        except Exception as exc:
            _errors.report("stream:classify", exc, "could not classify a type", internal=True)
            wrap = None
        if len(STREAM_KINDS) < 4096:
            STREAM_KINDS[cls] = wrap
    return wrap  # type: ignore[no-any-return]
