"""Shortcuts for building and writing records: validated sub-models remembered, cheaper JSON.

Two costs dominate a record's life in the worker, and both are pydantic's:

* validating the nested models: each chat message and the prompt kernel is a model of its own,
  and building one costs about as much as a small record;
* writing a record: the model serializer visits every field of every nested model.

Chat histories and prompt details repeat from call to call (the system message, the earlier
turns, the model and its parameters). :class:`Memo` remembers, for one redaction/limits pair,
the validated model built from a given *raw* input (before conversion and redaction), and its
dump. Only inputs made of plain atomic values are remembered: such a model is immutable all the
way down, so records may share it. The model remembered is exactly the one the general path
builds from the same input (the general path builds it, once), so the fast path cannot diverge.
A chat message is remembered the second time it is seen: most conversations repeat their system
message and earlier turns, but each call's new question (and each answer) is seen once, and
remembering those would cost more than it saves and push the repeating ones out.

:func:`dump_json` writes a record as ``model_dump_json(exclude_none=True)`` does, byte for
byte, but serialises a plain dict of the record's fields with the remembered dumps of its
nested models in place of the models (pydantic's generic serializer is several times cheaper
than its model serializer on the same data).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pydantic_core

try:
    from orjson import OPT_UTC_Z as _ORJSON_OPTIONS
    from orjson import dumps as _orjson_dumps
except ImportError:  # pragma: no cover - the optional dependency (promptrail[fast])
    _orjson_dumps = None  # type: ignore[assignment]
    _ORJSON_OPTIONS = 0
from pydantic import BaseModel
from pydantic_core import core_schema

from promptrail._record.models import ChatMessage, LogRecord
from promptrail._record.serialize import _STRINGS

__all__ = [
    "INVALID",
    "Memo",
    "atomic_key",
    "dump_json",
    "key_chars",
    "message_key",
    "written_once",
]

INVALID: Any = object()
"""Remembered for an input whose model does not validate (the general path handles it)."""

_STR = frozenset({str})
_ATOMIC = frozenset({str, int, float, bool, type(None)})

# The dumps of remembered models, by id: the entry holds the model, so its id stays its own.
_dumps: dict[int, list[Any]] = {}


class Memo:
    """Values computed from raw inputs, for one ``(limits, redactor)`` pair (bounded).

    Holds validated sub-models (and their dumps, see :func:`dump_json`) and version ids, keyed
    by raw inputs made of strings and other atomic values only: such keys are hashed and
    compared without running user code, and the models built from them are immutable.

    Args:
        limits: The limits the values were computed with (compared with ``is``).
        redactor: The redactor the values were computed with (compared with ``is``).
        max_entries: Entries kept before the memo starts over.
        max_chars: Characters of keys kept before the memo starts over (memory bound).
    """

    __slots__ = (
        "_chars",
        "_entries",
        "_lock",
        "_seen",
        "_stats",
        "get",
        "limits",
        "max_chars",
        "max_entries",
        "redactor",
        "requests",
    )

    def __init__(
        self, limits: object, redactor: object, max_entries: int = 1024, max_chars: int = 1 << 21
    ) -> None:
        self.limits = limits
        self.redactor = redactor
        self.max_entries = max_entries
        self.max_chars = max_chars
        self._entries: dict[Any, Any] = {}
        self.get: Callable[[Any], Any] = self._entries.get
        """Return what was remembered under a key, or ``None``."""
        self._chars = 0
        self._lock = threading.Lock()
        self._stats: dict[Any, list[int]] = {}
        self._seen: set[int] = set()
        self.requests: Memo | None = None
        """A memo of its own for per-call request details (their churn evicts no model)."""

    def worth(self, tag: Any) -> bool:
        """Whether remembering things for ``tag`` (a call site's use) still pays.

        After 64 misses, a use that misses more often than it hits is given up: looking up
        and remembering values that never come back (unique outputs, varying arguments) costs
        more than the general path.
        """
        stats = self._stats.get(tag)
        return stats is None or stats[1] < 64 or stats[1] * 2 <= stats[0]

    def note(self, tag: Any, hit: bool) -> None:
        """Count one lookup for ``tag`` (see :meth:`worth`)."""
        stats = self._stats.get(tag)
        if stats is None:
            if len(self._stats) >= self.max_entries:
                self._stats.clear()
            stats = self._stats[tag] = [0, 0]
        stats[0] += 1
        if not hit:
            stats[1] += 1

    def first_sight(self, key: Any) -> bool:
        """Whether ``key`` is seen for the first time (noted now; see :meth:`get`).

        Only the key's hash is kept (nothing of the input stays alive). A hash collision makes
        a key count as seen before: it is then remembered on its first sighting, which is
        harmless (remembering is always correct; waiting is only cheaper).
        """
        seen = self._seen
        digest = hash(key)
        if digest in seen:
            return False
        if len(seen) >= self.max_entries << 2:
            seen.clear()
        seen.add(digest)
        return True

    def put(self, key: Any, value: Any, chars: int) -> None:
        """Remember ``value`` (a model, :data:`INVALID` or a string) under ``key``.

        ``chars`` is the size of the key in characters; a key over 1/64 of the budget is not
        kept (a huge system prompt would push everything else out).
        """
        if chars > self.max_chars >> 6:
            return
        with self._lock:
            entries = self._entries
            if len(entries) >= self.max_entries or self._chars + chars > self.max_chars:
                self._forget()
            entries[key] = value
            self._chars += chars
            if isinstance(value, BaseModel):
                _dumps[id(value)] = [value, None]  # dumped when first written again

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._forget()

    def _forget(self) -> None:
        for old in self._entries.values():
            if isinstance(old, BaseModel):
                _dumps.pop(id(old), None)
        self._entries.clear()
        self._seen.clear()
        self._chars = 0


def message_key(raw: Any) -> tuple[Any, ...] | None:
    """The memo key of a chat message given as a dict of strings; ``None`` for anything else."""
    if (
        type(raw) is dict
        and _STRINGS.issuperset(map(type, raw.values()))
        and _STR.issuperset(map(type, raw))
    ):
        return tuple(raw.items())
    return None


def atomic_key(raw: dict[str, Any]) -> tuple[Any, ...] | None:
    """The memo key of a dict of atomic values; ``None`` for anything else.

    The values' types are part of the key: ``1``, ``1.0`` and ``True`` are equal keys but not
    equal values.
    """
    values = raw.values()
    if _ATOMIC.issuperset(map(type, values)) and _STR.issuperset(map(type, raw)):
        return (tuple(raw), tuple(values), tuple(map(type, values)))
    return None


def key_chars(raw: dict[str, Any]) -> int:
    """Characters held by a key made from ``raw`` (its strings)."""
    return sum(len(v) for v in raw.values() if type(v) is str) + sum(map(len, raw))


def _plain(model: BaseModel) -> Any:
    entry = _dumps.get(id(model))
    if entry is not None and entry[0] is model:
        dumped = entry[1]
        if dumped is None:  # the first record written with it: dump it for the next ones
            dumped = entry[1] = model.model_dump(exclude_none=True)
        return dumped
    if type(model) is ChatMessage:
        fields = model.__dict__
        if fields["tool_calls"] is None:  # every field plain: its dump is its non-None fields
            return {k: v for k, v in fields.items() if v is not None}
    return model  # serialised by its own serializer (exclude_none passed down)


# The record's fields, every one optional and of any type, in the record's order: a typed dict
# serializer leaves out the None fields itself (cheaper than filtering them in Python) and
# infers each value's type, as the record's own serializer does for its Any-typed fields.
# The config is the record's (LogRecord sets none: pydantic's defaults, e.g. NaN as null).
_FIELDS_SERIALIZER = pydantic_core.SchemaSerializer(
    core_schema.typed_dict_schema(
        {
            name: core_schema.typed_dict_field(core_schema.any_schema(), required=False)
            for name in LogRecord.model_fields
        }
    )
)
_to_json = _FIELDS_SERIALIZER.to_json


def dump_json(record: LogRecord) -> bytes:
    """Return ``record.model_dump_json(exclude_none=True)`` encoded as UTF-8, more cheaply.

    With ``orjson`` installed (``promptrail[fast]``) the same JSON value is written by it:
    the same bytes, except that a float's exponent has no ``+`` (``1e16``). A record it cannot
    write (bytes, sets, durations, integers past 64 bits) takes pydantic's path.
    """
    cache: dict[int, tuple[LogRecord, bytes]] | None = getattr(_once, "cache", None)
    if cache is not None:
        entry = cache.get(id(record))
        if entry is not None and entry[0] is record:
            return entry[1]
    data = _dump_json(record)
    if cache is not None:
        cache[id(record)] = (record, data)
    return data


def _dump_json(record: LogRecord) -> bytes:
    if type(record) is not LogRecord:  # a subclass may have fields of its own
        return record.model_dump_json(exclude_none=True).encode()
    if _orjson_dumps is not None:
        try:
            return _orjson_dumps(_fields(record, drop_none=True), _model_dump, _ORJSON_OPTIONS)
        except Exception:  # the general path writes it, or raises its own error
            pass
    return _to_json(_fields(record), exclude_none=True)


_once = threading.local()


@contextlib.contextmanager
def written_once() -> Iterator[None]:
    """While inside, :func:`dump_json` serialises each record once on this thread.

    Used around a batch handed to several exporters: each that writes JSON gets the same bytes.
    The records (and their bytes) are held until the block ends, no longer.
    """
    outer = getattr(_once, "cache", None)
    if outer is not None:  # nested: the outer block owns the cache
        yield
        return
    _once.cache = {}
    try:
        yield
    finally:
        _once.cache = None


def _model_dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_none=True)
    raise TypeError  # orjson reports it; the general path decides


def _fields(record: LogRecord, drop_none: bool = False) -> dict[str, Any]:
    """The record's fields with plain dumps in place of its nested models where known."""
    fields = (
        {k: v for k, v in record.__dict__.items() if v is not None}
        if drop_none
        else record.__dict__.copy()
    )
    messages = fields.get("messages")
    if messages:
        get = _dumps.get
        fields["messages"] = [
            dumped
            if (entry := get(id(m))) is not None and entry[0] is m and (dumped := entry[1])
            else _plain(m)
            for m in messages
        ]
    message = fields.get("output_message")
    if message is not None:
        fields["output_message"] = _plain(message)
    prompt = fields.get("prompt")
    if prompt is not None:
        fields["prompt"] = _plain(prompt)
    return fields
