"""Humanloop's API shapes in and out: lenient request bodies, file ids, and answers.

In: :func:`lenient_body` turns what Humanloop's API accepts (and promptrail's record would refuse)
into record fields before validation: a ``prompt`` sent as a serialised string (JSON, or a
``.prompt`` file: front matter and a template), ``thinking`` as a list of thinking blocks (kept as
their text; signatures are not stored), a file named by ``id`` without ``path`` (the path it was
stored under, if known), ``null`` for a field meaning "not given". ``save: false`` keeps the log
but not its content: :data:`CONTENT_FIELDS` are dropped. Secrets are masked as in promptrail's own
records (:func:`masked`): a client of Humanloop's API does not redact what it sends.

Out: :func:`created` answers ``POST /v5/{prompts,flows,tools,evaluators}/log`` like Humanloop's
``Create*LogResponse`` and :func:`log_response` renders a stored log as a ``LogResponse``
(``GET /v5/logs``, ``GET /v5/logs/{id}``, the update routes): the record's body plus ``id``,
``log_status``, ``evaluator_logs`` and the file (``prompt``, ``flow``, ``tool`` or ``evaluator``)
with its path, id, name, version id and counts. Files are not stored apart: a file's id and
version id are hashes of its path and details, the same for every log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from promptrail._record.humanloop import thinking_blocks, thinking_text, tool_function
from promptrail._record.models import LogKind, LogRecord, PromptKernel
from promptrail._record.versions import version_id as prompt_version_id
from promptrail._runtime.redaction import REDACTED, Redactor
from promptrail._runtime.state import STATE
from promptrail.stores._base import Store

__all__ = [
    "CONTENT_FIELDS",
    "created",
    "file_id",
    "file_version_id",
    "lenient_body",
    "log_response",
    "masked",
    "strip_content",
]

CONTENT_FIELDS = (
    "inputs",
    "messages",
    "output",
    "output_message",
    "provider_request",
    "provider_response",
    "stdout",
)
"""What ``save: false`` keeps out of the store: the call's payloads (prompt details, timing,
tokens, cost, error and metadata are kept)."""

_FILE_PREFIX: dict[str, str] = {"prompt": "pr_", "flow": "fl_", "tool": "tl_", "evaluator": "ev_"}
_VERSION_PREFIX: dict[str, str] = {"flow": "flv_", "tool": "tlv_", "evaluator": "evv_"}
_PROMPT_KEYS = frozenset(PromptKernel.model_fields)


def file_id(kind: str, path: str) -> str:
    """The file id of ``path``: the same path always gets the same id."""
    digest = hashlib.sha256(f"{kind}:{path}".encode()).hexdigest()[:24]
    return _FILE_PREFIX.get(kind, "fi_") + digest


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def file_version_id(record: LogRecord) -> str:
    """The version the log belongs to: given, else a hash of the file's details."""
    if record.version_id is not None:
        return record.version_id
    if record.kind == "prompt":
        return prompt_version_id(record.prompt or PromptKernel())
    details = record.flow if record.kind == "flow" else record.tool
    return _VERSION_PREFIX[record.kind] + _digest([record.path, details or {}])


# -- in ---------------------------------------------------------------------------------------


