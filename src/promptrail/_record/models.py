"""The log record: pydantic models whose field names are the "Log to a Prompt" API's.

``record.model_dump(mode="json", exclude_none=True)`` is a valid request body for a
Humanloop-compatible server. Records are frozen: once a call ends, its record does not change.
These models are built off the caller's thread (see ``_active.ActiveLog.to_record``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatMessage",
    "FunctionCall",
    "LogKind",
    "LogRecord",
    "PromptKernel",
    "ToolCall",
]

LogKind = Literal["prompt", "flow", "tool", "evaluator"]
"""What a log describes: an LLM call, a trace/workflow block, a tool function, or a judgment
of another log (a score: ``promptrail.score()``)."""

ChatRole = Literal["system", "user", "assistant", "tool", "developer"]

TokenCount = Annotated[int, Field(ge=0, le=2**63 - 1)]
"""A token count: a non-negative integer that fits a signed 64-bit column (SQLite, Postgres)."""


class _Frozen(BaseModel):
    """Base of every record model: immutable, unknown fields ignored (other clients add some)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class FunctionCall(_Frozen):
    """The function a model asked to call.

    .. versionadded:: 0.1.0
    """

    name: str
    arguments: str | None = None


class ToolCall(_Frozen):
    """One tool call requested in an assistant message.

    .. versionadded:: 0.1.0
    """

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Frozen):
    """A chat message sent to or returned by a model.

    ``content`` is text or a list of content parts (``{"type": "text", "text": ...}`` and the like).

    .. versionadded:: 0.1.0
    """

    role: ChatRole
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: list[ToolCall] | None = None
    thinking: str | None = None


class PromptKernel(_Frozen):
    """The details of a prompt version: model, template and parameters.

    Two calls with equal kernels belong to the same prompt version (see ``LogRecord.version_id``).

    .. versionadded:: 0.1.0
    """

    model: str | None = None
    endpoint: Literal["chat", "complete", "edit"] | None = None
    template: str | list[dict[str, Any]] | None = None
    template_language: str | None = None
    provider: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    reasoning_effort: str | int | None = None
    """``"low"``/``"medium"``/``"high"`` (OpenAI), or a thinking budget in tokens (Anthropic)."""
    tools: list[dict[str, Any]] | None = None
    other: dict[str, Any] | None = None
    attributes: dict[str, Any] | None = None
    """Free-form details of the version (Humanloop's ``prompt.attributes``)."""


class LogRecord(_Frozen):
    """One finished log: a decorated call or a ``trace()`` block.

    Field names follow the "Log to a Prompt" API, plus ``kind`` and ``trace_id``, which
    promptrail adds so that a store can rebuild trees without the server's help. A score is an
    ``evaluator`` log in the shape of Humanloop's evaluator logs: ``parent_id`` is the judged
    log (also its ``trace_parent_id``, so it nests under it) and ``judgment`` the value.

    .. versionadded:: 0.1.0
    """

    log_id: str
    path: str
    kind: LogKind = "prompt"
    trace_id: str
    trace_parent_id: str | None = None
    inputs: dict[str, Any] | None = None
    messages: list[ChatMessage] | None = None
    output: str | None = None
    output_message: ChatMessage | None = None
    prompt: PromptKernel | None = None
    tool: dict[str, Any] | None = None
    flow: dict[str, Any] | None = None
    """A flow log's version details, e.g. ``{"attributes": {...}}`` (Humanloop's ``flow``)."""
    version_id: str | None = None
    environment: str | None = None
    prompt_tokens: TokenCount | None = None
    reasoning_tokens: TokenCount | None = None
    output_tokens: TokenCount | None = None
    prompt_cost: float | None = None
    output_cost: float | None = None
    finish_reason: str | None = None
    tool_choice: str | dict[str, Any] | None = None
    start_time: datetime
    end_time: datetime | None = None
    provider_latency: float | None = None
    created_at: datetime
    error: str | None = None
    stdout: str | None = None
    provider_request: dict[str, Any] | None = None
    provider_response: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    user: str | None = None
    session_id: str | None = None
    tags: list[str] | None = None
    parent_id: str | None = None
    judgment: bool | float | str | None = None
    source: str | None = None
    source_datapoint_id: str | None = None
    run_id: str | None = None
    save: bool = True
    log_status: Literal["complete", "incomplete"] | None = None
    """``incomplete`` while a client means to update the log (Humanloop's manual tracing)."""

    def to_body(self) -> dict[str, Any]:
        """Return the JSON request body of this log (``None`` fields left out).

        .. versionadded:: 0.1.0
        """
        return self.model_dump(mode="json", exclude_none=True)
