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
    "key_words",
    "mask_builtin",
    "mask_text",
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
    "pwd",
    "passwd",
    "private_key",
    "session_key",
    "credentials",
)

# A key is a secret when it *ends* with one of these words (after a separator, a space included,
# or at the start; camelCase counts as separated, see :func:`key_words`): "openai_api_key",
# "x-api-key", "API key", "access_token", "db_password", "stripe_key", "accessToken",
# "AWSSecretKey", "Ocp-Apim-Subscription-Key" (Azure), "AccountKey" (Azure Storage) are;
# "max_tokens", "prompt_tokens", "cache_key", "signature" (a thinking block's, needed to replay
# it) are not.
SECRET_KEY_RE = re.compile(
    r"(?:^|[_\-. ])(?:api[_\- ]?keys?|apikeys?|secrets?|secret[_\- ]?key|access[_\- ]?key"
    r"|passw(?:or)?ds?|pwd|token|auth|authori[sz]ation|cookie|private[_\- ]?key|credentials?"
    r"|session[_\- ]?key|stripe[_\- ]?key|signing[_\- ]?key|encryption[_\- ]?key|bearer|jwt"
    r"|account[_\- ]?key|subscription[_\- ]?key|functions?[_\- ]?key|auth[_\- ]?key)$",
    re.IGNORECASE,
)
# Measurements that merely end in "token": "time_to_first_token", "last_token".
NOT_SECRET_KEY_RE = re.compile(r"(?:first|last)[_\- ]token$", re.IGNORECASE)
# A word boundary inside camelCase: "accessToken", and after an acronym: "AWSSecretKey".
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def key_words(key: str) -> str:
    """Return ``key`` lower-cased, camelCase parts separated ("AWSSecretKey": "aws_secret_key")."""
    return _CAMEL_RE.sub("_", key).lower() if not key.islower() else key


SECRET_VALUE_RE = re.compile(
    r"(?:sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{16,}"  # OpenAI / Anthropic style keys
    r"|(?:Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]{12,}"  # Authorization header values
    r"|AKIA[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{20,}"  # GitHub tokens
    r"|xox[a-z]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|eyJ[A-Za-z0-9_-]{6,}\.eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}"  # JWTs
    r"|AIza[0-9A-Za-z_\-]{30,}"  # Google API keys
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face tokens
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe secret and restricted keys
    r"|(?<=://)[^/\s:@]*:[^/\s@]+(?=@))"  # credentials in a URL ("user:password" before "@")
)

# A value written right after a secret-like word ("password=hunter2", "aws_secret_access_key:
# wJalr...", '"api_key": "abc123"'): the value is masked, the word kept.
SECRET_ASSIGNMENT_RE = re.compile(
    r"((?:passw(?:or)?d|pwd|secret(?:[_\- ]?access)?(?:[_\- ]?key)?|api[_\- ]?key|access[_\- ]?key"
    r"|private[_\- ]?key|token|credentials?|account[_\- ]?key|subscription[_\- ]?key)"
    r"[\"']?\s*[:=]\s*[\"']?)"
    r"([^\s\"',;)}\]]{6,})",
    re.IGNORECASE,
)


def _may_assign(text: str) -> bool:
    """Whether ``text`` may hold a value after a secret-like word (a necessary condition).

    :data:`SECRET_ASSIGNMENT_RE` needs a ``:`` or ``=`` and one of its words, whatever the case.
    Substring tests run in C; the regex scan is what costs (a few µs on a sentence).
    """
    if "=" not in text and ":" not in text:
        return False
    if not text.isascii():  # IGNORECASE also folds the long s (U+017F) and dotless i (U+0131)
        return True
    low = text.lower()
    return (
        "ass" in low  # pass, password, passwd
        or "wd" in low  # pwd
        or "ecret" in low
        or "ey" in low  # api key, access key, private key
        or "oken" in low
        or "edential" in low
    )


def _may_hold_format(text: str) -> bool:
    """Whether ``text`` may hold one of :data:`SECRET_VALUE_RE`'s formats (a necessary condition).

    Each format starts with a fixed marker (or needs ``://`` before it); the tests are spelled
    out rather than looped over, which costs a tenth as much on the short strings logs are made
    of.
    """
    return (
        "sk-" in text
        or "Bearer" in text
        or "Basic" in text
        or "AKIA" in text
        or ("gh" in text and "_" in text)
        or "xox" in text
        or "eyJ" in text
        or "AIza" in text
        or "hf_" in text
        or "_live_" in text
        or "_test_" in text
        or "://" in text
    )


def _keep_word(match: re.Match[str]) -> str:
    return match.group(1) + REDACTED


def mask_text(
    text: str, value_re: re.Pattern[str] = SECRET_VALUE_RE, *, hinted: bool = True
) -> str:
    """Return ``text`` with secret formats and values after secret-like words masked.

    ``hinted``: skip the format scan when no built-in format's marker is in ``text`` (substring
    tests run in C; the regex scans are the slow part). False when ``value_re`` has user patterns.
    """
    if _may_assign(text):
        text = SECRET_ASSIGNMENT_RE.sub(_keep_word, text)
    if not hinted or _may_hold_format(text):
        text = value_re.sub(REDACTED, text)
    return text


def mask_builtin(text: str) -> str:
    """Return ``text`` with the built-in secret formats replaced by :data:`REDACTED`."""
    return mask_text(text) if len(text) >= 6 else text
