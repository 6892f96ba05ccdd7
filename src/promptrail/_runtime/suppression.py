"""Keeping promptrail's own I/O out of the app's OpenTelemetry traces.

:func:`suppress_instrumentation` is for exporters that talk to the network (an HTTP exporter
posting records with httpx2): wrapped around a request, it tells OpenTelemetry's
auto-instrumentation (httpx, requests, urllib3, ...) not to trace it, so exporting logs does not
produce spans (and, with the OTel bridge on, no span loop). It works without opentelemetry
installed, and costs nothing when opentelemetry was never imported: then no instrumentation can
be active, and the context manager does nothing.

::

    from promptrail._runtime.suppression import suppress_instrumentation

    with suppress_instrumentation():
        client.post(url, json=body)
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager

__all__ = ["SUPPRESS_KEY_PLAIN", "suppress_instrumentation"]

SUPPRESS_KEY_PLAIN = "suppress_instrumentation"
"""The plain context key opentelemetry-instrumentation (contrib) also honours."""


def suppress_instrumentation() -> AbstractContextManager[None]:
    """Return a context manager inside which OpenTelemetry instrumentation records nothing.

    Sets both the API's own key (``opentelemetry.context._SUPPRESS_INSTRUMENTATION_KEY``, honoured
    by the SDK's exporters and by contrib) and the plain ``"suppress_instrumentation"`` key
    (honoured by contrib's ``is_instrumentation_enabled``). A no-op when opentelemetry has not
    been imported in this process.

    .. versionadded:: 0.1.0
    """
    if "opentelemetry.context" not in sys.modules:
        return contextlib.nullcontext()
    return _suppressed()


@contextlib.contextmanager
def _suppressed() -> Iterator[None]:
    from opentelemetry import context

    ctx = context.set_value(SUPPRESS_KEY_PLAIN, True)
    key = getattr(context, "_SUPPRESS_INSTRUMENTATION_KEY", None)
    if isinstance(key, str):
        ctx = context.set_value(key, True, ctx)
    token = context.attach(ctx)
    try:
        yield
    finally:
        context.detach(token)