def _scalar(text: str) -> Any:
    """A front-matter value: JSON when it parses (numbers, lists, quoted text), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text.strip("'\"")


def parse_serialized_prompt(text: str) -> dict[str, Any]:
    """A prompt sent as a string: JSON of its details, or a ``.prompt`` file.

    A ``.prompt`` file is front matter between ``---`` lines (``key: value`` per line) followed
    by the template. Keys promptrail does not know go to ``other``.
    """
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return data
    details: dict[str, Any] = {}
    body = stripped
    if stripped.startswith("---"):
        _, _, rest = stripped.partition("\n")
        header, sep, body = rest.partition("\n---")
        if not sep:
            header, body = "", stripped
        for line in header.splitlines():
            key, colon, value = line.partition(":")
            if colon and key.strip() and not line[:1].isspace():
                details[key.strip()] = _scalar(value.strip())
        body = body.removeprefix("\n") if sep else body
    if body.strip():
        details["template"] = body.strip()
    other = {k: v for k, v in details.items() if k not in _PROMPT_KEYS}
    kept = {k: v for k, v in details.items() if k in _PROMPT_KEYS}
    if other:
        kept["other"] = {**(kept.get("other") or {}), **other}
    return kept


def strip_content(data: dict[str, Any]) -> dict[str, Any]:
    """The body without :data:`CONTENT_FIELDS` when it says ``save: false``."""
    if data.get("save") is False:
        return {k: v for k, v in data.items() if k not in CONTENT_FIELDS}
    return data


def lenient_body(store: Store, data: Mapping[str, Any], kind: LogKind) -> dict[str, Any]:
    """Turn a body Humanloop's API accepts into record fields (see the module docstring)."""
    body = {key: value for key, value in data.items() if value is not None}
    if "output_message" in body:
        body["output_message"] = thinking_text(body["output_message"])
    if isinstance(body.get("messages"), list):
        body["messages"] = [thinking_text(m) for m in body["messages"]]
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        prompt = body["prompt"] = parse_serialized_prompt(prompt)
    if isinstance(prompt, dict) and isinstance(prompt.get("template"), list):
        prompt["template"] = [thinking_text(m) for m in prompt["template"]]
    if "path" not in body and isinstance(body.get("id"), str):
        body["path"] = path_of(store, kind, body["id"]) or body["id"]
    return masked(strip_content(body))


_UNMASKED = frozenset(
    {"id", "log_id", "path", "kind", "trace_id", "trace_parent_id", "parent_id", "version_id"}
    | {"start_time", "end_time", "created_at", "provider_latency", "environment", "save"}
    | {"prompt_tokens", "reasoning_tokens", "output_tokens", "prompt_cost", "output_cost"}
    | {"log_status", "source_datapoint_id", "run_id", "tool"}
)
"""Fields that name, place or measure a log, and a tool's definition (code, not data, kept as a
decorated tool's is): taken as sent (validation checks their types)."""


