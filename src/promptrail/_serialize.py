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
  - ``bytes`` become text (UTF-8, invalid bytes replaced);
  - lists, tuples, sets and dicts are converted element by element, at most ``max_items`` each
    (a marker element or key says how many were left out) and at most ``max_depth`` levels deep;
  - a container met again inside itself becomes ``"<cycle>"``;
  - pydantic models, dataclasses and objects with ``model_dump``/``to_dict`` are converted through
    those; anything else becomes a ``repr`` bounded like a string (a failing ``repr`` gives
    ``"<unrepresentable T>"``);
  - values under keys that look like secrets become :data:`REDACTED`, and well-known key formats
    (``sk-...``, ``Bearer ...``) inside strings are masked.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "REDACTED",
    "TRUNCATED_MARK",
    "Limits",
    "Redactor",
    "snapshot",
    "to_jsonable",
]

REDACTED = "[REDACTED]"
TRUNCATED_MARK = "…[truncated]"

_ATOMIC: frozenset[type] = frozenset({str, int, float, bool, type(None), bytes, complex})

DEFAULT_SECRET_KEYS: tuple[str, ...] = (
    "api_key",
    "apikey",
    "api-key",
    "x-api-key",
    "access_key",
    "secret",
    "client_secret",
    "password",
    "passwd",
    "token",
    "access_token",
    "refresh_token",
    "auth",
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "private_key",
    "session_key",
    "credentials",
)

# A key is a secret when it *ends* with one of these words (after a separator or at the start):
# "openai_api_key", "x-api-key", "access_token", "db_password" are; "max_tokens", "prompt_tokens",
# "cache_key" are not.
_SECRET_KEY_RE = re.compile(
    r"(?:^|[_\-.])(?:api[_-]?key|apikey|secret|secret[_-]?key|access[_-]?key|passw(?:or)?d"
    r"|token|auth|authori[sz]ation|cookie|private[_-]?key|credentials?|session[_-]?key"
    r"|signature)$",
    re.IGNORECASE,
)

