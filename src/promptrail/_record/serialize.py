"""Turning arbitrary Python values into bounded, JSON-safe, redacted data.

Two halves with different budgets:

* :func:`snapshot` runs on the caller's thread. It copies mutable containers (lists, dicts, sets)
  a few levels deep so that ``messages.append(reply)`` after a call cannot change what was logged,
  and keeps every other object by reference. It never serialises.
* :func:`to_jsonable` runs in the worker. It never raises and always terminates:

  - ``str``/``int``/``bool``/``None`` pass through; strings longer than ``max_string`` are cut and
    end with :data:`TRUNCATED_MARK`;
  - finite floats pass through; NaN and the infinities become the strings ``"NaN"``,
    ``"Infinity"`` and ``"-Infinity"`` (JSON has no literal for them);
  - ``bytes`` become text (UTF-8, invalid bytes replaced by U+FFFD), cut before decoding so a
    huge value is never decoded whole; strings (and keys) holding lone surrogates, which UTF-8
    cannot encode, get U+FFFD in their place;
  - lists, tuples, sets and dicts are converted element by element, at most ``max_items`` each
    (a marker element or key says how many were left out; only the kept head is ever
    materialised) and at most ``max_depth`` levels deep;
  - a container met again inside itself becomes ``"<cycle>"``. Values captured on the caller's
    thread were first copied by :func:`snapshot` (arguments 2 container levels deep,
    ``update_current()`` fields 3), and those copies are new containers, so a cycle through them
    shows a few unrolled turns before the marker: ``a = [1]; a.append(a)`` is logged as
    ``[1, [1, [1, "<cycle>"]]]`` when passed as an argument and ``[1, "<cycle>"]`` when
    returned. (Tracking identities while copying would make every call slower, for a case
    that is rare in LLM calls.)
  - pydantic models, dataclasses and objects with ``model_dump``/``to_dict`` are converted through
    those; anything else becomes a ``repr`` bounded like a string (a failing ``repr`` gives
    ``"<unrepresentable T>"``);
  - values under keys that look like secrets (or that the user's ``Redactor(callback=...)``
    picks) become :data:`REDACTED`, and well-known key formats (``sk-...``, ``Bearer ...``)
    inside strings are masked.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from promptrail._runtime.limits import DEFAULT_LIMITS, TRUNCATED_MARK, Limits
from promptrail._runtime.redaction import DEFAULT_REDACTOR, REDACTED, Redactor

__all__ = ["Truncated", "snapshot", "to_jsonable"]

_ATOMIC: frozenset[type] = frozenset({str, int, float, bool, type(None), bytes, complex})


class Truncated:
    """A container cut on the caller's thread: its first items and its full length.

    :func:`to_jsonable` renders it as the head plus the usual "N more items" marker, so a
    100,000-element argument costs a bounded copy, not a full one, where the call happens.
    """

    __slots__ = ("head", "total")

    def __init__(self, head: list[Any] | dict[Any, Any], total: int) -> None:
        self.head = head
        self.total = total

    def __repr__(self) -> str:
        return f"<{type(self.head).__name__} of {self.total} items, {len(self.head)} kept>"


_copies: dict[int, dict[Any, Any]] = {}
_STRINGS = frozenset({str, type(None)})


def dict_copy(value: dict[Any, Any]) -> dict[Any, Any]:
    """A copy of ``value``, shared with earlier calls while ``value`` is unchanged.

    A conversation sends the same message dicts (the system message, earlier turns) on every
    call, and each queued call would otherwise hold its own copies (~180 bytes each). Only
    dicts of strings are remembered (for strings, equal means the same text), at most 1,024;
    the previous copy is reused while it is equal to ``value``. Copies are never changed, so
    sharing one is the same as copying again.
    """
    key = id(value)
    kept = _copies.get(key)
    if kept is not None:
        try:
            # The remembered copy holds strings only; a value changed since to another type
            # may run a user __eq__, which must not raise into the call.
            if kept == value:
                return kept
        except Exception:  # a failing comparison means "copy again"
            pass
    kept = value.copy()
    if _STRINGS.issuperset(map(type, kept.values())):
        if len(_copies) >= 1024:
            _copies.clear()
        _copies[key] = kept
    return kept


ARGUMENT_DEPTH = 2
"""How many container levels of a call's arguments are copied on the caller's thread.

