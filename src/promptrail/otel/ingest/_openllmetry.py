"""OpenLLMetry's flattened attributes, as its releases before ``gen_ai.input.messages`` wrote them.

Up to 0.52.x (``opentelemetry-instrumentation-openai`` and Traceloop's other instrumentations)
a chat's messages are indexed attributes: ``gen_ai.prompt.N.role`` / ``.content`` /
``.tool_call_id`` / ``.tool_calls.M.{id,name,arguments}``, the answer ``gen_ai.completion.N.*``
(with ``finish_reason``), and the tools offered ``llm.request.functions.N.{name,description,
parameters}``. Later releases write the GenAI conventions' JSON attributes, read by ``_genai``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from promptrail.otel.ingest._common import ROLES, indexed, json_value

__all__ = ["functions", "indexed_messages"]


def _tool_calls(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    for call in indexed(item, "tool_calls"):
        name, arguments = call.get("name"), call.get("arguments")
        if name is None and arguments is None:
            continue
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        function = {"name": str(name or ""), "arguments": arguments}
        calls.append({"id": str(call.get("id") or ""), "type": "function", "function": function})
    return calls


def indexed_messages(attrs: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """``gen_ai.prompt`` / ``gen_ai.completion`` messages as chat message bodies."""
    out: list[dict[str, Any]] = []
    for item in indexed(attrs, prefix):
        calls = _tool_calls(item)
        if "role" not in item and "content" not in item and not calls:
            continue  # only a finish reason or a content filter result
        role = item.get("role")
        body: dict[str, Any] = {"role": role if role in ROLES else "user"}
        content = item.get("content")
        if content is not None:
            if not isinstance(content, str):
                content = json.dumps(json_value(content), ensure_ascii=False)
            body["content"] = content
        if calls:
            body["tool_calls"] = calls
        if isinstance(item.get("tool_call_id"), str):
            body["tool_call_id"] = item["tool_call_id"]
        out.append(body)
    return out


def functions(attrs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The tools offered (``llm.request.functions.N.*``) as OpenAI tool definitions."""
    tools: list[dict[str, Any]] = []
    for item in indexed(attrs, "llm.request.functions"):
        if not isinstance(item.get("name"), str):
            continue
        function: dict[str, Any] = {"name": item["name"]}
        if isinstance(item.get("description"), str):
            function["description"] = item["description"]
        parameters = json_value(item.get("parameters"))
        if isinstance(parameters, Mapping):
            function["parameters"] = dict(parameters)
        tools.append({"type": "function", "function": function})
    return tools
