"""Exceptions promptrail raises into user code, which happens only for misuse at setup time.

Calls of decorated functions never raise promptrail's exceptions; failures there are logged and
counted (see ``promptrail.stats()``). The hierarchy::

    PromptrailError
    ├── ConfigurationError   bad argument to configure(), a decorator or a constructor
    └── NotAStoreError       (promptrail.exporters) a file that is not a promptrail SQLite store
"""

from __future__ import annotations

__all__ = ["ConfigurationError", "PromptrailError"]


class PromptrailError(Exception):
    """Base class of promptrail's exceptions.

    .. versionadded:: 0.1.0
    """


class ConfigurationError(PromptrailError, ValueError):
    """An option has an invalid value (raised when the option is given, never later).

    .. versionadded:: 0.1.0
    """
