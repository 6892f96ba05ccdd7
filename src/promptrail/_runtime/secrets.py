"""What a secret looks like: key names and well-known token formats (no promptrail imports).

Kept apart from :class:`~promptrail.Redactor` so that the internal-error reporter, which every
other module uses, can mask its log lines without importing the redactor (which reports through
it).
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_SECRET_KEYS",
    "NOT_SECRET_KEY_RE",
    "REDACTED",
    "SECRET_KEY_RE",
    "SECRET_VALUE_RE",
    "mask_builtin",
]

REDACTED = "[REDACTED]"


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
SECRET_KEY_RE = re.compile(
    r"(?:^|[_\-.])(?:api[_-]?key|apikey|secret|secret[_-]?key|access[_-]?key|passw(?:or)?d"
    r"|token|auth|authori[sz]ation|cookie|private[_-]?key|credentials?|session[_-]?key"
    r"|signature)$",
    re.IGNORECASE,
)
# Measurements that merely end in "token": "time_to_first_token", "last_token".
NOT_SECRET_KEY_RE = re.compile(r"(?:first|last)[_\-]token$", re.IGNORECASE)

SECRET_VALUE_RE = re.compile(
    r"(?:sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}"  # OpenAI / Anthropic style keys
    r"|(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{12,}"  # Authorization header values
    r"|AKIA[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|xox[baprs]-[A-Za-z0-9-]{10,})"  # Slack tokens
)


def mask_builtin(text: str) -> str:
    """Return ``text`` with the built-in secret formats replaced by :data:`REDACTED`."""
    return SECRET_VALUE_RE.sub(REDACTED, text) if len(text) >= 15 else text
