"""Exceptions promptrail raises into user code, which happens only for misuse at setup time.

Calls of decorated functions never raise promptrail's exceptions; failures there are logged and
counted (see ``promptrail.stats()``). The hierarchy::

    PromptrailError
    ├── ConfigurationError   bad argument to configure(), a decorator or a constructor
    └── ExportError          raised by exporters for the caller of a direct export, never by
                             the pipeline
"""

from __future__ import annotations

__all__ = ["ConfigurationError", "ExportError", "PromptrailError"]


class PromptrailError(Exception):
    """Base class of promptrail's exceptions.

    .. versionadded:: 0.1.0
    """


class ConfigurationError(PromptrailError, ValueError):
    """An option has an invalid value (raised when the option is given, never later).

    .. versionadded:: 0.1.0
    """


class ExportError(PromptrailError):
    """An exporter could not deliver records.

    .. versionadded:: 0.1.0
    """
