"""The log in progress (:class:`ActiveLog`) and how it becomes a :class:`LogRecord`.

An ``ActiveLog`` is what the caller's thread builds: a ``__slots__`` object holding references
(the call spec, the parent, the arguments snapshot, the result or the error) and three clock
readings. Processors receive it in ``on_start``/``on_end``; :meth:`ActiveLog.to_record` turns it
into the validated, JSON-safe, redacted pydantic record, normally in the batch worker.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from promptrail import _extract, _serialize
from promptrail._ids import DEFAULT_IDS, IdGenerator
from promptrail._records import ChatMessage, LogKind, LogRecord, PromptKernel

if TYPE_CHECKING:
    from promptrail._config import Settings

__all__ = ["UPDATABLE_FIELDS", "ActiveLog", "CallSpec"]

UPDATABLE_FIELDS = frozenset(
    {
        "output",
        "output_message",
        "metadata",
        "inputs",
        "messages",
        "prompt_tokens",
        "reasoning_tokens",
        "output_tokens",
        "prompt_cost",
        "output_cost",
        "finish_reason",
        "tool_choice",
        "user",
        "source",
        "source_datapoint_id",
        "run_id",
        "version_id",
        "error",
        "provider_request",
        "provider_response",
        "save",
    }
)
"""Fields that ``update_current()`` and ``Trace`` attributes may set on the log in progress."""

_MAX_ITEMS_KEPT = 10_000


class CallSpec:
    """What is known about a decorated function at decoration time.

    Computed once per decorated function: the log kind, the path, the signatures used to bind
    arguments to names (with and without the implicit ``self``/``cls``), and decorator defaults.
    """

    __slots__ = (
        "binder",
        "capture_inputs",
        "capture_output",
        "kind",
        "metadata",
        "method_binder",
        "method_signature",
        "path",
        "prompt",
        "signature",
    )

    def __init__(
        self,
        *,
        path: str,
        kind: LogKind,
        signature: inspect.Signature | None,
        prompt: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        capture_inputs: bool = True,
        capture_output: bool = True,
    ) -> None:
        self.path = path
        self.kind: LogKind = kind
        self.signature = signature
        self.method_signature = _drop_first(signature)
        self.binder = _Binder.of(signature)
        self.method_binder = _Binder.of(self.method_signature)
        self.prompt = dict(prompt) if prompt else None
        self.metadata = dict(metadata) if metadata else None
        self.capture_inputs = capture_inputs
        self.capture_output = capture_output


def _drop_first(sig: inspect.Signature | None) -> inspect.Signature | None:
    if sig is None:
        return None
    params = list(sig.parameters.values())
    if params and params[0].kind in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        return sig.replace(parameters=params[1:])
    return sig


_SIMPLE_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class _Binder:
    """Binds arguments to parameter names like ``bind_partial`` + ``apply_defaults``, faster.

    Built at decoration time for signatures made only of ordinary and keyword-only parameters
    (no ``*args``, ``**kwargs`` or positional-only ones): binding is then a walk over the names.
    Calls it cannot bind exactly as :mod:`inspect` would (too many positional arguments, unknown
    or repeated keywords) return ``None``, and the caller falls back to ``inspect``.
    """

    __slots__ = ("defaults", "known", "names", "positional")

    def __init__(self, sig: inspect.Signature) -> None:
        params = list(sig.parameters.values())
        self.names = tuple(p.name for p in params)
        self.positional = tuple(
            p.name for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        )
        self.known = frozenset(self.names)
        self.defaults = {p.name: p.default for p in params if p.default is not p.empty}

    @classmethod
    def of(cls, sig: inspect.Signature | None) -> _Binder | None:
        if sig is None or any(p.kind not in _SIMPLE_KINDS for p in sig.parameters.values()):
            return None
        return cls(sig)

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
        """Return ``{name: value}`` in parameter order, or ``None`` to defer to ``inspect``."""
        n = len(args)
        positional = self.positional
        if n > len(positional):
            return None
        if kwargs:
            known = self.known
            for key in kwargs:
                if key not in known:
                    return None
            for name in positional[:n]:
                if name in kwargs:
                    return None
        defaults = self.defaults
        out: dict[str, Any] = {}
        for i, name in enumerate(self.names):
            if i < n:
                out[name] = args[i]
            elif name in kwargs:
                out[name] = kwargs[name]
            elif name in defaults:
                out[name] = defaults[name]
        return out


class ActiveLog:
    """A log in progress: created at call start, ended once, handed to processors.

    Processors may read ``log_id``, ``trace_id``, ``parent`` and ``spec`` at any time and call
    :meth:`to_record` after the log ended. Everything else is private to promptrail.

    .. versionadded:: 0.1.0
    """

    __slots__ = (
        "_id",
        "_ids",
        "args",
        "bound",
        "ended",
        "error",
        "fields",
        "items",
        "kwargs",
        "parent",
        "perf_end",
        "perf_start",
        "result",
        "root",
        "seq",
        "spec",
        "start_ns",
    )

    def __init__(
        self,
        spec: CallSpec,
        parent: ActiveLog | None,
        seq: int,
        start_ns: int,
        perf_start: int,
        ids: IdGenerator = DEFAULT_IDS,
    ) -> None:
        self.spec = spec
        self.parent = parent
        self.root: ActiveLog = self if parent is None else parent.root
        self.seq = seq
        self.start_ns = start_ns
        self.perf_start = perf_start
        self.perf_end: int | None = None
        self._ids = ids
        self._id: str | None = None
        self.args: tuple[Any, ...] = ()
        self.kwargs: dict[str, Any] | None = None
        self.bound = False  # arguments exclude an implicit self/cls
        self.result: Any = None
        self.error: str | None = None
        self.fields: dict[str, Any] | None = None
        self.items: list[Any] | None = None
        self.ended = False

    # -- identity ---------------------------------------------------------------------------

    @property
    def log_id(self) -> str:
        """This log's id (formatted on first use)."""
        log_id = self._id
        if log_id is None:
            log_id = self._id = self._ids.format_id(self.start_ns, self.seq)
        return log_id

    @property
    def trace_id(self) -> str:
        """The id of the root log of this tree."""
        return self.root.log_id

    @property
    def trace_parent_id(self) -> str | None:
        """The id of the enclosing log, if any."""
        return None if self.parent is None else self.parent.log_id

    # -- updates from user code -------------------------------------------------------------

    def update(self, fields: Mapping[str, Any]) -> None:
        """Merge ``fields`` into the log (``metadata`` and ``inputs`` merge key by key)."""
        current = self.fields
        if current is None:
            current = self.fields = {}
        for key, value in fields.items():
            if key in ("metadata", "inputs") and isinstance(value, Mapping):
                merged = dict(current.get(key) or {})
                merged.update(_serialize.snapshot(dict(value)))
                current[key] = merged
            else:
                current[key] = _serialize.snapshot(value)

    def add_item(self, item: Any) -> None:
        """Remember one item yielded by a generator (bounded)."""
        items = self.items
        if items is None:
            items = self.items = []
        if len(items) < _MAX_ITEMS_KEPT:
            items.append(item)
        else:
            self.update({"metadata": {"items_truncated": True}})

    # -- the record -------------------------------------------------------------------------

    def to_record(self, settings: Settings) -> LogRecord:
        """Build the validated, redacted, JSON-safe record of this (ended) log."""
        spec = self.spec
        limits, redactor = settings.limits, settings.redactor

        # One converter for the whole record (its cycle set is empty between calls).
        convert = _serialize._Converter(limits, redactor).convert
        max_depth = limits.max_depth

        def clean(value: Any) -> Any:
            return convert(value, max_depth)

        body: dict[str, Any] = {
            "log_id": self.log_id,
            "path": spec.path,
            "kind": spec.kind,
            "trace_id": self.trace_id,
            "trace_parent_id": self.trace_parent_id,
            "environment": settings.environment,
        }
        start = self.start_ns / 1e9
        body["start_time"] = datetime.fromtimestamp(start, timezone.utc)
        if self.perf_end is not None:
            latency = (self.perf_end - self.perf_start) / 1e9
            body["provider_latency"] = latency
            body["end_time"] = datetime.fromtimestamp(start + latency, timezone.utc)
        body["created_at"] = body.get("end_time", body["start_time"])
        if self.error is not None:
            body["error"] = _serialize.to_jsonable(self.error, limits=limits, redactor=redactor)

        inputs, messages = self._inputs() if spec.capture_inputs else ({}, None)
        fields = self.fields or {}
        if "inputs" in fields:
            inputs = {**inputs, **fields["inputs"]}
        body["inputs"] = clean(inputs)
        if "messages" in fields:
            messages = fields["messages"]
        if messages is not None:
            body["messages"] = clean(messages)
        prompt = dict(spec.prompt) if spec.prompt else {}

        if spec.capture_output and self.error is None:
            result = self.result if self.items is None else self.items
            extracted = _extract.extract(result, is_stream=self.items is not None)
            prompt_from_result = extracted.pop("prompt", None)
            if isinstance(prompt_from_result, Mapping):
                prompt = {**prompt_from_result, **prompt}
            # Clean each value, not the dict: field names such as "output_tokens" are not secrets.
            body.update({key: clean(value) for key, value in extracted.items()})
        if prompt:
            cleaned = {key: clean(value) for key, value in prompt.items()}
            body["prompt"] = _prompt_fields(cleaned)

        metadata = dict(spec.metadata) if spec.metadata else {}
        for key, value in fields.items():
            if key == "metadata":
                metadata.update(value)
            elif key not in ("inputs", "messages"):
                body[key] = clean(value)
        body["metadata"] = clean(metadata)
        if body.get("output") is not None and not isinstance(body["output"], str):
            body["output"] = _to_json(body["output"])
        # One validation of the whole body (nested messages included) is the common case; only
        # a body that fails it takes the lenient path, message by message.
        try:
            # model_validate() without its Python-level wrapper (same call, same result).
            return cast("LogRecord", _validate_record(body))
        except ValidationError:
            pass
        if "messages" in body:
            body["messages"] = _messages(body["messages"])
        if "output_message" in body:
            body["output_message"] = _message(body["output_message"])
        if "prompt" in body:
            body["prompt"] = PromptKernel.model_validate(body["prompt"])
        return LogRecord.model_validate(body)

    def _inputs(self) -> tuple[dict[str, Any], Any]:
        spec = self.spec
        kwargs = self.kwargs or {}
        binder = spec.method_binder if self.bound else spec.binder
        if binder is not None:
            fast = binder.bind(self.args, kwargs)
            if fast is not None:
                return fast, fast.pop("messages", None)
        sig = spec.method_signature if self.bound else spec.signature
        if sig is None:
            return dict(kwargs), None
        try:
            bound = sig.bind_partial(*self.args, **kwargs)
        except TypeError:
            return {"args": list(self.args), "kwargs": dict(kwargs)}, None
        bound.apply_defaults()
        inputs: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            if sig.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                inputs.update(value)
            else:
                inputs[name] = value
        messages = inputs.pop("messages", None)
        return inputs, messages


