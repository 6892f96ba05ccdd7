"""``trace()``: a parent log with no LLM call of its own, and ``update_current()``.

``with trace(path="support/flow", inputs={...}) as t:`` (or ``async with``) makes a ``flow`` log
that parents every log started inside the block. ``t.output`` and ``t.metadata`` may be set inside;
an exception ends the log with ``error`` set and propagates unchanged.
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
from collections.abc import Iterable
from types import TracebackType
from typing import Any, get_args

from promptrail._record.models import LogKind
from promptrail._runtime.state import STATE
from promptrail._tracing import attributes as _attributes
from promptrail._tracing.active import UPDATABLE_FIELDS, ActiveLog
from promptrail._tracing.context import ATTRIBUTES, CURRENT, AsyncBlock, Scope, attach, detach
from promptrail._tracing.inherited import Inherited, validated
from promptrail._tracing.lifecycle import end_log, start_log
from promptrail._tracing.spec import CallSpec
from promptrail.exceptions import ConfigurationError

__all__ = ["Trace", "trace", "update_current"]

_KINDS: tuple[str, ...] = get_args(LogKind)
"""The log kinds ``trace(kind=...)`` accepts, read once rather than on every call."""


class Trace(AsyncBlock):
    """A ``flow`` log open for the duration of a ``with`` block; made by :func:`trace`.

    Attributes:
        output: Set it to record the flow's output (text, or any value, logged as JSON).
        metadata: A dict; add keys to record them.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_attached",
        "_attrs_token",
        "_inputs",
        "_invalid",
        "_log",
        "_own",
        "_spec",
        "_token",
        "metadata",
        "output",
    )

    def __init__(
        self,
        spec: CallSpec,
        inputs: dict[str, Any] | None,
        metadata: dict[str, Any] | None,
        own: Inherited | None = None,
    ) -> None:
        self._spec = spec
        # Copied (the caller may change its dicts inside the block); a value that is not a
        # mapping is kept as given, and set aside with the wrong-typed fields at the start.
        self._inputs = _copied(inputs)
        given = _copied(metadata)
        self.metadata: dict[str, Any] = given if type(given) is dict else {}
        self._invalid = None if type(given) is dict else given
        self.output: Any = None
        self._log: ActiveLog | None = None
        self._token: contextvars.Token[ActiveLog | None] | None = None
        self._attached: list[tuple[Scope, object]] | None = None
        self._own = own
        self._attrs_token: contextvars.Token[Any] | None = None

    @property
    def log_id(self) -> str | None:
        """The id of this flow's log (``None`` before the block starts or when disabled)."""
        return None if self._log is None else self._log.log_id

    @property
    def trace_id(self) -> str | None:
        """The id of the trace this flow belongs to (its own id when it is the root)."""
        return None if self._log is None else self._log.trace_id

    def __enter__(self) -> Trace:
        st = STATE
        if not st.enabled:
            return self
        log = start_log(st, self._spec, None, (), None)
        if self._inputs is not None:
            log.update({"inputs": self._inputs})
        if self._invalid is not None:
            log.update({"metadata": self._invalid})
        if self._own is not None:  # session, user, tags: this log's and every log's inside
            log.attrs, self._attrs_token = _attributes.enter(self._own)
        self._log = log
        self._token = CURRENT.set(log)
        self._attached = attach(st.scopes, log) if st.scopes else None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        log, token = self._log, self._token
        if log is None or token is None:
            return
        self._token = None
        if self._attached is not None:
            detach(self._attached, log)
            self._attached = None
        # Exited in another context (a misuse): keep the log anyway.
        with contextlib.suppress(ValueError):
            CURRENT.reset(token)
        if self._attrs_token is not None:
            with contextlib.suppress(ValueError):
                ATTRIBUTES.reset(self._attrs_token)
            self._attrs_token = None
        fields: dict[str, Any] = {}
        if self.metadata:
            fields["metadata"] = self.metadata
        if self.output is not None:
            fields["output"] = self.output
        if fields:
            log.update(fields)
        end_log(STATE, log, exc)


def _copied(value: Any) -> Any:
    """``value`` copied as a dict (``None`` if empty), or as given if it cannot be."""
    if value is None:
        return None
    try:
        copied = dict(value)
    except Exception:  # not a mapping (nor pairs), or one whose iteration raises
        return value
    return copied or None


def trace(
    *,
    path: str,
    inputs: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    kind: LogKind = "flow",
    session_id: str | None = None,
    user: str | None = None,
    tags: Iterable[str] | None = None,
) -> Trace:
    """Open a parent log (a ``flow``) around a block of code.

    Works with ``with`` and ``async with``. Every decorated call inside the block nests under it;
    the block's exception (if any) is recorded and propagates unchanged.

    Args:
        path: Where the log is filed, ``folder/name``.
        inputs: The flow's inputs.
        metadata: Initial metadata (``t.metadata`` can add more inside the block).
        kind: The log kind, ``"flow"`` by default.
        session_id: A conversation's id, recorded on this log and every log inside.
        user: Who the trace is for, recorded on this log and every log inside.
        tags: Labels added to this log and every log inside (see :func:`attributes`).

    Raises:
        ConfigurationError: If ``path`` is empty, ``kind`` is not a log kind, or a session id,
            user or tag is not a string.

    .. versionadded:: 0.1.0
    """
    if not path or not isinstance(path, str):
        msg = f"trace() needs a non-empty path, not {path!r}"
        raise ConfigurationError(msg)
    if kind not in _KINDS:
        msg = f"trace() kind must be one of {', '.join(_KINDS)}, not {kind!r}"
        raise ConfigurationError(msg)
    spec = CallSpec(path=path, kind=kind, signature=None)
    own = None
    if session_id is not None or user is not None or tags is not None:
        own = validated(session_id, user, tags)
    return Trace(spec, inputs, metadata, own)


def update_current(**fields: Any) -> bool:
    """Set fields on the log in progress (the innermost decorated call or ``trace()`` block).

    ``metadata`` and ``inputs`` merge key by key; other fields (``output``, ``prompt_tokens``,
    ``output_tokens``, ``reasoning_tokens``, ``prompt_cost``, ``output_cost``, ``finish_reason``,
    ``user``, ...) replace what promptrail captured. Unknown field names are ignored with a
    warning; a value of the wrong type (``prompt_tokens="many"``) is kept under
    ``metadata["promptrail.invalid_fields"]`` instead of its field. Outside any log it does
    nothing.

    Returns:
        True if a log in progress was updated; False outside any log, and when no known field
        was given (nothing was set).

    .. versionadded:: 0.1.0
    """
    unknown = sorted(set(fields) - UPDATABLE_FIELDS)
    if unknown:
        hint = (
            " (a trace's session_id and tags are set with update_current_trace())"
            if {"session_id", "tags"} & set(unknown)
            else ""
        )
        warnings.warn(
            f"promptrail.update_current() ignores unknown fields: {', '.join(unknown)}{hint}",
            stacklevel=2,
        )
        fields = {k: v for k, v in fields.items() if k in UPDATABLE_FIELDS}
    if not fields:
        return False
    log = CURRENT.get()
    if log is None or log.ended:
        return False
    log.update(fields)
    return True