_SECRET_VALUE_RE = re.compile(
    r"(?:sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}"  # OpenAI / Anthropic style keys
    r"|(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{12,}"  # Authorization header values
    r"|AKIA[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|xox[baprs]-[A-Za-z0-9-]{10,})"  # Slack tokens
)


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds applied when converting a value.

    Attributes:
        max_string: Longest string kept, in characters.
        max_items: Most elements kept from one list or dict.
        max_depth: Deepest nesting converted; deeper containers become a bounded repr.
    """

    max_string: int = 32_768
    max_items: int = 1_000
    max_depth: int = 12


class Redactor:
    """Decides which keys and string values are secrets.

    Args:
        keys: Extra key names to redact (case-insensitive, exact match), on top of the defaults.
        patterns: Extra regular expressions whose matches inside strings are masked.
        enabled: False turns redaction off entirely.
    """

    __slots__ = ("_cache", "_enabled", "_keys", "_min_length", "_value_re")

    def __init__(
        self,
        *,
        keys: Iterable[str] = (),
        patterns: Iterable[str | re.Pattern[str]] = (),
        enabled: bool = True,
    ) -> None:
        self._enabled = enabled
        self._keys = frozenset(k.lower() for k in (*DEFAULT_SECRET_KEYS, *keys))
        extra = [p if isinstance(p, str) else p.pattern for p in patterns]
        self._value_re = (
            re.compile("|".join([_SECRET_VALUE_RE.pattern, *extra])) if extra else _SECRET_VALUE_RE
        )
        # The built-in formats are all at least 15 characters long; user patterns may be shorter.
        self._min_length = 0 if extra else 15
        # Keys repeat endlessly ("role", "content"): remember the verdicts (bounded).
        self._cache: dict[str, bool] = {}

    def is_secret_key(self, key: str) -> bool:
        """Return whether a value stored under ``key`` must be hidden."""
        verdict = self._cache.get(key)
        if verdict is None:
            low = key.lower()
            verdict = self._enabled and (
                low in self._keys or _SECRET_KEY_RE.search(low) is not None
            )
            if len(self._cache) >= 4096:
                self._cache.clear()
            self._cache[key] = verdict
        return verdict

    def mask(self, text: str) -> str:
        """Return ``text`` with well-known secret formats replaced by :data:`REDACTED`."""
        if not self._enabled or len(text) < self._min_length:
            return text
        return self._value_re.sub(REDACTED, text)


DEFAULT_REDACTOR = Redactor()
DEFAULT_LIMITS = Limits()


_COPIED: frozenset[type] = frozenset({list, dict, set})


def snapshot(value: Any, depth: int = 3) -> Any:
    """Copy mutable containers in ``value`` (up to ``depth`` levels); keep everything else.

    Cheap enough for the caller's thread: atomic values return at once, and only ``list``,
    ``dict`` and ``set`` (exact types) are copied.
    """
    t = type(value)
    if t in _ATOMIC:
        return value
    # Atomic elements are kept inline (no call per element): the hot case is chat messages.
    if t is dict:
        if depth <= 1:
            return value.copy()
        inner = depth - 1
        if inner == 1:  # the last level: copy mutable containers, keep everything else
            return {k: v.copy() if type(v) in _COPIED else v for k, v in value.items()}
        return {k: v if type(v) in _ATOMIC else snapshot(v, inner) for k, v in value.items()}
    if t is list:
        if depth <= 1:
            return value.copy()
        inner = depth - 1
        if inner == 1:
            return [v.copy() if type(v) in _COPIED else v for v in value]
        return [v if type(v) in _ATOMIC else snapshot(v, inner) for v in value]
    if t is tuple:
        if depth <= 1:
            return value
        inner = depth - 1
        return tuple([v if type(v) in _ATOMIC else snapshot(v, inner) for v in value])
    if t is set:
        return value.copy()
    return value


def _bounded_str(text: str, limits: Limits, redactor: Redactor) -> str:
    if len(text) > limits.max_string:
        text = text[: limits.max_string] + TRUNCATED_MARK
    return redactor.mask(text)


def _safe_repr(value: Any, limits: Limits, redactor: Redactor) -> str:
    try:
        text = repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__qualname__}>"
    return _bounded_str(text, limits, redactor)


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
            text = bytes(value).decode("utf-8", errors="replace")
            return _bounded_str(text, self.limits, self.redactor)
        if isinstance(value, (str, int, float)):  # subclasses: enums, IntEnum, str mixins
            return self.convert(_plain(value), depth)
        return self.container(value, depth)

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
                key = k if type(k) is str else _safe_repr(k, limits, redactor)
                if redactor.is_secret_key(key):
                    out[key] = REDACTED
                    continue
                t = type(v)
                if t is str and len(v) <= max_string:
                    out[key] = redactor.mask(v)
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

    def container(self, value: Any, depth: int) -> Any:
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
            items = list(value.items())
        except Exception:
            return {"<unreadable mapping>": _safe_repr(value, limits, redactor)}
        for i, (k, v) in enumerate(items):
            if i >= limits.max_items:
                out[TRUNCATED_MARK] = f"{len(items) - i} more items"
                break
            key = k if type(k) is str else _safe_repr(k, limits, redactor)
            if redactor.is_secret_key(key):
                out[key] = REDACTED
            else:
                out[key] = self.convert(v, depth - 1)
        return out

    def items(self, value: Iterable[Any], depth: int) -> list[Any]:
        items = list(value)
        max_items = self.limits.max_items
        out = [self.convert(v, depth - 1) for v in items[:max_items]]
        if len(items) > max_items:
            out.append(f"{TRUNCATED_MARK} {len(items) - max_items} more items")
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
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        dump = getattr(value, "model_dump", None)
        if callable(dump) and not isinstance(value, type):
            return dump(mode="json")
        to_dict = getattr(value, "to_dict", None)
        if callable(to_dict) and not isinstance(value, type):
            return to_dict()
    except Exception:
        return _NOTHING
    return _NOTHING