Two: an argument's list or dict, and the containers directly in it. A list of message dicts is
copied whole (``messages.append(reply)`` or ``messages[0]["content"] = ...`` after the call do not
change the log); containers deeper than that (a message's content parts) are shared.
"""


def snapshot(value: Any, depth: int = 3, max_items: int = DEFAULT_LIMITS.max_items) -> Any:
    """Copy mutable containers in ``value`` (up to ``depth`` levels); keep everything else.

    Cheap enough for the caller's thread: atomic values return at once, and only ``list``,
    ``dict`` and ``set`` (exact types) are copied. Each copy is a C-level ``copy()`` (exactly
    sized: one pointer table, never the elements) whose non-atomic entries are then replaced by
    their own snapshots; leaves are tested inline rather than through a call each. A list, tuple,
    dict or set longer than ``max_items`` keeps only its head (a :class:`Truncated`): the record
    would not keep more anyway.
    """
    t = type(value)
    if t in _ATOMIC:
        return value
    if (t is list or t is tuple or t is dict) and len(value) > max_items:
        if t is dict:
            head: Any = dict(itertools.islice(value.items(), max_items))
        else:
            head = list(value[:max_items])
        return Truncated(snapshot(head, depth, max_items), len(value))
    if t is list:
        if depth <= 1:
            return value.copy()
        atomic = _ATOMIC
        inner = depth - 1
        # Walk a copy, never the caller's list: another thread may change it. A list of dicts
        # (chat messages) at the last level is the common case: each dict is copied inline,
        # without a call per element.
        return [
            dict_copy(v)
            if type(v) is dict and inner == 1 and len(v) <= max_items
            else v
            if type(v) in atomic
            else snapshot(v, inner, max_items)
            for v in value.copy()
        ]
    if t is dict:
        copied = value.copy()
        if depth > 1:
            atomic = _ATOMIC
            for k, v in copied.items():  # replacing values while iterating is allowed
                if type(v) not in atomic:
                    copied[k] = snapshot(v, depth - 1, max_items)
        return copied
    if t is tuple:
        if depth <= 1:
            return value
        inner = depth - 1
        return tuple([v if type(v) in _ATOMIC else snapshot(v, inner, max_items) for v in value])
    if t is set:
        if len(value) > max_items:  # its first items in iteration order, as to_jsonable keeps
            return Truncated(list(itertools.islice(value, max_items)), len(value))
        return value.copy()
    return value


def _encodable(text: str) -> str:
    """Return ``text`` with lone surrogates replaced by U+FFFD (and surrogate pairs joined).

    Strings decoded with ``surrogateescape`` (file names, ``os.environ``) can hold lone
    surrogates, which UTF-8 cannot encode: such a record could not be written as JSON, and its
    whole batch would fail.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


_MASK_MARGIN = 1024
"""Characters past ``max_string`` masked with the kept ones (see :func:`_bounded_str`)."""


def _bounded_str(text: str, limits: Limits, redactor: Redactor) -> str:
    if len(text) > limits.max_string:
        # Masked before the cut, with a margin: a secret cut in two may no longer match its
        # format ("postgres://user:password" without its "@") and its kept part would be written.
        head = text[: limits.max_string + _MASK_MARGIN]
        if not head.isascii():
            head = _encodable(head)
        return redactor.mask(head)[: limits.max_string] + TRUNCATED_MARK
    if not text.isascii():
        text = _encodable(text)
    return redactor.mask(text)


def _safe_repr(value: Any, limits: Limits, redactor: Redactor) -> str:
    try:
        text = repr(value)
    except BaseException:
        return f"<unrepresentable {type(value).__qualname__}>"
    return _bounded_str(text, limits, redactor)


def _key_text(key: Any, limits: Limits, redactor: Redactor) -> str:
    """A mapping key that is not a ``str``, as text judged like one.

    A ``str`` subclass (a ``StrEnum`` member) is its text and ``bytes`` are decoded, as JSON
    would write them: ``{b"api_key": ...}`` or ``{Header.API_KEY: ...}`` hide their value like
    ``{"api_key": ...}``. Anything else is its bounded ``repr``.
    """
    t = type(key)
    if issubclass(t, str):
        return str.__str__(key)[: limits.max_string]
    if t is bytes:
        head: bytes = key[: 4 * limits.max_string]
        return head.decode("utf-8", errors="replace")
    return _safe_repr(key, limits, redactor)


def to_jsonable(
    value: Any,
    *,
    limits: Limits = DEFAULT_LIMITS,
    redactor: Redactor = DEFAULT_REDACTOR,
) -> Any:
    """Convert ``value`` to JSON-safe data, bounded and redacted; never raises."""
    return _Converter(limits, redactor).convert(value, limits.max_depth)


class _Converter:
    """One conversion: the limits, the redactor and the containers being converted (cycles)."""

    __slots__ = ("limits", "redactor", "seen")

    def __init__(self, limits: Limits, redactor: Redactor) -> None:
        self.limits = limits
        self.redactor = redactor
        self.seen: set[int] = set()

    def convert(self, value: Any, depth: int) -> Any:
        t = type(value)
        # Exact-type fast paths first: they are almost everything a log holds.
        if t is str:
            return _bounded_str(value, self.limits, self.redactor)
        if value is None or t is bool or t is int:
            return value
        if t is dict and depth > 0 and len(value) <= self.limits.max_items:
            return self.plain_dict(value, depth)
        if (t is list or t is tuple) and depth > 0:
            return self.plain_list(value, depth)
        if t is float:
            if math.isfinite(value):
                return value
            return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        if t is dict or t is list or t is tuple:
            return self.container(value, depth)
        if t is bytes or t is bytearray:
            # Cut before decoding (a character is at most 4 bytes): a 10 MB value must not be
            # decoded whole. Anything cut here is past max_string characters, so it gets the mark.
            head = bytes(value[: 4 * self.limits.max_string + 4])
            return _bounded_str(head.decode("utf-8", errors="replace"), self.limits, self.redactor)
        if issubclass(t, (str, int, float)):  # subclasses: enums, IntEnum, str mixins
            return self.convert(_plain(value), depth)
        try:
            return self.container(value, depth)
        except Exception:  # a user type's __iter__, __len__ or __class__ raised: keep the rest
            return _safe_repr(value, self.limits, self.redactor)

    def plain_dict(self, value: dict[Any, Any], depth: int) -> Any:
        """Convert a small dict, inlining the common leaves (the hot case: chat messages)."""
        ident = id(value)
        seen = self.seen
        if ident in seen:
            return "<cycle>"
        seen.add(ident)
        redactor, limits = self.redactor, self.limits
        max_string = limits.max_string
        out: dict[str, Any] = {}
        try:
            for k, v in value.items():
                key = k if type(k) is str else _key_text(k, limits, redactor)
                if not key.isascii():
                    key = _encodable(key)
                key, hidden = redactor.judge(key, v)
                if hidden:
                    out[key] = REDACTED
                    continue
                t = type(v)
                if t is str and len(v) <= max_string:
                    out[key] = redactor.mask(v if v.isascii() else _encodable(v))
                elif v is None or t is int or t is bool:
                    out[key] = v
                else:
                    out[key] = self.convert(v, depth - 1)
        finally:
            seen.discard(ident)
        return out

    def plain_list(self, value: list[Any] | tuple[Any, ...], depth: int) -> Any:
        """Convert a list or tuple without the generic container dispatch."""
        ident = id(value)
        seen = self.seen
        if ident in seen:
            return "<cycle>"
        seen.add(ident)
        try:
            return self.items(value, depth)
        finally:
            seen.discard(ident)

    def truncated(self, value: Truncated, depth: int) -> Any:
        out = self.convert(value.head, depth)
        cut = value.total - len(value.head)
        if isinstance(out, list):
            out.append(f"{TRUNCATED_MARK} {cut} more items")
        elif isinstance(out, dict):
            out[TRUNCATED_MARK] = f"{cut} more items"
        return out

    def container(self, value: Any, depth: int) -> Any:
        if type(value) is Truncated:
            return self.truncated(value, depth)
        if depth <= 0:
            return _safe_repr(value, self.limits, self.redactor)
        ident = id(value)
        seen = self.seen
        if ident in seen:
            return "<cycle>"
        seen.add(ident)
        try:
            if isinstance(value, Mapping):
                return self.mapping(value, depth)
            if isinstance(value, (list, tuple, set, frozenset)):
                return self.items(value, depth)
            converted = _via_protocol(value)
            if converted is not _NOTHING:
                return self.convert(converted, depth - 1)
            return _safe_repr(value, self.limits, self.redactor)
        finally:
            seen.discard(ident)

    def mapping(self, value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        limits, redactor = self.limits, self.redactor
        out: dict[str, Any] = {}
        try:
            # Only the kept head is materialised: a 100k-entry mapping is never copied whole.
            total = len(value)
            head = list(itertools.islice(value.items(), limits.max_items))
        except BaseException:
            return {"<unreadable mapping>": _safe_repr(value, limits, redactor)}
        for k, v in head:
            key = k if type(k) is str else _key_text(k, limits, redactor)
            if not key.isascii():
                key = _encodable(key)
            key, hidden = redactor.judge(key, v)
            if hidden:
                out[key] = REDACTED
            else:
                out[key] = self.convert(v, depth - 1)
        if total > len(head):
            out[TRUNCATED_MARK] = f"{total - len(head)} more items"
        return out

    def items(self, value: Collection[Any], depth: int) -> list[Any]:
        max_items = self.limits.max_items
        if type(value) is list or type(value) is tuple:
            head: Iterable[Any] = value[:max_items]
        else:  # sets: no slicing, and no full copy either
            head = itertools.islice(value, max_items)
        out = [self.convert(v, depth - 1) for v in head]
        if len(value) > max_items:
            out.append(f"{TRUNCATED_MARK} {len(value) - max_items} more items")
        return out


def _plain(value: str | int | float) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    return float(value)


class _Nothing:
    pass


_NOTHING: Any = _Nothing()


def _via_protocol(value: Any) -> Any:
    """Return a plainer form of ``value`` (pydantic, dataclass, ``to_dict``), or ``_NOTHING``."""
    try:
        if isinstance(value, enum.Enum):
            return value.value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        dump = getattr(value, "model_dump", None)
        if callable(dump) and not isinstance(value, type):
            return dump(mode="json")
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict) and not isinstance(value, type):
            return to_dict()
    except BaseException:
        return _NOTHING
    return _NOTHING