_validate_record = LogRecord.__pydantic_validator__.validate_python

_to_json = json.JSONEncoder(ensure_ascii=False).encode
"""``json.dumps(value, ensure_ascii=False)`` without building an encoder per call."""

_PROMPT_FIELDS = frozenset(PromptKernel.model_fields) - {"other"}


def _prompt_fields(prompt: dict[str, Any]) -> dict[str, Any]:
    known = {k: v for k, v in prompt.items() if k in _PROMPT_FIELDS}
    other = {k: v for k, v in prompt.items() if k not in _PROMPT_FIELDS and k != "other"}
    if isinstance(prompt.get("other"), dict):
        other = {**prompt["other"], **other}
    if other:
        known["other"] = other
    return known


def _message(value: Any) -> ChatMessage | None:
    if value is None or isinstance(value, ChatMessage):
        return value
    try:
        return ChatMessage.model_validate(value)
    except Exception:
        return ChatMessage(role="assistant", content=json.dumps(value, ensure_ascii=False))


def _messages(value: Any) -> list[ChatMessage] | None:
    """Validate chat messages leniently: a message that is not one is kept as its JSON text."""
    if not isinstance(value, list):
        return [ChatMessage(role="user", content=json.dumps(value, ensure_ascii=False))]
    out: list[ChatMessage] = []
    for item in value:
        try:
            out.append(ChatMessage.model_validate(item))
        except Exception:
            text = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
            out.append(ChatMessage(role="user", content=text))
    return out
