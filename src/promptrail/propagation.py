"""One trace across services: carry the current log to another service over HTTP.

In the calling service, :func:`inject` adds a W3C ``traceparent`` and promptrail's ``baggage``
entries (parent log, trace, session, user, tags) to a request's headers; in the called service,
``with extract(request.headers):`` makes the logs made inside children of the calling log. The
middleware and the httpx2 hook do both for the common stacks::

    app.add_middleware(PromptrailASGIMiddleware)                  # FastAPI / Starlette
    client = httpx2.AsyncClient(event_hooks=httpx_hooks(asynchronous=True))
    session = requests_session()                                  # requests

With the OpenTelemetry bridge configured, OTel's global propagator writes and reads the
``traceparent`` (see :mod:`promptrail.otel`), so promptrail and OTel-instrumented services share
one trace.

.. versionadded:: 0.2.0
"""

from __future__ import annotations

from promptrail._tracing.remote import RemoteParent, extract, inject
from promptrail.integrations._middleware import (
    PromptrailASGIMiddleware,
    PromptrailWSGIMiddleware,
    httpx_hooks,
    requests_adapter,
    requests_session,
)

__all__ = [
    "PromptrailASGIMiddleware",
    "PromptrailWSGIMiddleware",
    "RemoteParent",
    "extract",
    "httpx_hooks",
    "inject",
    "requests_adapter",
    "requests_session",
]
