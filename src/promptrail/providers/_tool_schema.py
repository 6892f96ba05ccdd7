"""A tool's JSON Schema, derived from its signature and docstring (``@log_tool``).

The shape is the one OpenAI and Anthropic tool definitions use::

    {"name": "get_weather", "description": "Look up the weather.",
     "parameters": {"type": "object",
                    "properties": {"city": {"type": "string", "description": "The city."}},
                    "required": ["city"]}}

Parameter types come from annotations (``str``, ``int``, ``float``, ``bool``, ``list[T]``,
``dict``, ``Literal[...]``, ``X | None``, ``Enum`` subclasses; pydantic models and anything else
through pydantic's ``TypeAdapter``); descriptions come from a Google-style ``Args:`` section.
Parameters with a default are optional. ``self``/``cls``, ``*args`` and ``**kwargs`` are left out.
Computed once, at decoration time; it never raises (an unknown type gives an empty schema).
"""

from __future__ import annotations

import enum
import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union, get_args, get_origin

from promptrail._record.serialize import to_jsonable

__all__ = ["tool_schema"]

_SIMPLE: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
    list: {"type": "array"},
    tuple: {"type": "array"},
    set: {"type": "array"},
    dict: {"type": "object"},
}

_SECTION = re.compile(
    r"^\s*(Args|Arguments|Parameters|Returns|Raises|Yields|Examples?|Note)s?:\s*$"
)
_ARG_LINE = re.compile(r"^\s+(\*{0,2}\w+)\s*(?:\([^)]*\))?:\s*(.*)$")


def _type_schema(annotation: Any) -> dict[str, Any]:
    if annotation is inspect.Parameter.empty or annotation is Any:
        return {}
    simple = _SIMPLE.get(annotation)
    if simple is not None:
        return dict(simple)
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _type_schema(options[0])
        return {"anyOf": [_type_schema(a) for a in options]}
    if origin in (list, tuple, set, frozenset) or (
        origin is not None and getattr(origin, "__name__", "") in ("Sequence", "Iterable")
    ):
        schema: dict[str, Any] = {"type": "array"}
        if args and args[-1] is not Ellipsis:
            schema["items"] = _type_schema(args[0])
        return schema
    if origin is dict or (origin is not None and getattr(origin, "__name__", "") == "Mapping"):
        return {"type": "object"}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return {"enum": [member.value for member in annotation]}
    try:
        from pydantic import TypeAdapter

        return dict(TypeAdapter(annotation).json_schema())
    except Exception:
        return {}


def _arg_descriptions(doc: str) -> tuple[str, dict[str, str]]:
    lines = doc.splitlines()
    summary: list[str] = []
    descriptions: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    for line in lines:
        match = _SECTION.match(line)
        if match:
            section = match.group(1)
            current = None
            continue
        if section is None:
            summary.append(line.strip())
        elif section in ("Args", "Arguments", "Parameters"):
            arg = _ARG_LINE.match(line)
            if arg:
                current = arg.group(1).lstrip("*")
                descriptions[current] = arg.group(2).strip()
            elif current and line.strip():
                descriptions[current] += " " + line.strip()
    text = " ".join(part for part in summary if part).strip()
    return text, descriptions


def tool_schema(func: Callable[..., Any], *, name: str | None = None) -> dict[str, Any]:
    """Return the tool definition of ``func``: name, description and JSON Schema parameters."""
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        hints = {}
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        signature = None
    description, arg_docs = _arg_descriptions(inspect.getdoc(func) or "")
    properties: dict[str, Any] = {}
    required: list[str] = []
    params = list(signature.parameters.values()) if signature else []
    for index, param in enumerate(params):
        if index == 0 and param.name in ("self", "cls"):
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        schema = _type_schema(hints.get(param.name, param.annotation))
        if arg_docs.get(param.name):
            schema["description"] = arg_docs[param.name]
        if param.default is param.empty:
            required.append(param.name)
        else:
            schema["default"] = to_jsonable(param.default)
        properties[param.name] = schema
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    out: dict[str, Any] = {"name": name or getattr(func, "__name__", "tool")}
    if description:
        out["description"] = description
    out["parameters"] = parameters
    return out
