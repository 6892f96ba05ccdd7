"""Which model tool call a tool log answers: its ``metadata["tool_call_id"]``.

A ``tool`` log gets the id of the tool call it answers, when it is known:

* passed in: the tool function takes a ``tool_call_id`` argument (as LangChain's injected tool
  call id), or the call sets ``update_current(metadata={"tool_call_id": ...})``;
* or read from the previous assistant message: an earlier ``prompt`` log of the same trace,
  ended before the tool started, whose reply asked for a tool of this name. Among several such
  calls, the one whose arguments equal the tool's inputs wins, else the first not answered yet.

Records are built in the order their logs end, so a reply's tool calls are known when the tool
logs answering them are built. The calls of the most recent traces are kept (bounded), and a
rebuilt record finds the same call again.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from promptrail._runtime.locks import relock_after_fork

__all__ = ["TOOL_CALLS", "TOOL_CALL_ID_KEY", "ToolCalls"]

TOOL_CALL_ID_KEY = "tool_call_id"
"""Metadata key: the id of the model's tool call a ``tool`` log answers."""

_MAX_TRACES = 1024
_MAX_CALLS = 256


class _Offered:
    __slots__ = ("answered", "calls")

    def __init__(self) -> None:
        # (end_ns, call id, tool name, arguments as JSON text)
        self.calls: list[tuple[int, str, str, str | None]] = []
        self.answered: dict[str, str] = {}  # call id -> the tool log that answered it


class ToolCalls:
    """The tool calls models asked for, per trace, and the tool logs that answered them."""

    def __init__(self, max_traces: int = _MAX_TRACES) -> None:
        self._lock = threading.Lock()
        relock_after_fork(self, "_lock")  # a child forked mid-update gets a fresh lock
        self._max_traces = max_traces
        self._traces: OrderedDict[str, _Offered] = OrderedDict()

    def offered(self, trace_id: str, end_ns: int, tool_calls: Any) -> None:
        """Remember the ``ChatMessage.tool_calls`` of a reply that ended at ``end_ns``."""
        calls = []
        for call in tool_calls or ():
            call_id, function = getattr(call, "id", None), getattr(call, "function", None)
            name = getattr(function, "name", None)
            if isinstance(call_id, str) and call_id and isinstance(name, str):
                arguments = getattr(function, "arguments", None)
                calls.append(
                    (end_ns, call_id, name, arguments if isinstance(arguments, str) else None)
                )
        if not calls:
            return
        with self._lock:
            offered = self._traces.get(trace_id)
            if offered is None:
                offered = self._traces[trace_id] = _Offered()
                while len(self._traces) > self._max_traces:
                    self._traces.popitem(last=False)
            else:
                self._traces.move_to_end(trace_id)
            known = {c[1] for c in offered.calls}
            offered.calls.extend(c for c in calls if c[1] not in known)
            del offered.calls[:-_MAX_CALLS]

    def clear(self) -> None:
        """Forget every call (a new pipeline: ``configure()``, ``capture_logs()``)."""
        with self._lock:
            self._traces.clear()

    def answer(
        self, trace_id: str, log_id: str, start_ns: int, name: str, inputs: Any
    ) -> str | None:
        """Return the id of the call the tool log ``log_id`` (named ``name``) answers, or None."""
        if trace_id not in self._traces:  # no call offered in this trace (a read: no lock)
            return None
        with self._lock:
            offered = self._traces.get(trace_id)
            if offered is None:
                return None
            for call_id, answering in offered.answered.items():
                if answering == log_id:
                    return call_id  # this record built again
            candidates = [
                c
                for c in offered.calls
                if c[2] == name and c[0] <= start_ns and c[1] not in offered.answered
            ]
            if not candidates:
                return None
            chosen = next((c for c in candidates if _same(c[3], inputs)), candidates[0])
            offered.answered[chosen[1]] = log_id
            return chosen[1]


def _same(arguments: str | None, inputs: Any) -> bool:
    if arguments is None or not isinstance(inputs, Mapping):
        return False
    try:
        return bool(json.loads(arguments) == dict(inputs))
    except ValueError:
        return False


TOOL_CALLS = ToolCalls()
"""The process's tool calls, filled and read as records are built."""


def passed_in(inputs: Any) -> str | None:
    """The ``tool_call_id`` argument of a tool call, when it has one."""
    if isinstance(inputs, Mapping):
        value = inputs.get(TOOL_CALL_ID_KEY)
        if isinstance(value, str) and value:
            return value
    return None
