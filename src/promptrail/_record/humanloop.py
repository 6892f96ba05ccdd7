"""A record as the body of Humanloop's "log" requests, and back.

``LogRecord.to_body()`` is promptrail's own shape (``promptrail serve``'s batch route takes it).
A Humanloop-compatible server takes, per kind, the fields of its ``prompts.log``, ``flows.log``,
``tools.log`` and ``evaluators.log`` requests (Humanloop SDK 0.8.38). :func:`humanloop_body`
builds that body:

* fields the kind's request does not have (``kind``, ``trace_id``, ``session_id``, ``tags``, a
  prompt's fields on a tool log, ...) and a version id promptrail derived itself (``pv_…``, which
  a Humanloop server never issued and would look up) move into ``metadata["promptrail"]``, where a
  Humanloop server keeps them as data and ``promptrail serve`` reads them back
  (:func:`restore_extras`);
* a thinking text becomes Humanloop's list of thinking blocks;
* tool definitions (OpenAI-style ``{"type": "function", "function": {...}}`` in a prompt, the
  ``tool`` of a tool log) take Humanloop's ``ToolFunction``/``ToolKernelRequest`` shape, the
  original kept in the extras; a prompt without a model (Humanloop requires one) moves there too.

So ``restore_extras(humanloop_body(record))`` is ``record.to_body()`` again, less a user's
``version_id``, which travels as the ``version_id`` query parameter, as Humanloop's API takes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from promptrail._record.models import LogKind, LogRecord

__all__ = [
    "EXTRAS_KEY",
    "humanloop_body",
    "humanloop_version_id",
    "restore_extras",
    "thinking_blocks",
    "thinking_text",
    "tool_function",
]

EXTRAS_KEY = "promptrail"
"""The ``metadata`` key under which promptrail's own fields travel in a Humanloop body."""

_COMMON = frozenset(
    {
        "path",
        "start_time",
        "end_time",
        "output",
        "created_at",
        "error",
        "provider_latency",
        "stdout",
        "provider_request",
        "provider_response",
        "inputs",
        "source",
        "metadata",
        "source_datapoint_id",
        "trace_parent_id",
        "user",
        "save",
        "log_id",
        "run_id",
        "environment",
        "log_status",
    }
)
_FIELDS: dict[LogKind, frozenset[str]] = {
    "prompt": _COMMON
    | {
        "output_message",
        "prompt_tokens",
        "reasoning_tokens",
        "output_tokens",
        "prompt_cost",
        "output_cost",
        "finish_reason",
        "messages",
        "tool_choice",
        "prompt",
    },
    "flow": _COMMON | {"messages", "output_message", "flow"},
    "tool": _COMMON | {"tool"},
    "evaluator": _COMMON | {"parent_id", "judgment", "output_message"},
}
_MESSAGE_FIELDS = ("messages", "output_message")


def _each_message(data: dict[str, Any], change: Callable[[Any], Any]) -> None:
    """Apply ``change`` to each message of ``data``'s ``messages`` and ``output_message``."""
    for key in _MESSAGE_FIELDS:
        value = data.get(key)
        if isinstance(value, list):
            data[key] = [change(m) for m in value]
        elif isinstance(value, dict):
            data[key] = change(value)


def humanloop_version_id(record: LogRecord) -> str | None:
    """The version to log to, for a Humanloop server: a user's, never one promptrail derived."""
    version = record.version_id
    return None if version is None or version.startswith("pv_") else version


def thinking_blocks(message: Any) -> Any:
    """``message`` with its thinking text as Humanloop's list of thinking blocks."""
    thinking = message.get("thinking") if isinstance(message, dict) else None
    if isinstance(thinking, str):
        # Humanloop's type is a list of Anthropic-style blocks; the signature is not recorded.
        message = {
            **message,
            "thinking": [{"type": "thinking", "thinking": thinking, "signature": ""}],
        }
    return message


_FUNCTION_KEYS = ("name", "description", "strict", "parameters")
_TOOL_KERNEL_KEYS = ("function", "source_code", "setup_values", "attributes")


def tool_function(tool: Any) -> Any:
    """An OpenAI-style or bare function definition as Humanloop's ``ToolFunction``."""
    if not isinstance(tool, dict):
        return tool
    function = tool["function"] if isinstance(tool.get("function"), dict) else tool
    shaped = {k: function[k] for k in _FUNCTION_KEYS if function.get(k) is not None}
    shaped.setdefault("description", "")  # required by Humanloop; promptrail may have none
    return shaped


def _tool_kernel(tool: dict[str, Any]) -> dict[str, Any]:
    shaped = {k: tool[k] for k in _TOOL_KERNEL_KEYS if tool.get(k) is not None}
    if "function" in shaped:
        shaped["function"] = tool_function(shaped["function"])
    return shaped


def humanloop_body(record: LogRecord) -> dict[str, Any]:
    """Return ``record`` as the JSON body of its kind's Humanloop "log" request."""
    body = record.to_body()
    allowed = _FIELDS[record.kind]
    extras = {key: body.pop(key) for key in list(body) if key not in allowed}
    extras.pop("version_id", None)
    if record.version_id is not None and humanloop_version_id(record) is None:
        extras["version_id"] = record.version_id
    _each_message(body, thinking_blocks)
    prompt = body.get("prompt")
    if isinstance(prompt, dict):
        if not prompt.get("model"):
            extras["prompt"] = body.pop("prompt")
        elif isinstance(prompt.get("tools"), list):
            tools = [tool_function(t) for t in prompt["tools"]]
            if tools != prompt["tools"]:
                extras["prompt_tools"] = prompt["tools"]  # promptrail's shape, read back
                body["prompt"] = {**prompt, "tools": tools}
    tool = body.get("tool")
    if isinstance(tool, dict):
        shaped = _tool_kernel(tool)
        if shaped != tool:
            extras["tool"] = tool
            body["tool"] = shaped
    if extras:
        body["metadata"] = {**body.get("metadata", {}), EXTRAS_KEY: extras}
    return body


def thinking_text(message: Any) -> Any:
    """``message`` with Humanloop's thinking blocks as their text (blocks apart by a blank line)."""
    if not isinstance(message, dict) or not isinstance(message.get("thinking"), list):
        return message
    texts: list[str] = [
        block["thinking"]
        for block in message["thinking"]
        if isinstance(block, dict) and isinstance(block.get("thinking"), str)
    ]
    return {**message, "thinking": "\n\n".join(texts) or None}


def restore_extras(data: dict[str, Any]) -> dict[str, Any]:
    """Undo :func:`humanloop_body` on a received body (a copy; the input is not changed).

    promptrail's fields come back out of ``metadata`` (fields already in the body win; anything
    else in ``metadata`` is left alone) and thinking blocks become the thinking text.
    """
    restored = dict(data)
    metadata = data.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get(EXTRAS_KEY), dict):
        rest = {k: v for k, v in metadata.items() if k != EXTRAS_KEY}
        extras = dict(metadata[EXTRAS_KEY])
        tools = extras.pop("prompt_tools", None)
        shaped_tool = extras.pop("tool", None)
        restored = {**extras, **{k: v for k, v in data.items() if k != "metadata"}}
        if rest:
            restored["metadata"] = rest
        if isinstance(restored.get("prompt"), dict) and isinstance(tools, list):
            restored["prompt"] = {**restored["prompt"], "tools": tools}
        if shaped_tool is not None:
            restored["tool"] = shaped_tool
    _each_message(restored, thinking_text)
    return restored
