"""The request side of a prompt log: prompt details, messages and tool choice from the call.

A function decorated with ``@log_prompt`` usually forwards its keyword arguments to an SDK
(``model=``, ``messages=``, ``temperature=``, ``tools=`` ...). :func:`request_fields` reads them
from the call's bound arguments, in the worker, and merges them over the decorator's defaults (call
arguments win). Parameters are normalised to the log's vocabulary whatever the SDK spelling:

- ``max_completion_tokens`` (OpenAI), ``max_output_tokens`` (Responses API) → ``max_tokens``;
- ``stop_sequences`` (Anthropic) → ``stop``; ``reasoning={"effort": ...}`` → ``reasoning_effort``;
- tool definitions of OpenAI Chat, OpenAI Responses and Anthropic → ``{name, description,
  parameters}`` (provider built-in tools are kept as they are);
- Anthropic's ``system=`` and the Responses API's ``instructions=`` → a leading system message;
  Anthropic's ``tool_choice`` (``{"type": "any"}`` ...) → the OpenAI form (``"required"`` ...).

Known parameters with no field of their own (``top_k``, ``n``, ``thinking``, ...) go to
``prompt.other``; unrelated arguments (the user's own) are left alone. A value of the wrong type
(or an SDK "not given" sentinel) is never allowed to break the record: it goes to ``other`` or is
skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptrail._record.serialize import Truncated
from promptrail.providers._bedrock import bedrock_request
from promptrail.providers._common import get
from promptrail.providers._gemini import gemini_request

__all__ = ["normalize_tool_choice", "normalize_tools", "request_fields"]

_NUMBER = (int, float)
_CHECKS: dict[str, Any] = {
    "model": str,
    "temperature": _NUMBER,
    "top_p": _NUMBER,
    "presence_penalty": _NUMBER,
    "frequency_penalty": _NUMBER,
    "max_tokens": int,
    "seed": int,
    "reasoning_effort": str,
    "response_format": Mapping,
    "stop": (str, list, tuple),
}
_ALIASES = {
    "max_completion_tokens": "max_tokens",
    "max_output_tokens": "max_tokens",
    "max_tokens_to_sample": "max_tokens",
    "stop_sequences": "stop",
}
_OPTIONS = {"num_predict": "max_tokens"}
"""Ollama's ``options`` names that promptrail spells differently."""

_OTHER = frozenset(
    {
        "top_k",
        "n",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "parallel_tool_calls",
        "thinking",
        "service_tier",
        "modalities",
        "verbosity",
        "text",
        "truncation",
        "prediction",
        "audio",
        "web_search_options",
    }
)
_ANTHROPIC_CHOICE = {"auto": "auto", "any": "required", "none": "none"}


def _given(value: Any) -> bool:
    """False for ``None`` and the SDKs' ``NOT_GIVEN``/``omit`` sentinels."""
    return value is not None and type(value).__name__ not in ("NotGiven", "Omit")


