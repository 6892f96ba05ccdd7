"""One trace across services: the headers a call carries, and the remote parent they name.

:func:`inject` writes a W3C ``traceparent`` (the trace id is the root log's UUID, the parent
span id the last 16 hex digits of the current log's id) and promptrail's own entries in
``baggage``: the parent log's and the trace's ids, the session, the user and the tags. Other
tracers can continue the ``traceparent``; promptrail reads its ids back from ``baggage``.

:func:`extract` returns a block (sync and async) inside which new logs are children of the
calling log, in its trace, and inherit its session, user and tags.

A configured processor with ``inject_headers``/``extract_headers``/``detach_headers`` methods (a
:class:`HeaderPropagator`: the OpenTelemetry bridge) takes over the ``traceparent``: its
propagator writes the headers (OTel's ``traceparent``, ``tracestate`` and baggage) and, in the
called service, makes their context current inside the block, so services traced by OTel's own
instrumentation and by promptrail share one trace. promptrail's ``baggage`` entries still name
the parent log, plus ``promptrail.tp``: the ``traceparent`` trace id they were sent with.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import urllib.parse
from collections.abc import Iterable, Mapping, MutableMapping
from types import TracebackType
from typing import Any, Protocol

from promptrail._runtime import errors as _errors
from promptrail._runtime.ids import next_seq
from promptrail._runtime.state import STATE
from promptrail._tracing import attributes as _attributes
from promptrail._tracing.active import ActiveLog
from promptrail._tracing.context import ATTRIBUTES, CURRENT, AsyncBlock
from promptrail._tracing.inherited import Inherited, effective, validated
from promptrail._tracing.spec import CallSpec

__all__ = ["HeaderPropagator", "RemoteParent", "extract", "inject"]

_PARENT = "promptrail.parent"
_TRACE = "promptrail.trace"
_SESSION = "promptrail.session"
_USER = "promptrail.user"
_TAGS = "promptrail.tags"
_TP = "promptrail.tp"
_OURS = (_PARENT, _TRACE, _SESSION, _USER, _TAGS, _TP)
_MAX_HEADER = 8192
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_REMOTE_SPEC = CallSpec(path="promptrail/remote-parent", kind="flow", signature=None)


class HeaderPropagator(Protocol):
    """A processor that also carries context across services (the OpenTelemetry bridge).

    A configured processor with these three methods is used by :func:`inject` and
    :func:`extract` automatically.

    .. versionadded:: 0.2.0
    """

    def inject_headers(self, headers: MutableMapping[str, str]) -> None:
        """Write the current context into outgoing ``headers``."""
        ...

    def extract_headers(self, headers: Mapping[str, str]) -> object:
        """Make the context in incoming ``headers`` (lower-case names) current; return a token."""
        ...

    def detach_headers(self, token: object) -> None:
        """Restore the context that was current before :meth:`extract_headers`."""
        ...


def _propagators() -> list[HeaderPropagator]:
    found: list[HeaderPropagator] = []
    for processor in STATE.processors or ():
        if (
            hasattr(processor, "inject_headers")
            and hasattr(processor, "extract_headers")
            and hasattr(processor, "detach_headers")
        ):
            found.append(processor)  # type: ignore[arg-type]
    return found


def _hex(log_id: str, size: int) -> str | None:
    digits = log_id.replace("-", "").lower()
    if len(digits) < size or any(c not in "0123456789abcdef" for c in digits):
        return None
    return digits[-size:]


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def inject(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Add the current log and its session, user and tags to outgoing request ``headers``.

    Sets ``traceparent`` and appends promptrail's entries to ``baggage`` (other entries are
    kept). Outside any log and any ``attributes()`` block it changes nothing. Never raises.

    Returns:
        ``headers``, for chaining.

    .. versionadded:: 0.2.0
    """
    foreign = False
    for propagator in _propagators():
        try:
            propagator.inject_headers(headers)
            foreign = True
        except Exception as exc:
            name = type(propagator).__name__
            _errors.report(
                f"propagation:{name}", exc, f"{name}.inject_headers raised", internal=False
            )
    try:
        _inject(headers, foreign)
    except Exception as exc:  # never raise into the caller's request
        _errors.report("propagation:inject", exc, "could not add trace headers", internal=True)
    return headers


def _inject(headers: MutableMapping[str, str], foreign: bool) -> None:
    """Add promptrail's entries; ``foreign``: a propagator wrote the headers already."""
    log = CURRENT.get()
    inherited = ATTRIBUTES.get()
    entries: list[tuple[str, str]] = []
    if log is not None:
        inherited = effective(
            inherited if inherited is not None else log.attrs, log.root.trace_attrs
        )
        written = _get(headers, "traceparent") if foreign else None
        match = _TRACEPARENT.match(written.strip().lower()) if written else None
        trace_hex, span_hex = _hex(log.trace_id, 32), _hex(log.log_id, 16)
        if match is None and trace_hex is not None and span_hex is not None:
            headers["traceparent"] = f"00-{trace_hex}-{span_hex}-01"
        entries += [(_PARENT, log.log_id), (_TRACE, log.trace_id)]
        if match is not None:  # the propagator's trace: the one these entries belong to
            entries.append((_TP, match.group(1)))
    if inherited is not None:
        if inherited.session_id:
            entries.append((_SESSION, inherited.session_id))
        if inherited.user:
            entries.append((_USER, inherited.user))
        if inherited.tags:
            entries.append((_TAGS, ",".join(inherited.tags)))
    if not entries:
        return
    ours = ",".join(f"{key}={_quote(value)}" for key, value in entries)
    existing = _get(headers, "baggage")
    kept = [
        item
        for item in (existing or "").split(",")
        if item.strip() and item.split("=", 1)[0].strip() not in _OURS
    ]
    headers["baggage"] = ",".join([*kept, ours])


