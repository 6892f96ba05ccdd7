"""The checks ``configure()`` runs on its options before it changes anything.

A wrong type is a mistake in the calling code: it is reported where ``configure()`` is called,
not left to fail (or to mean something else) later in the export worker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from promptrail._runtime.checks import is_flag, is_number, type_name
from promptrail._runtime.limits import Limits
from promptrail._runtime.redaction import Redactor
from promptrail.exceptions import ConfigurationError

__all__ = ["check_options", "check_part"]

_FLAGS = (
    "enabled",
    "flush_at_exit",
    "keep_errors",
    "capture_inputs",
    "capture_outputs",
    "capture_provider_payloads",
    "handle_signals",
)

# The other options: (name, the test a given value must pass, what the message asks for).
_TYPED: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("environment", lambda v: isinstance(v, str), "a string"),
    ("redact", lambda v: is_flag(v) or isinstance(v, Redactor), "True, False or a Redactor"),
    ("limits", lambda v: isinstance(v, Limits), "a promptrail.Limits"),
    ("exit_timeout", lambda v: is_number(v) and v >= 0, "a number of seconds (0 or more)"),
    ("sample_rate", lambda v: is_number(v) and 0 <= v <= 1, "a number between 0 and 1"),
)


def check_part(part: object, method: str, role: str) -> None:
    """Reject, where it is given, an object that is not a pipeline part.

    A class, or an object without ``method()``: every call of it would fail later, in the
    background.

    Raises:
        ConfigurationError: Naming the type (never the repr, which may quote a key).
    """
    if isinstance(part, type):
        msg = f"{part.__qualname__} is a class: pass {role}, {part.__qualname__}(...)"
        raise ConfigurationError(msg)
    if not callable(getattr(part, method, None)):
        msg = f"a {type_name(part)} object is not {role} (it has no {method}())"
        raise ConfigurationError(msg)


def _check_pipeline(name: str, items: object) -> None:
    if items is None:
        return
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        msg = f"{name} must be a list, not {type_name(items)}"
        if callable(getattr(items, "shutdown", None)):  # one exporter, not in a list
            msg += f" (write {name}=[{type_name(items)}(...)])"
        raise ConfigurationError(msg)
    for item in items:
        check_part(item, "shutdown", "an exporter or processor")


def check_options(options: dict[str, Any]) -> None:
    """Raise :class:`ConfigurationError` for the first option of ``configure()`` that is wrong.

    ``options`` maps ``configure()``'s parameter names to the values given (``None``: not given).
    A number may be of any real type (``Fraction``, numpy's): ``configure()`` stores a float.
    """
    _check_pipeline("exporters", options.get("exporters"))
    _check_pipeline("processors", options.get("processors"))
    checks = [(name, is_flag, "True, False or None") for name in _FLAGS]
    for name, ok, wanted in (*checks, *_TYPED):
        value = options.get(name)
        if value is not None and not ok(value):
            shown = repr(value) if is_number(value) else type_name(value)
            msg = f"{name} must be {wanted}, not {shown}"
            raise ConfigurationError(msg)
