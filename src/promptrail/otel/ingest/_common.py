"""What every ingest dialect shares: what a span reads as, flattened lists, session fields.

:class:`Reading` is what a dialect module makes of one span's attributes (messages, parameters,
tokens, ...); ``_genai.span_record`` turns it into a record. :func:`indexed` reads the
flattened lists OpenLLMetry (``gen_ai.prompt.0.role``) and OpenInference
(``llm.input_messages.0.message.role``) write. The GenAI conventions
(``gen_ai.conversation.id``, ``user.id``), OpenInference (``session.id``, ``user.id``,
``tag.tags``) and Langfuse (``langfuse.session.id``, ``langfuse.user.id``,
``langfuse.trace.tags``) name a session differently; :func:`session_fields` returns the
record fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptrail._tracing.inherited import MAX_TAG_LENGTH, MAX_TAGS

__all__ = [
    "ROLES",
    "SESSION_KEYS",
    "TAG_KEYS",
    "USER_KEYS",
    "Reading",
    "indexed",
    "json_value",
    "session_fields",
]

ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})
"""The chat roles a record's messages may have (others are read as ``user``)."""

_MAX_INDEX = 10_000  # a flattened list longer than this is cut (a span cannot hold more anyway)

SESSION_KEYS = ("gen_ai.conversation.id", "session.id", "langfuse.session.id")
USER_KEYS = ("user.id", "langfuse.user.id", "enduser.id")
TAG_KEYS = ("tag.tags", "langfuse.trace.tags")


@dataclass
class Reading:
    """What a dialect reads from one span: the record fields that depend on the dialect."""

    inputs: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] | None = None
    output_message: dict[str, Any] | None = None
    output: Any = None
    prompt: dict[str, Any] | None = None
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    finish_reason: str | None = None
    response_model: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def json_value(value: Any) -> Any:
    """An attribute that holds JSON: a JSON string (any API) or a structured value (API 1.45)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, tuple):
        return [json_value(v) if isinstance(v, (tuple, Mapping)) else v for v in value]
    if isinstance(value, Mapping):
        return {
            k: json_value(v) if isinstance(v, (tuple, Mapping)) else v for k, v in value.items()
        }
    return value


def indexed(attrs: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """A flattened list: ``{prefix}.N.rest`` attributes as one ``{rest: value}`` dict per ``N``.

    Items come in index order; gaps are skipped. ``prefix`` has no trailing dot.
    """
    start = prefix + "."
    items: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith(start):
            continue
        number, _, rest = key[len(start) :].partition(".")
        if not rest or not number.isdigit() or int(number) > _MAX_INDEX:
            continue
        items.setdefault(int(number), {})[rest] = value
    return [items[i] for i in sorted(items)]


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