def masked(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with every other field's secrets masked, as a promptrail client masks them.

    Each field's value is redacted, not the field names (``output_tokens`` is not a secret): a
    secret key's value becomes ``[REDACTED]`` at any depth and secret formats inside strings are
    masked, by the serving process's redactor (``promptrail.configure(redact=...)``). Nothing
    else changes: no cut, no depth limit. Masking a record a promptrail client already masked
    changes nothing.
    """
    redactor = STATE.settings.redactor
    for key, value in body.items():
        if key not in _UNMASKED:
            body[key] = _mask_json(value, redactor)
    return body


def _mask_json(value: Any, redactor: Redactor) -> Any:
    """Parsed JSON (dicts, lists, strings, numbers) with its secrets masked, in place.

    A walk with a stack of its own, so that any depth the JSON parser accepted is masked.
    """
    if type(value) is str:
        return redactor.mask(value)
    if type(value) is not dict and type(value) is not list:
        return value
    stack: list[Any] = [value]
    while stack:
        container = stack.pop()
        if type(container) is list:
            for index, item in enumerate(container):
                if type(item) is str:
                    container[index] = redactor.mask(item)
                elif type(item) is dict or type(item) is list:
                    stack.append(item)
            continue
        for key in list(container):
            item = container[key]
            written, hidden = redactor.judge(key, item)
            if hidden:
                item = REDACTED
            elif type(item) is str:
                item = redactor.mask(item)
            elif type(item) is dict or type(item) is list:
                stack.append(item)
            if written != key:  # a secret used as a key
                del container[key]
            container[written] = item
    return value


def path_of(store: Store, kind: str, wanted: str) -> str | None:
    """The stored path whose file id is ``wanted``, or None."""
    for summary in store.log_summaries():
        if summary.kind == kind and file_id(kind, summary.path) == wanted:
            return summary.path
    return None


# -- out --------------------------------------------------------------------------------------


def created(record: LogRecord) -> dict[str, Any]:
    """The answer to a stored log: Humanloop's ``Create{Prompt,Flow,Tool,Evaluator}LogResponse``."""
    answer: dict[str, Any] = {
        "id": record.log_id,
        f"{record.kind}_id": file_id(record.kind, record.path),
        "version_id": file_version_id(record),
        "log_status": record.log_status or "complete",
        "trace_id": record.trace_id,
    }
    if record.session_id is not None:
        answer["session_id"] = record.session_id
    if record.kind == "evaluator" and record.parent_id is not None:
        answer["parent_id"] = record.parent_id
    return answer


_CHOICES = {"none": "none", "auto": "auto", "required": "required", "any": "required"}


def _tool_choice_out(choice: Any) -> Any:
    """A stored tool choice in Humanloop's shape (OpenAI's; Anthropic's mapped), else None."""
    if isinstance(choice, str):
        return _CHOICES.get(choice)
    if not isinstance(choice, dict):
        return None
    function = choice.get("function")
    name = function.get("name") if isinstance(function, dict) else choice.get("name")
    if isinstance(name, str) and choice.get("type") in ("function", "tool"):
        return {"type": "function", "function": {"name": name}}
    kind = choice.get("type")
    return _CHOICES.get(kind) if isinstance(kind, str) else None


def _file(record: LogRecord, counts: Mapping[tuple[str, str], int]) -> dict[str, Any]:
    """The file a log belongs to, in the shape of Humanloop's ``*Response`` for that kind."""
    kind, path = record.kind, record.path
    when = record.created_at.isoformat()
    logs = counts.get((kind, path), 1)
    details: dict[str, Any] = {}
    if kind == "prompt":
        details = record.prompt.model_dump(mode="json", exclude_none=True) if record.prompt else {}
        details.setdefault("model", "")
        if isinstance(details.get("template"), list):
            details["template"] = [thinking_blocks(m) for m in details["template"]]
        if "tools" in details:
            details["tools"] = [tool_function(t) for t in details["tools"]]
        response_format = details.get("response_format")
        if isinstance(response_format, dict) and "type" not in response_format:
            # Humanloop's ResponseFormat needs a type: an untyped one is taken as the schema.
            details["response_format"] = {"type": "json_schema", "json_schema": response_format}
    elif kind == "flow":
        details = {"attributes": {}, **(record.flow or {})}
    elif kind == "tool":
        details = dict(record.tool or {})
        if "function" in details:
            details["function"] = tool_function(details["function"])
    elif kind == "evaluator":
        judgment = record.judgment
        returns = "boolean" if isinstance(judgment, bool) else "text"
        if isinstance(judgment, (int, float)) and not isinstance(judgment, bool):
            returns = "number"
        spec = {"evaluator_type": "external", "arguments_type": "target_required"}
        details = {"spec": {**spec, "return_type": returns}}
    return {
        **details,
        "path": path,
        "id": file_id(kind, path),
        "name": path.rsplit("/", 1)[-1],
        "type": kind,
        "version_id": file_version_id(record),
        "created_at": when,
        "updated_at": when,
        "last_used_at": when,
        "version_logs_count": logs,
        "total_logs_count": logs,
        "inputs": [{"name": name} for name in record.inputs or {}],
    }


def file_counts(store: Store, records: list[LogRecord]) -> dict[tuple[str, str], int]:
    """How many logs each (kind, path) of ``records`` has in the store."""
    counts: dict[tuple[str, str], int] = {}
    for path in {record.path for record in records}:
        for summary in store.log_summaries(path=path):
            if summary.path == path:
                key = (summary.kind, path)
                counts[key] = counts.get(key, 0) + 1
    return counts


def log_response(record: LogRecord, counts: Mapping[tuple[str, str], int]) -> dict[str, Any]:
    """A stored log as Humanloop's ``LogResponse`` (promptrail's own fields kept alongside)."""
    body = record.to_body()
    for name in ("output_message",):
        if name in body:
            body[name] = thinking_blocks(body[name])
    if "messages" in body:
        body["messages"] = [thinking_blocks(m) for m in body["messages"]]
    if "tool_choice" in body:
        choice = _tool_choice_out(body.pop("tool_choice"))
        if choice is not None:
            body["tool_choice"] = choice
    body[record.kind] = _file(record, counts)
    body["id"] = record.log_id
    body["log_status"] = record.log_status or "complete"
    body["evaluator_logs"] = []
    return body
