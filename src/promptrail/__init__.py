"""promptrail: trace LLM calls into Humanloop-compatible logs, fast and without breaking the app.

::

    from promptrail import log_prompt, trace

    @log_prompt(path="support/answer")
    def answer(question: str, messages: list[dict]) -> str: ...

    with trace(path="support/flow", inputs={"q": q}):
        answer(q, messages)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from promptrail._active import ActiveLog
from promptrail._batch import BatchProcessor
from promptrail._context import (
    ContextThreadPoolExecutor,
    Scope,
    bind_context,
    get_current_log_id,
    get_current_trace_id,
)
from promptrail._cost import register_price
from promptrail._decorator import log_flow, log_prompt, log_tool
from promptrail._extract import Extractor, register_extractor, unregister_extractor
from promptrail._pipeline import Stats, configure, flush, shutdown, stats
from promptrail._processors import BaseProcessor, Processor, SimpleProcessor
from promptrail._records import ChatMessage, FunctionCall, LogRecord, PromptKernel, ToolCall
from promptrail._serialize import Limits, Redactor
from promptrail._trace import Trace, trace, update_current
from promptrail._version import __version__
from promptrail.exceptions import ConfigurationError, PromptrailError

if TYPE_CHECKING:
    from promptrail._otel import OtelBridge as OtelBridge
    from promptrail._otel_ingest import GenAiSpanProcessor as GenAiSpanProcessor

__all__ = [
    "ActiveLog",
    "BaseProcessor",
    "BatchProcessor",
    "ChatMessage",
    "ConfigurationError",
    "ContextThreadPoolExecutor",
    "Extractor",
    "FunctionCall",
    "Limits",
    "LogRecord",
    "Processor",
    "PromptKernel",
    "PromptrailError",
    "Redactor",
    "Scope",
    "SimpleProcessor",
    "Stats",
    "ToolCall",
    "Trace",
    "__version__",
    "bind_context",
    "configure",
    "flush",
    "get_current_log_id",
    "get_current_trace_id",
    "log_flow",
    "log_prompt",
    "log_tool",
    "register_extractor",
    "register_price",
    "shutdown",
    "stats",
    "trace",
    "unregister_extractor",
    "update_current",
]

# Imported on first use so that ``import promptrail`` never imports opentelemetry (an optional
# extra). They are left out of ``__all__`` so that ``from promptrail import *`` works without it.
_LAZY = {
    "GenAiSpanProcessor": "promptrail._otel_ingest",  # needs opentelemetry-sdk
    "OtelBridge": "promptrail._otel",  # needs opentelemetry-api (promptrail[otel])
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'promptrail' has no attribute {name!r}"
        raise AttributeError(msg)
    import importlib

    return getattr(importlib.import_module(module), name)
