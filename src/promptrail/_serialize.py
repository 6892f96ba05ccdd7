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
import math
import re
from collections.abc import Callable, Iterable, Mapping
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

_SECRET_KEY_RE = re.compile(
    r"(api[_-]?key|secret|passw(or)?d|token|authori[sz]ation|cookie|private[_-]?key|credential)",
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

    __slots__ = ("_enabled", "_keys", "_value_re")

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

    def is_secret_key(self, key: str) -> bool:
        """Return whether a value stored under ``key`` must be hidden."""
        if not self._enabled:
            return False
        low = key.lower()
        return low in self._keys or _SECRET_KEY_RE.search(low) is not None

    def mask(self, text: str) -> str:
        """Return ``text`` with well-known secret formats replaced by :data:`REDACTED`."""
        if not self._enabled:
            return text
        return self._value_re.sub(REDACTED, text)


DEFAULT_REDACTOR = Redactor()
DEFAULT_LIMITS = Limits()


def snapshot(value: Any, depth: int = 3) -> Any:
    """Copy mutable containers in ``value`` (up to ``depth`` levels); keep everything else.

    Cheap enough for the caller's thread: atomic values return at once, and only ``list``,
    ``dict`` and ``set`` (exact types) are copied.
    """
    t = type(value)
    if t in _ATOMIC:
        return value
    if t is list:
        if depth <= 1:
            return value.copy()
        return [snapshot(v, depth - 1) for v in value]
    if t is dict:
        if depth <= 1:
            return value.copy()
        return {k: snapshot(v, depth - 1) for k, v in value.items()}
    if t is tuple:
        return tuple(snapshot(v, depth - 1) for v in value) if depth > 1 else value
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
    return _convert(value, limits, redactor, limits.max_depth, set())


def _convert(value: Any, limits: Limits, redactor: Redactor, depth: int, seen: set[int]) -> Any:
    t = type(value)
    if t is str:
        return _bounded_str(value, limits, redactor)
    if value is None or t is bool or t is int:
        return value
    if t is float:
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if t is bytes or t is bytearray:
        return _bounded_str(bytes(value).decode("utf-8", errors="replace"), limits, redactor)
    if isinstance(value, (str, int, float)):  # subclasses (enums, numpy-less IntEnum ...)
        return _convert(_plain(value), limits, redactor, depth, seen)
    if depth <= 0:
        return _safe_repr(value, limits, redactor)
    ident = id(value)
    if ident in seen:
        return "<cycle>"
    seen.add(ident)
    try:
        if isinstance(value, Mapping):
            return _convert_mapping(value, limits, redactor, depth, seen)
        if isinstance(value, (list, tuple, set, frozenset)):
            return _convert_items(value, limits, redactor, depth, seen)
        converted = _via_protocol(value)
        if converted is not _NOTHING:
            return _convert(converted, limits, redactor, depth - 1, seen)
        return _safe_repr(value, limits, redactor)
    finally:
        seen.discard(ident)


def _plain(value: str | int | float) -> Any:
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    return float(value)


def _convert_mapping(
    value: Mapping[Any, Any], limits: Limits, redactor: Redactor, depth: int, seen: set[int]
) -> dict[str, Any]:
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
            out[key] = _convert(v, limits, redactor, depth - 1, seen)
    return out


def _convert_items(
    value: Iterable[Any], limits: Limits, redactor: Redactor, depth: int, seen: set[int]
) -> list[Any]:
    items = list(value)
    out = [_convert(v, limits, redactor, depth - 1, seen) for v in items[: limits.max_items]]
    if len(items) > limits.max_items:
        out.append(f"{TRUNCATED_MARK} {len(items) - limits.max_items} more items")
    return out


class _Nothing:
    pass


_NOTHING: Any = _Nothing()

_Converter = Callable[[Any], Any]


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
