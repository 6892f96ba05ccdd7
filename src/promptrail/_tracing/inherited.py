"""What logs inherit from the blocks around them: session, user, tags and metadata.

An :class:`Inherited` is immutable: a nested block makes a new one from its parent's (tags
added, the other fields overridden), so a value held in a context variable, a log or another
thread never changes under its readers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from promptrail._runtime.checks import type_name
from promptrail.exceptions import ConfigurationError

__all__ = ["MAX_TAGS", "MAX_TAG_LENGTH", "Inherited", "effective", "validated"]

MAX_TAGS = 64
"""Tags kept per log; later ones are dropped."""

MAX_TAG_LENGTH = 200
"""Characters kept per tag, session id and user."""


class Inherited:
    """A session id, a user, tags and metadata, as one block hands them to the logs inside.

    .. versionadded:: 0.2.0
    """

    __slots__ = ("metadata", "session_id", "tags", "user")

    def __init__(
        self,
        session_id: str | None = None,
        user: str | None = None,
        tags: tuple[str, ...] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.session_id = session_id
        self.user = user
        self.tags = tags
        self.metadata: Mapping[str, Any] | None = dict(metadata) if metadata else None

    def __repr__(self) -> str:
        return (
            f"Inherited(session_id={self.session_id!r}, user={self.user!r}, "
            f"tags={self.tags!r}, metadata={self.metadata!r})"
        )

    def __bool__(self) -> bool:
        return bool(self.session_id or self.user or self.tags or self.metadata)

    def under(self, outer: Inherited | None) -> Inherited:
        """This block's values over ``outer``'s: tags added, the other fields overridden."""
        if outer is None:
            return self
        tags = outer.tags + tuple(t for t in self.tags if t not in outer.tags)
        metadata = {**(outer.metadata or {}), **(self.metadata or {})}
        return Inherited(
            self.session_id if self.session_id is not None else outer.session_id,
            self.user if self.user is not None else outer.user,
            tags[:MAX_TAGS],
            metadata,
        )


def _described(value: object) -> str:
    """``value`` for an error message: an empty string as ``''``, anything else by its type.

    Never its ``repr``: the value may be a dict of headers or a client holding a key (and a
    user ``__repr__`` may raise).
    """
    return "''" if type(value) is str and not value else f"a {type_name(value)}"


def _text(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        msg = f"{name} must be a non-empty string, not {_described(value)}"
        raise ConfigurationError(msg)
    return value[:MAX_TAG_LENGTH]


def validated(
    session_id: object = None,
    user: object = None,
    tags: object = None,
    metadata: object = None,
) -> Inherited:
    """Check a block's arguments and return them as an :class:`Inherited`.

    Raises:
        ConfigurationError: A session id or user that is not a non-empty string, tags that are
            not strings, or metadata that is not a mapping (a mistake in the calling code, found
            where it is written).
    """
    kept: list[str] = []
    if tags is not None:
        if isinstance(tags, str):
            tags = [tags]
        if not isinstance(tags, Iterable):
            msg = f"tags must be a list of strings, not {_described(tags)}"
            raise ConfigurationError(msg)
        for tag in tags:
            text = _text("a tag", tag)
            if text is not None and text not in kept:
                kept.append(text)
    if metadata is not None and not isinstance(metadata, Mapping):
        msg = f"metadata must be a mapping, not {_described(metadata)}"
        raise ConfigurationError(msg)
    return Inherited(
        _text("session_id", session_id),
        _text("user", user),
        tuple(kept[:MAX_TAGS]),
        metadata,
    )


def effective(attrs: Inherited | None, trace_attrs: Inherited | None) -> Inherited | None:
    """A log's inherited values: its blocks', then what the whole trace was given on top."""
    if trace_attrs is None:
        return attrs
    return trace_attrs.under(attrs)
