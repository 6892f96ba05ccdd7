"""``attributes()`` blocks and ``update_current_trace()``: a session, a user, tags for many logs.

``with promptrail.attributes(session_id=..., user=..., tags=[...]):`` (or ``async with``) makes
every log started inside carry them, at any depth: the values live in a context variable, so
asyncio tasks and threads bound with ``bind_context`` inherit them like the current log.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from promptrail._runtime.state import STATE, _State
from promptrail._tracing.context import ATTRIBUTES, CURRENT, AsyncBlock
from promptrail._tracing.inherited import Inherited, validated

__all__ = ["Attributes", "attributes", "enter", "update_current_trace"]


def _enable(st: _State) -> None:
    """From now on, new logs read the inherited attributes (off until first used)."""
    if not st.inherit:
        st.inherit = True
        st.refresh_slow_start()


def enter(own: Inherited) -> tuple[Inherited, contextvars.Token[Any]]:
    """Make ``own`` (over the enclosing blocks' values) current; return it and the reset token."""
    _enable(STATE)
    combined = own.under(ATTRIBUTES.get())
    return combined, ATTRIBUTES.set(combined)


class Attributes(AsyncBlock):
    """A block whose logs inherit a session id, a user, tags and metadata; see :func:`attributes`.

    .. versionadded:: 0.2.0
    """

    __slots__ = ("_own", "_tokens")

    def __init__(self, own: Inherited) -> None:
        self._own = own
        self._tokens: list[contextvars.Token[Any]] = []

    def __enter__(self) -> Attributes:
        _, token = enter(self._own)
        self._tokens.append(token)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tokens:
            token = self._tokens.pop()
            # Exited in another context (a misuse): leave that context's value alone.
            with contextlib.suppress(ValueError):
                ATTRIBUTES.reset(token)


def attributes(
    *,
    session_id: str | None = None,
    user: str | None = None,
    tags: Iterable[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Attributes:
    """Give every log started inside the block a session id, a user, tags and metadata.

    Works with ``with`` and ``async with``. Logs started inside, at any depth, in asyncio tasks
    created inside and in threads bound with ``bind_context``, carry the values. A nested block
    adds its tags and overrides the other values; a log's own ``metadata`` and ``user``
    (decorator, ``update_current``) win over inherited ones.

    Raises:
        ConfigurationError: If a value has the wrong type.

    .. versionadded:: 0.2.0
    """
    return Attributes(validated(session_id, user, tags, metadata))


def update_current_trace(
    *,
    session_id: str | None = None,
    user: str | None = None,
    tags: Iterable[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> bool:
    """Set a session id, a user, tags or metadata on the whole trace in progress.

    Every log of the current trace recorded from now on carries them, the root included
    (logs already recorded keep what they had). Tags add to the trace's, the other values
    override. Outside any log it does nothing.

    Returns:
        True if a trace was updated, False outside any log.

    Raises:
        ConfigurationError: If a value has the wrong type.

    .. versionadded:: 0.2.0
    """
    own = validated(session_id, user, tags, metadata)
    log = CURRENT.get()
    if log is None:
        return False
    root = log.root
    root.trace_attrs = own.under(root.trace_attrs)
    return True
