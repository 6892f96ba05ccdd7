"""promptrail's HTTP side: the trace viewer web page (``create_web_app``)."""

from __future__ import annotations
