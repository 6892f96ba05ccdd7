"""The checks ``configure()`` runs on its options before it changes anything.

A wrong type is a mistake in the calling code: it is reported where ``configure()`` is called,
not left to fail (or to mean something else) later in the export worker.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from promptrail._runtime.limits import Limits
from promptrail._runtime.redaction import Redactor
from promptrail.exceptions import ConfigurationError

__all__ = ["check_options"]

_FLAGS = (
    "enabled",
    "flush_at_exit",
    "keep_errors",
    "capture_inputs",
    "capture_outputs",
    "capture_provider_payloads",
    "handle_signals",
)


def _kind(value: object) -> str:
    # The type, not the repr: a misplaced client's repr may quote its API key.
    return type(value).__qualname__


def _check_pipeline(name: str, items: object) -> None:
    if items is None:
        return
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        msg = f"{name} must be a list, not {_kind(items)}"
        if callable(getattr(items, "shutdown", None)):  # one exporter, not in a list
            msg += f" (write {name}=[{type(items).__qualname__}(...)])"
        raise ConfigurationError(msg)
    for item in items:
        if isinstance(item, type):
            msg = f"{item.__qualname__} is a class: pass an instance, {item.__qualname__}(...)"
            raise ConfigurationError(msg)
        if not callable(getattr(item, "shutdown", None)):
            msg = f"a {_kind(item)} object is not an exporter or processor (it has no shutdown())"
            raise ConfigurationError(msg)


def _is_flag(value: object) -> bool:
    """A bool, or 0 or 1 (which meant False and True before the options were checked)."""
    return isinstance(value, int) and value in (0, 1)


def _check_number(name: str, value: object, what: str) -> None:
    # Any real number (numpy's and Fraction included); configure() stores it as a float.
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        msg = f"{name} must be {what}, not {_kind(value)}"
        raise ConfigurationError(msg)


def check_options(options: dict[str, Any]) -> None:
    """Raise :class:`ConfigurationError` for the first option of ``configure()`` that is wrong.

    ``options`` maps ``configure()``'s parameter names to the values given (``None``: not given).
    """
    _check_pipeline("exporters", options.get("exporters"))
    _check_pipeline("processors", options.get("processors"))
    for name in _FLAGS:
        value = options.get(name)
        if value is not None and not _is_flag(value):
            msg = f"{name} must be True, False or None, not {_kind(value)}"
            raise ConfigurationError(msg)
    environment = options.get("environment")
    if environment is not None and not isinstance(environment, str):
        msg = f"environment must be a string, not {_kind(environment)}"
        raise ConfigurationError(msg)
    redact = options.get("redact")
    if redact is not None and not (_is_flag(redact) or isinstance(redact, Redactor)):
        msg = f"redact must be True, False or a Redactor, not {_kind(redact)}"
        raise ConfigurationError(msg)
    limits = options.get("limits")
    if limits is not None and not isinstance(limits, Limits):
        msg = f"limits must be a promptrail.Limits, not {_kind(limits)}"
        raise ConfigurationError(msg)
    exit_timeout = options.get("exit_timeout")
    _check_number("exit_timeout", exit_timeout, "a number of seconds")
    if exit_timeout is not None and exit_timeout < 0:
        msg = f"exit_timeout must not be negative, not {exit_timeout!r}"
        raise ConfigurationError(msg)
    sample_rate = options.get("sample_rate")
    _check_number("sample_rate", sample_rate, "a number between 0 and 1")
    if sample_rate is not None and not 0.0 <= sample_rate <= 1.0:
        msg = f"sample_rate must be between 0 and 1, not {sample_rate!r}"
        raise ConfigurationError(msg)
