"""Which captured values are secrets: :class:`Redactor` and the built-in secret formats."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from promptrail._runtime import errors as _errors
from promptrail._runtime.secrets import (
    DEFAULT_SECRET_KEYS,
    NOT_SECRET_KEY_RE,
    REDACTED,
    SECRET_KEY_RE,
    SECRET_VALUE_RE,
    key_words,
    mask_text,
)
from promptrail.exceptions import ConfigurationError

__all__ = ["DEFAULT_REDACTOR", "DEFAULT_SECRET_KEYS", "REDACTED", "Redactor"]


_CACHED_KEY_LENGTH = 128
"""Keys longer than this are judged every time: no cache keeps a long (maybe secret) key alive."""


class Redactor:
    """Decides which keys and string values are secrets.

    Args:
        keys: Extra key names to redact, on top of the defaults: case-insensitive, and a
            camelCase name also matches its snake_case spelling (``"userEmail"``,
            ``"user_email"``); a single string is one key.
        patterns: Extra regular expressions whose matches inside strings are masked; a single
            string is one pattern.
        callback: ``callback(key, value) -> bool``, asked about every entry of every mapping
            being logged (at any depth) whose key is not already a secret; ``True`` replaces the
            value with ``"[REDACTED]"``. ``value`` is the original object, before conversion.
            If it raises, the value is hidden (fail closed) and the failure is reported once.
        mask: ``mask(text) -> text``, applied to every string promptrail writes after the
            built-in masking (whole-value masking: e-mail addresses, names, other PII). If it
            raises or returns a non-string, the text becomes ``"[REDACTED]"``.
        enabled: False turns redaction off entirely (the callback too).

    Raises:
        TypeError: If ``callback`` or ``mask`` is not callable.
        ConfigurationError: If a pattern is not a valid regular expression.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_cache",
        "_callback",
        "_enabled",
        "_key_cache",
        "_keys",
        "_masker",
        "_min_length",
        "_value_re",
    )

    def __init__(
        self,
        *,
        keys: Iterable[str] = (),
        patterns: Iterable[str | re.Pattern[str]] = (),
        callback: Callable[[str, Any], bool] | None = None,
        mask: Callable[[str], str] | None = None,
        enabled: bool = True,
    ) -> None:
        if callback is not None and not callable(callback):
            msg = f"callback must be callable, not {type(callback).__name__}"
            raise TypeError(msg)
        if mask is not None and not callable(mask):
            msg = f"mask must be callable, not {type(mask).__name__}"
            raise TypeError(msg)
        self._masker = mask if enabled else None
        self._callback = callback if enabled else None
        self._enabled = enabled
        if isinstance(keys, str):  # one key, not its characters
            keys = (keys,)
        if isinstance(patterns, str | re.Pattern):
            patterns = (patterns,)
        # Each name as written and by its words: a key is looked up both ways ("sessionId" is
        # "sessionid" and "session_id").
        names = (*DEFAULT_SECRET_KEYS, *keys)
        self._keys = frozenset({*(k.lower() for k in names), *(key_words(k) for k in names)})
        extra = [p if isinstance(p, str) else p.pattern for p in patterns]
        for pattern in extra:
            try:
                re.compile(pattern)
            except re.error as exc:
                msg = f"patterns: {pattern!r} is not a regular expression ({exc})"
                raise ConfigurationError(msg) from None
        self._value_re = (
            re.compile("|".join([SECRET_VALUE_RE.pattern, *extra])) if extra else SECRET_VALUE_RE
        )
        # The built-in formats are all at least 15 characters long; user patterns may be shorter.
        # Values after a secret-like word ("pwd=abc123") are at least 6 characters long with it;
        # user patterns and a mask callable may match anything.
        self._min_length = 0 if extra or self._masker is not None else 6
        # Keys repeat endlessly ("role", "content"): remember the verdicts (bounded).
        self._cache: dict[str, bool] = {}
        # Mapping keys as written and their verdicts (without a mask callable: the built-in
        # masking gives a key the same text every time).
        self._key_cache: dict[str, tuple[str, bool]] = {}

    def is_secret_key(self, key: str) -> bool:
        """Return whether a value stored under ``key`` must be hidden."""
        verdict = self._cache.get(key)
        if verdict is None:
            low = key_words(key)
            verdict = self._enabled and (
                low in self._keys
                or key.lower() in self._keys
                or (SECRET_KEY_RE.search(low) is not None and NOT_SECRET_KEY_RE.search(low) is None)
            )
            if len(key) <= _CACHED_KEY_LENGTH:
                if len(self._cache) >= 4096:
                    self._cache.clear()
                self._cache[key] = verdict
        return verdict

    def judge(self, key: str, value: Any) -> tuple[str, bool]:
        """Return a mapping entry's ``key`` as written and whether ``value`` is hidden.

        The key is written masked (a secret used as a key, see :meth:`mask`); the value is
        hidden under a secret key, or when the user callback says so (see :meth:`hides`).

        The key's text and verdict are remembered (bounded; not with a mask callable, which
        must see every key); the callback is asked every time.
        """
        found = self._key_cache.get(key)
        if found is None:
            written = self.mask(key)  # a secret used as a key
            found = (written, self.is_secret_key(written))
            if self._masker is None and len(key) <= _CACHED_KEY_LENGTH:
                if len(self._key_cache) >= 4096:
                    self._key_cache.clear()
                self._key_cache[key] = found
        if found[1] or self._callback is None:
            return found
        return found[0], self.hides(found[0], value)

    @property
    def has_callback(self) -> bool:
        """Whether a user callback judges mapping entries (see :meth:`hides`)."""
        return self._callback is not None

    def hides(self, key: str, value: Any) -> bool:
        """Return whether the user callback hides ``value`` stored under ``key``; never raises."""
        callback = self._callback
        if callback is None:
            return False
        try:
            return bool(callback(key, value))
        except Exception as exc:
            _errors.report(
                "redact:callback",
                exc,
                "the redaction callback raised; the value was hidden",
                internal=False,
            )
            return True

    def mask(self, text: str) -> str:
        """Return ``text`` with secrets masked, then passed through ``mask`` if given.

        Masked: well-known token formats, credentials in URLs, values after a secret-like word
        (``password=...``).
        """
        if not self._enabled or len(text) < self._min_length:
            return text
        text = mask_text(text, self._value_re, hinted=self._min_length > 0)
        masker = self._masker
        if masker is not None:
            try:
                masked = masker(text)
            except Exception as exc:
                _errors.report(
                    "redact:mask",
                    exc,
                    "the mask callable raised; the text was hidden",
                    internal=False,
                )
                return REDACTED
            return masked if type(masked) is str else REDACTED
        return text


DEFAULT_REDACTOR = Redactor()