def request_fields(
    defaults: Mapping[str, Any] | None, inputs: Mapping[str, Any], messages: Any
) -> tuple[dict[str, Any], Any, Any]:
    """Return ``(prompt, messages, tool_choice)`` for a call with these bound arguments.

    Args:
        defaults: The decorator's prompt details (``model=``, ``template=`` ...).
        inputs: The call's arguments bound to parameter names, ``messages`` removed.
        messages: The call's ``messages`` argument, if any.
    """
    prompt: dict[str, Any] = dict(defaults) if defaults else {}
    other: dict[str, Any] = {}
    translated: dict[str, Any] | None = None
    if messages is None and "contents" in inputs:  # Gemini: contents and a config object
        translated, messages = gemini_request(inputs)
    elif "modelId" in inputs:  # Bedrock: Converse's configs, or InvokeModel's JSON body
        translated, messages = bedrock_request(inputs, messages)
    if translated is not None:
        tools = translated.pop("_normalized_tools", None)
        if tools:
            prompt["tools"] = tools
        inputs = translated
    # Arguments longer than Limits.max_items were cut on the caller's thread: use what was kept.
    inputs = {k: v.head if type(v) is Truncated else v for k, v in inputs.items()}
    for name, value in inputs.items():
        if not _given(value):
            continue
        key = _ALIASES.get(name, name)
        if key in _CHECKS:
            if _valid(key, value):
                prompt[key] = list(value) if isinstance(value, tuple) else value
            else:
                other[name] = value
        elif key == "reasoning" and isinstance(get(value, "effort"), str):
            prompt["reasoning_effort"] = get(value, "effort")
        elif key == "tools" and isinstance(value, (list, tuple)):
            prompt["tools"] = normalize_tools(value)
        elif key == "options" and isinstance(value, Mapping):  # Ollama's sampling options
            for option, setting in value.items():
                field = _OPTIONS.get(option, option)
                if field in _CHECKS and _given(setting) and _valid(field, setting):
                    kept = list(setting) if isinstance(setting, tuple) else setting
                    prompt.setdefault(field, kept)
                elif _given(setting):
                    other[option] = setting
        elif key in _OTHER:
            other[key] = value
    if other:
        prompt["other"] = {**(prompt.get("other") or {}), **other}
    if messages is None:
        items = inputs.get("input")
        if isinstance(items, list) and items and all(get(m, "role") for m in items):
            messages = items  # the Responses API's ``input=[{"role": ...}, ...]``
        elif isinstance(items, str) and items and "model" in prompt:
            messages = [{"role": "user", "content": items}]  # ``input="..."``, a model named
    if messages is not None:
        system = inputs.get("system")
        if not _given(system):
            system = inputs.get("instructions")
        if isinstance(system, (str, list)) and system:
            messages = [{"role": "system", "content": system}, *_as_list(messages)]
    choice = inputs.get("tool_choice")
    return prompt, messages, normalize_tool_choice(choice) if _given(choice) else None


def _valid(key: str, value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, _CHECKS[key]):
        return False
    return key != "stop" or isinstance(value, str) or all(isinstance(v, str) for v in value)


def _as_list(messages: Any) -> list[Any]:
    return list(messages) if isinstance(messages, (list, tuple)) else [messages]


def normalize_tools(tools: Any) -> list[Any]:
    """Return tool definitions as ``{name, description, parameters}`` dicts where possible."""
    out: list[Any] = []
    for tool in tools:
        function = get(tool, "function")
        if get(tool, "type") == "function" and function is not None:  # OpenAI Chat
            source, schema = function, get(function, "parameters")
        elif get(tool, "type") == "function":  # OpenAI Responses
            source, schema = tool, get(tool, "parameters")
        elif get(tool, "input_schema") is not None:  # Anthropic
            source, schema = tool, get(tool, "input_schema")
        else:  # a provider's built-in tool (web search, code interpreter ...)
            out.append(tool)
            continue
        normalized: dict[str, Any] = {"name": get(source, "name", "")}
        if get(source, "description") is not None:
            normalized["description"] = get(source, "description")
        if schema is not None:
            normalized["parameters"] = schema
        if get(source, "strict") is not None:
            normalized["strict"] = get(source, "strict")
        out.append(normalized)
    return out


def normalize_tool_choice(choice: Any) -> Any:
    """Return a tool choice in the OpenAI form (Anthropic's dicts are translated)."""
    if isinstance(choice, str):
        return choice
    kind = get(choice, "type")
    if kind in _ANTHROPIC_CHOICE and get(choice, "function") is None:
        return _ANTHROPIC_CHOICE[kind]
    # Anthropic {"type": "tool", "name"} and the Responses API's flat {"type": "function", "name"}
    if kind in ("tool", "function") and get(choice, "function") is None and get(choice, "name"):
        return {"type": "function", "function": {"name": get(choice, "name")}}
    return choice