def _get(headers: Mapping[str, str] | Iterable[tuple[Any, Any]], name: str) -> str | None:
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if isinstance(key, bytes):
            key = key.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(key, str) and key.lower() == name and isinstance(value, str):
            return value[:_MAX_HEADER]
    return None


def _carrier(headers: Mapping[str, str] | Iterable[tuple[Any, Any]]) -> dict[str, str]:
    """The headers as one ``{lower-case name: value}`` dict (repeated names joined by commas)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    carrier: dict[str, str] = {}
    for key, value in items:
        if isinstance(key, bytes):
            key = key.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(key, str) and isinstance(value, str):
            name = key.lower()
            value = value[:_MAX_HEADER]
            carrier[name] = f"{carrier[name]},{value}" if name in carrier else value
    return carrier


def _baggage(text: str | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in (text or "").split(","):
        key, sep, value = item.partition("=")
        key = key.strip()
        if sep and key in _OURS:
            found[key] = urllib.parse.unquote(value.split(";", 1)[0].strip())
    return found


class RemoteParent(AsyncBlock):
    """A block inside which new logs nest under a log of another service; see :func:`extract`.

    Attributes:
        parent_log_id: The calling log's id, or ``None`` when the headers named none.
        trace_id: The calling trace's id, or ``None``.

    .. versionadded:: 0.2.0
    """

    __slots__ = ("_carrier", "_inherited", "_tokens", "parent_log_id", "trace_id")

    def __init__(
        self,
        parent_log_id: str | None,
        trace_id: str | None,
        inherited: Inherited | None,
        carrier: dict[str, str] | None = None,
    ) -> None:
        self.parent_log_id = parent_log_id
        self.trace_id = trace_id
        self._inherited = inherited
        self._carrier = carrier  # the headers, for the configured propagators
        self._tokens: list[
            tuple[
                contextvars.Token[Any] | None,
                contextvars.Token[Any] | None,
                list[tuple[HeaderPropagator, object]],
            ]
        ] = []

    def _stub(self) -> ActiveLog | None:
        """A stand-in for the remote log: never ended or exported, only a parent."""
        if self.parent_log_id is None or self.trace_id is None:
            return None
        st = STATE
        root = ActiveLog(_REMOTE_SPEC, None, next_seq(), 0, 0, st.ids)
        root._id = self.trace_id
        root.perf_end = 0  # "ended": update_current() never writes to it
        if self.parent_log_id == self.trace_id:
            stub = root
        else:
            stub = ActiveLog(_REMOTE_SPEC, root, next_seq(), 0, 0, st.ids)
            stub._id = self.parent_log_id
            stub.perf_end = 0
        stub.attrs = self._inherited
        return stub

    def __enter__(self) -> RemoteParent:
        stub = self._stub() if STATE.enabled else None
        contexts: list[tuple[HeaderPropagator, object]] = []
        if self._carrier is not None and STATE.enabled:
            for propagator in _propagators():
                try:
                    contexts.append((propagator, propagator.extract_headers(self._carrier)))
                except Exception as exc:
                    name = type(propagator).__name__
                    msg = f"{name}.extract_headers raised"
                    _errors.report(f"propagation:{name}", exc, msg, internal=False)
        log_token = None if stub is None else CURRENT.set(stub)
        attr_token = None
        if self._inherited is not None:
            _, attr_token = _attributes.enter(self._inherited)
        self._tokens.append((log_token, attr_token, contexts))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._tokens:
            return
        log_token, attr_token, contexts = self._tokens.pop()
        with contextlib.suppress(ValueError):  # exited in another context: a misuse
            if attr_token is not None:
                ATTRIBUTES.reset(attr_token)
            if log_token is not None:
                CURRENT.reset(log_token)
        for propagator, token in reversed(contexts):
            try:
                propagator.detach_headers(token)
            except Exception as exc:
                name = type(propagator).__name__
                msg = f"{name}.detach_headers raised"
                _errors.report(f"propagation:{name}", exc, msg, internal=False)


def extract(headers: Mapping[str, str] | Iterable[tuple[Any, Any]]) -> RemoteParent:
    """Read an incoming request's headers; return a block whose logs continue the caller's trace.

    ``headers`` is a mapping (any case) or ``(name, value)`` pairs (ASGI's bytes included).
    Inside ``with extract(headers):`` (or ``async with``) new logs are children of the calling
    log and carry its session, user and tags. Headers without promptrail's entries give a block
    that changes nothing. Never raises.

    .. versionadded:: 0.2.0
    """
    try:
        found = _baggage(_get(headers, "baggage"))
        parent, trace = found.get(_PARENT) or None, found.get(_TRACE) or None
        traceparent = _get(headers, "traceparent")
        match = _TRACEPARENT.match(traceparent.strip().lower()) if traceparent else None
        expected = found.get(_TP) or (None if trace is None else _hex(trace, 32))
        if match is not None and trace is not None and expected != match.group(1):
            parent = trace = None  # another service started a new trace since: follow it
        tags = [t for t in found.get(_TAGS, "").split(",") if t]
        inherited: Inherited | None = validated(
            found.get(_SESSION) or None, found.get(_USER) or None, tags or None
        )
        carrier = _carrier(headers) if _propagators() else None
        return RemoteParent(parent, trace, inherited or None, carrier)
    except Exception as exc:
        _errors.report("propagation:extract", exc, "could not read trace headers", internal=True)
        return RemoteParent(None, None, None)
