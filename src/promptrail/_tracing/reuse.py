"""Sub-models reused between records: the memo that spares validating what was seen before.

A system message, a prompt kernel, or the request details derived from the same atomic
arguments repeat from call to call. The builder (``build.py``) looks them up here by a key made
of their atomic values (``_record.encode``) and reuses the validated, immutable model. Messages
seen only once are never kept. A redaction callback turns the memo off: it must see every value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from promptrail._record import encode as _fastrecord
from promptrail._record import serialize as _serialize
from promptrail._record.models import ChatMessage, PromptKernel
from promptrail.providers import _request as _request

if TYPE_CHECKING:
    from promptrail._runtime.limits import Limits
    from promptrail._runtime.redaction import Redactor
    from promptrail._tracing.spec import CallSpec

__all__ = [
    "MEMOS",
    "clean_messages",
    "kernel",
    "memo_for",
    "prompt_fields",
    "remembered_message",
    "remembered_request",
]


_PROMPT_FIELDS = frozenset(PromptKernel.model_fields) - {"other"}


MEMOS: list[_fastrecord.Memo] = []


def memo_for(limits: Limits, redactor: Redactor) -> _fastrecord.Memo | None:
    """The memo of sub-models for these settings (a new one when the settings change).

    ``None`` when records must take the general path: a redaction callback must be asked about
    every entry, and limits this tight turn messages into text.
    """
    if redactor.has_callback or limits.max_depth < 2:
        return None
    if MEMOS:
        memo = MEMOS[-1]
        if memo.limits is limits and memo.redactor is redactor:
            return memo
        memo.clear()
        if memo.requests is not None:
            memo.requests.clear()
    memo = _fastrecord.Memo(limits, redactor)
    memo.requests = _fastrecord.Memo(limits, redactor)
    MEMOS[:] = [memo]
    return memo


def remembered_message(
    raw: Any, memo: _fastrecord.Memo, converter: _serialize._Converter, tag: Any = None
) -> ChatMessage | None:
    """The validated message a record takes for ``raw``, if ``raw`` is a dict of strings.

    ``None`` for anything else, for a message seen for the first time (see
    :meth:`_fastrecord.Memo.first_sight`) and for a message that does not validate: the caller
    then takes the general path (which is also how the remembered message was built: cleaned
    one level below the messages list, then validated). Only dicts of exact strings are ever
    remembered, so a lookup can only find a message equal to ``raw`` by ``str`` equality (a
    ``str`` subclass converts to that same text).
    """
    if type(raw) is not dict:
        return None
    try:
        key = tuple(raw.items())
        found = memo.get(key)
    except Exception:  # an unhashable value (content parts, tool calls): the general path
        return None
    if tag is not None:  # counted: a call site whose outputs never repeat gives up
        memo.note(tag, found is not None)
    if found is None:
        if _fastrecord.message_key(raw) is None or memo.first_sight(key):
            return None  # the general path; remembered if it comes back
        cleaned = converter.convert(raw, converter.limits.max_depth - 1)
        try:
            found = _validate_message(cleaned)
        except ValidationError:
            found = _fastrecord.INVALID
        memo.put(key, found, _fastrecord.key_chars(raw))
    return None if found is _fastrecord.INVALID else cast("ChatMessage", found)


def clean_messages(messages: Any, memo: _fastrecord.Memo, converter: _serialize._Converter) -> Any:
    """``clean(messages)`` with remembered messages in place of their cleaned dicts."""
    limits = converter.limits
    depth = limits.max_depth
    if type(messages) is not list or len(messages) > limits.max_items:
        return converter.convert(messages, depth)
    # As _Converter.plain_list converts it: the list is "being converted" (cycles) meanwhile.
    ident = id(messages)
    seen = converter.seen
    seen.add(ident)
    try:
        out: list[Any] = []
        for raw in messages:
            found = remembered_message(raw, memo, converter)
            out.append(converter.convert(raw, depth - 1) if found is None else found)
    finally:
        seen.discard(ident)
    return out


def kernel(
    prompt: dict[str, Any],
    memo: _fastrecord.Memo,
    clean: Any,
    key: Any = None,
    spec: CallSpec | None = None,
) -> PromptKernel | None:
    """The remembered prompt kernel of raw prompt details made of known atomic fields.

    ``key`` identifies ``prompt`` (the keys of the dicts it was merged from), if known. A call
    site whose prompt details keep changing (a varying temperature) gives up remembering them,
    version ids included.
    """
    tag = (spec, "prompt")
    if not memo.worth(tag):
        return None
    if key is None:
        key = _fastrecord.atomic_key(prompt)
        if key is None:
            return None
    key = ("kernel", key)
    found = memo.get(key)
    memo.note(tag, found is not None)
    if found is None:
        if not _PROMPT_FIELDS.issuperset(prompt):
            found = _fastrecord.INVALID  # "other" would be a dict, shared between records
        else:
            details = prompt_fields({k: clean(v) for k, v in prompt.items()})
            try:
                found = _validate_kernel(details)
            except ValidationError:
                found = _fastrecord.INVALID
        memo.put(key, found, _fastrecord.key_chars(prompt))
    return None if found is _fastrecord.INVALID else cast("PromptKernel", found)


def remembered_request(
    spec: CallSpec, inputs: dict[str, Any], messages: Any, memo: _fastrecord.Memo, clean: Any
) -> tuple[dict[str, Any], Any, dict[str, Any], Any] | None:
    """``(prompt, tool_choice, cleaned inputs, key of prompt)`` for atomic arguments.

    What ``request_fields`` and ``clean(inputs)`` give depends only on the decorator's details
    and the arguments (messages aside, unless a system message is added: not remembered); the
    values are shared between records and never changed. ``None`` for a tool or a flow: what
    the memo spares is ``request_fields``, and their inputs cost less to clean than to look up.
    """
    requests = memo.requests
    if spec.kind != "prompt" or requests is None or not requests.worth(spec):
        return None
    inputs_key = _fastrecord.atomic_key(inputs)
    if inputs_key is None:
        return None
    # Whether messages were given decides whether a system message is added to them.
    key = (spec, inputs_key, messages is None)
    defaults = spec.prompt
    found = requests.get(key)
    if found is not None and found[0] is defaults:
        requests.note(spec, True)
        return cast("tuple[dict[str, Any], Any, dict[str, Any], Any]", found[1])
    requests.note(spec, False)
    prompt, out, tool_choice = _request.request_fields(defaults, inputs, messages)
    if out is not messages:
        return None
    value = (prompt, tool_choice, clean(inputs), _fastrecord.atomic_key(prompt))
    requests.put(key, (defaults, value), _fastrecord.key_chars(inputs))
    return value


_validate_message = ChatMessage.__pydantic_validator__.validate_python
_validate_kernel = PromptKernel.__pydantic_validator__.validate_python


def prompt_fields(prompt: dict[str, Any]) -> dict[str, Any]:
    known = {k: v for k, v in prompt.items() if k in _PROMPT_FIELDS}
    other = {k: v for k, v in prompt.items() if k not in _PROMPT_FIELDS and k != "other"}
    if isinstance(prompt.get("other"), dict):
        other = {**prompt["other"], **other}
    if other:
        known["other"] = other
    return known
