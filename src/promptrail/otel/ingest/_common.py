"""What every ingest dialect reads the same way: a span's session id, user and tags.

The GenAI conventions (``gen_ai.conversation.id``, ``user.id``), OpenInference (``session.id``,
``user.id``, ``tag.tags``) and Langfuse (``langfuse.session.id``, ``langfuse.user.id``,
``langfuse.trace.tags``) name them differently; :func:`session_fields` returns the record fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from promptrail._tracing.inherited import MAX_TAG_LENGTH, MAX_TAGS

__all__ = ["SESSION_KEYS", "TAG_KEYS", "USER_KEYS", "session_fields"]

SESSION_KEYS = ("gen_ai.conversation.id", "session.id", "langfuse.session.id")
USER_KEYS = ("user.id", "langfuse.user.id", "enduser.id")
TAG_KEYS = ("tag.tags", "langfuse.trace.tags")


def _first_text(attrs: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value[:MAX_TAG_LENGTH]
    return None


def _tags(attrs: Mapping[str, Any]) -> list[str]:
    kept: list[str] = []
    for key in TAG_KEYS:
        value = attrs.get(key)
        if isinstance(value, str):  # a single tag, or a JSON list some SDKs send as a string
            value = [value]
        if not isinstance(value, Sequence):
            continue
        for tag in value:
            if isinstance(tag, str) and tag and tag[:MAX_TAG_LENGTH] not in kept:
                kept.append(tag[:MAX_TAG_LENGTH])
    return kept[:MAX_TAGS]


def session_fields(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``session_id``, ``user`` and ``tags`` record fields a span's attributes name."""
    fields: dict[str, Any] = {}
    session_id = _first_text(attrs, SESSION_KEYS)
    if session_id is not None:
        fields["session_id"] = session_id
    user = _first_text(attrs, USER_KEYS)
    if user is not None:
        fields["user"] = user
    tags = _tags(attrs)
    if tags:
        fields["tags"] = tags
    return fields
