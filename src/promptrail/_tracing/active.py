"""The log in progress: :class:`ActiveLog`.

An ``ActiveLog`` is what the caller's thread builds: a ``__slots__`` object holding references
(the call spec, the parent, the arguments snapshot, the result or the error) and three clock
readings. Processors receive it in ``on_start``/``on_end``; :meth:`ActiveLog.to_record` turns it
into the validated, JSON-safe, redacted pydantic record (``build.py``), normally in the worker.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from promptrail._record import serialize as _serialize
from promptrail._runtime.ids import DEFAULT_IDS, IdGenerator
from promptrail._tracing.build import INVALID_KEY, build_record, describe
from promptrail._tracing.spec import CallSpec

if TYPE_CHECKING:
    from promptrail._record.models import LogRecord
    from promptrail._runtime.state import Settings
    from promptrail._tracing.inherited import Inherited

__all__ = ["UPDATABLE_FIELDS", "ActiveLog"]

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


class ActiveLog:
    """A log in progress: created at call start, ended once, handed to processors.

    Processors may read ``log_id``, ``trace_id``, ``parent`` and ``spec`` at any time and call
    :meth:`to_record` after the log ended. Everything else is private to promptrail.

    .. versionadded:: 0.1.0
    """

    # Every call sets the slots; the attributes most calls never set are class-level defaults,
    # stored in the instance ``__dict__`` (created on first write) by the calls that do.
    __slots__ = (
        "__dict__",
        "_id",
        "_ids",
        "_root",
        "args",
        "bound",
        "kwargs",
        "parent",
        "perf_end",
        "perf_start",
        "result",
        "sampled",
        "seq",
        "spec",
        "start_ns",
    )

    error: str | BaseException | None = None
    """The error's description, or the exception itself until the record is built."""
    error_tb: TracebackType | None = None
    """The exception's traceback as it was when the log ended (formatted in the worker)."""
    fields: dict[str, Any] | None = None
    items: list[Any] | None = None
    held: Any = None
    """An unsampled root's held logs and decision (see ``_sampling``)."""
    sdk: ActiveLog | None = None
    """The instrumented SDK call that completes this prompt log (see ``sdk_calls.py``)."""
    merge_into: ActiveLog | None = None
    """For an instrumented SDK call completing an enclosing log: that log."""
    attrs: Inherited | None = None
    """The session, user, tags and metadata inherited from ``attributes()``/``trace()`` blocks."""
    trace_attrs: Inherited | None = None
    """On a root: what ``update_current_trace()`` set for the whole trace."""

    def __init__(
        self,
        spec: CallSpec,
        parent: ActiveLog | None,
        seq: int,
        start_ns: int,
        perf_start: int,
        ids: IdGenerator = DEFAULT_IDS,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        bound: bool = False,
    ) -> None:
        self.spec = spec
        self.parent = parent
        # None for a root: a root referring to itself would be a reference cycle, and every
        # trace would then wait for the cyclic garbage collector to be freed. Sampling is
        # decided per trace: the root decides, children inherit.
        if parent is None:
            self._root: ActiveLog | None = None
            self.sampled = True
        else:
            self._root = parent._root or parent
            self.sampled = parent.sampled
        self.seq = seq
        self.start_ns = start_ns
        self.perf_start = perf_start
        self.perf_end: int | None = None
        self._ids = ids
        self._id: str | None = None  # formatted on first use (usually in the worker)
        self.args = args
        self.kwargs = kwargs
        self.bound = bound  # the arguments exclude an implicit self/cls
        self.result: Any = None

    def error_text(self) -> str | None:
        """The error as ``"{ExceptionType}: {message}"`` (runs ``__str__``: off the hot path)."""
        error = self.error
        return describe(error) if isinstance(error, BaseException) else error

    @property
    def ended(self) -> bool:
        """Whether the log has ended (its end time is taken)."""
        return self.perf_end is not None

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
    def root(self) -> ActiveLog:
        """The root log of this tree (``self`` for a root)."""
        root = self._root
        return self if root is None else root

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
            if key in ("metadata", "inputs"):
                try:
                    # Value by value: a mapping this size is the user's own, never cut here.
                    items = _mapping_items(value)
                except Exception:  # a user mapping whose iteration raises: not a mapping here
                    items = None
                if items is None:
                    # Not a mapping: kept where wrong-typed fields go, never losing the log.
                    metadata = dict(current.get("metadata") or {})
                    invalid = dict(metadata.get(INVALID_KEY) or {})
                    invalid[key] = _serialize.snapshot(value)
                    metadata[INVALID_KEY] = invalid
                    current["metadata"] = metadata
                else:
                    merged = dict(current.get(key) or {})
                    merged.update(items)
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
        return build_record(self, settings)

    def _inputs(self) -> tuple[dict[str, Any], Any]:
        spec = self.spec
        kwargs = self.kwargs or {}
        binder = spec.method_binder if self.bound else spec.binder
        if binder is not None:
            fast = binder.bind(self.args, kwargs)
            if fast is not None:
                return fast, _whole(fast.pop("messages", None))
        sig = spec.method_signature if self.bound else spec.signature
        if sig is None:  # no names to bind to (some builtins): positional values as "args"
            unnamed: dict[str, Any] = {"args": list(self.args)} if self.args else {}
            unnamed.update(kwargs)
            return unnamed, _whole(unnamed.pop("messages", None))
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
        return inputs, _whole(messages)


def _mapping_items(value: Any) -> dict[Any, Any] | None:
    """``value``'s entries, each snapshot, or ``None`` if it is not a mapping (may raise)."""
    if not isinstance(value, Mapping):
        return None
    return {k: _serialize.snapshot(v) for k, v in value.items()}


def _whole(value: Any) -> Any:
    """Messages cut on the caller's thread are used as the list of the messages kept."""
    return value.head if type(value) is _serialize.Truncated else value
