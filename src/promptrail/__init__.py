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

from promptrail._record.models import ChatMessage, FunctionCall, LogRecord, PromptKernel, ToolCall
from promptrail._runtime.limits import Limits
from promptrail._runtime.redaction import Redactor
from promptrail._tracing.active import ActiveLog
from promptrail._tracing.attributes import Attributes, attributes, update_current_trace
from promptrail._tracing.context import (
    ContextThreadPoolExecutor,
    Scope,
    bind_context,
    get_current_log_id,
    get_current_trace_id,
)
from promptrail._tracing.decorators import log_flow, log_prompt, log_tool
from promptrail._tracing.trace import Trace, trace, update_current
from promptrail._version import __version__
from promptrail.exceptions import ConfigurationError, PromptrailError
from promptrail.integrations._anthropic import instrument_anthropic, uninstrument_anthropic
from promptrail.integrations._bedrock import instrument_bedrock, uninstrument_bedrock
from promptrail.integrations._openai import instrument_openai, uninstrument_openai
from promptrail.integrations._others import (
    instrument_gemini,
    instrument_litellm,
    instrument_mistral,
    instrument_ollama,
    uninstrument_gemini,
    uninstrument_litellm,
    uninstrument_mistral,
    uninstrument_ollama,
)
from promptrail.pipeline._batch import BatchProcessor
from promptrail.pipeline._configure import Stats, configure, flush, shutdown, stats
from promptrail.pipeline._processors import BaseProcessor, Processor, SimpleProcessor
from promptrail.pipeline._score import score
from promptrail.pipeline._serverless import flush_after
from promptrail.providers._prices import register_price
from promptrail.providers._registry import Extractor, register_extractor, unregister_extractor

if TYPE_CHECKING:
    from promptrail.otel._bridge import OtelBridge as OtelBridge
    from promptrail.otel.ingest._processor import GenAiSpanProcessor as GenAiSpanProcessor

__all__ = [
    "ActiveLog",
    "Attributes",
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
    "attributes",
    "bind_context",
    "configure",
    "flush",
    "flush_after",
    "get_current_log_id",
    "get_current_trace_id",
    "instrument_anthropic",
    "instrument_bedrock",
    "instrument_gemini",
    "instrument_litellm",
    "instrument_mistral",
    "instrument_ollama",
    "instrument_openai",
    "log_flow",
    "log_prompt",
    "log_tool",
    "register_extractor",
    "register_price",
    "score",
    "shutdown",
    "stats",
    "trace",
    "uninstrument_anthropic",
    "uninstrument_bedrock",
    "uninstrument_gemini",
    "uninstrument_litellm",
    "uninstrument_mistral",
    "uninstrument_ollama",
    "uninstrument_openai",
    "unregister_extractor",
    "update_current",
    "update_current_trace",
]

# Imported on first use so that ``import promptrail`` never imports opentelemetry (an optional
# extra). They are left out of ``__all__`` so that ``from promptrail import *`` works without it.
_LAZY = {
    "GenAiSpanProcessor": ("promptrail.otel.ingest._processor", "opentelemetry-sdk"),
    "OtelBridge": ("promptrail.otel._bridge", "opentelemetry-api"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        msg = f"module 'promptrail' has no attribute {name!r}"
        raise AttributeError(msg)
    module, package = _LAZY[name]
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("opentelemetry"):
            raise
        msg = f"promptrail.{name} needs {package} ({exc.name} is missing): pip install {package}"
        raise ModuleNotFoundError(msg, name=exc.name) from exc
