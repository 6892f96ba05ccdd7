#!/usr/bin/env python
"""What a minimal tracer of the contract costs here, next to promptrail and OTel, in one run.

Issue #7's targets are microseconds set on another machine. This script shows, for *this*
machine and this run, how far below them pure Python can go at all. It measures, interleaved with
promptrail and the OpenTelemetry SDK (for scale), a **floor**: a minimal implementation doing
the work the contract (``SPEC.md``: nesting through a contextvar, time-sortable ids, wall and
monotonic times, the messages sent, a pydantic ``LogRecord`` written as a JSON line) cannot do
without, and nothing else.

* **Caller floor**: a closure (lighter than any wrapt proxy) that reads the parent from a
  ``ContextVar`` and sets itself as the current log, reads a sequence number (the id), the wall
  clock (``start_time``) and the monotonic clock twice (``provider_latency``), calls the
  function, resets the context and appends one tuple to a ``deque`` for a worker. For the
  LLM-shaped call it also copies the message list and its dicts (the log must hold the messages
  *sent*, and callers append to that list afterwards). No sampling, no processors, no exact drop
  counts, no stream detection, no error capture.
* **Worker floor** (one LLM-shaped record to a JSONL line): the UUIDv7 text of the id (one
  %-format), the start and end ``datetime``, a ``LogRecord`` with its ``ChatMessage`` and
  ``PromptKernel`` built **without validation**, its JSON line written by the cheapest of
  ``model_dump_json``, ``json.dumps``, ``pydantic_core.to_json`` and ``orjson`` (when
  installed) of plain dicts, and
  ``os.write`` of the batch, with the garbage collector paused. No argument binding, no
  redaction, no size limits, no cost table, no version hash: each of those is promptrail's work
  above the floor.

* **Dict-first floor** (the same calls, the worker only): the same fields as a plain dict, every
  string through the built-in secret masking, written by the cheapest JSON writer installed. The
  least a design that makes the ``LogRecord`` only when someone asks for one could cost.
* **promptrail's builder, dict-first** (a bound, not a floor): promptrail's own caller, and on
  the worker everything ``to_record`` does but the validation (``record_body``: binding,
  extraction, conversion, redaction, limits, cost, version id), the body written as JSON by the
  cheapest writer and no ``LogRecord`` made. The best a redesign that writes records from the
  builder's dict could reach: it would still have to check the types of the fields it did not
  make itself.
* **Reference tracer** (``overhead.ReferenceTracer``) in the same paced loop, so that the ratio
  target (promptrail's caller + worker over the reference's) is judged for each design.

A target missed even by the floor's best repeat is out of reach on this machine for any
implementation doing at least that work in pure Python with these libraries (a cleverer one
might cache the JSON of repeated messages, which the floor does not). Timings are CPU time:
of the calling thread, and for promptrail's worker of its thread. Every figure is the median of
the repeats with its min-max; "added" figures subtract the undecorated loop of the same repeat.

Usage::

    python benchmarks/floor.py               # ~1 minute
    python benchmarks/floor.py --json floor.json --repeats 9
"""

from __future__ import annotations

import argparse
import collections
import contextvars
import datetime
import gc
import itertools
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))

import overhead  # the same scenarios, baselines and machine description
import pydantic_core

try:
    from orjson import OPT_UTC_Z as _ORJSON_UTC_Z
    from orjson import dumps as _orjson_dumps
except ImportError:  # promptrail[fast] not installed: the floor's cheapest JSON is pydantic-core's
    _orjson_dumps = None  # type: ignore[assignment]
    _ORJSON_UTC_Z = 0

import promptrail
from promptrail import BatchProcessor
from promptrail._record.encode import _plain
from promptrail._record.models import ChatMessage, LogRecord, PromptKernel
from promptrail._runtime.ids import DEFAULT_IDS
from promptrail._runtime.secrets import mask_builtin
from promptrail._runtime.state import STATE
from promptrail._tracing.active import ActiveLog
from promptrail._tracing.build import record_body
from promptrail.exporters import JsonlExporter
from promptrail.testing import reset

cpu_ns = time.thread_time_ns

# -- the caller floor -----------------------------------------------------------------------

_CURRENT: contextvars.ContextVar[int | None] = contextvars.ContextVar("floor", default=None)
_QUEUE: collections.deque[tuple[Any, ...]] = collections.deque()
_seq = itertools.count().__next__
_wall = time.time_ns
_perf = time.perf_counter_ns


def floor_decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The least a tracer does per call on the caller's thread (see the module docstring)."""

    def traced(*args: Any, **kwargs: Any) -> Any:
        seq = _seq()
        parent = _CURRENT.get()
        token = _CURRENT.set(seq)
        start = _wall()
        t0 = _perf()
        try:
            result = fn(*args, **kwargs)
        finally:
            t1 = _perf()
            _CURRENT.reset(token)
        _QUEUE.append((fn, seq, parent, start, t0, t1, args, kwargs, result))
        return result

    return traced


def floor_decorate_llm(fn: Callable[..., Any]) -> Callable[..., Any]:
    """:func:`floor_decorate` plus the copy of the messages sent (a list of dicts)."""

    def traced(**kwargs: Any) -> Any:
        seq = _seq()
        parent = _CURRENT.get()
        token = _CURRENT.set(seq)
        kept = {**kwargs, "messages": [m.copy() for m in kwargs["messages"]]}
        start = _wall()
        t0 = _perf()
        try:
            result = fn(**kwargs)
        finally:
            t1 = _perf()
            _CURRENT.reset(token)
        _QUEUE.append((fn, seq, parent, start, t0, t1, (), kept, result))
        return result

    return traced


# -- the worker floor -----------------------------------------------------------------------

_format_id = DEFAULT_IDS.format_id
_UTC = datetime.UTC
_fromtimestamp = datetime.datetime.fromtimestamp
_new = object.__new__
_setattr = object.__setattr__


def _built(cls: type[Any], fields: dict[str, Any]) -> Any:
    """A pydantic model instance holding ``fields`` as they are: no validation at all."""
    model = _new(cls)
    _setattr(model, "__dict__", fields)
    _setattr(model, "__pydantic_fields_set__", set(fields))
    _setattr(model, "__pydantic_extra__", None)
    _setattr(model, "__pydantic_private__", None)
    return model


_RECORD_DEFAULTS = {  # required fields (set by every record) as None
    name: None if field.is_required() else field.get_default(call_default_factory=True)
    for name, field in LogRecord.model_fields.items()
}
_MESSAGE_DEFAULTS = dict.fromkeys(ChatMessage.model_fields)
_KERNEL_DEFAULTS = dict.fromkeys(PromptKernel.model_fields)


def floor_record(item: tuple[Any, ...]) -> LogRecord:
    """The record of one queued LLM-shaped call, built without validation."""
    _fn, seq, _parent, start, t0, t1, _args, kwargs, result = item
    log_id = _format_id(start, seq)  # promptrail's own UUIDv7 text (one %-format)
    latency = (t1 - t0) / 1e9
    start_time = _fromtimestamp(start / 1e9, _UTC)
    end_time = _fromtimestamp(start / 1e9 + latency, _UTC)
    messages = [_built(ChatMessage, {**_MESSAGE_DEFAULTS, **m}) for m in kwargs["messages"]]
    choice = result["choices"][0]
    usage = result["usage"]
    answer = choice["message"]
    kernel = {**_KERNEL_DEFAULTS, "model": kwargs["model"], "temperature": kwargs["temperature"]}
    fields = {
        **_RECORD_DEFAULTS,
        "log_id": log_id,
        "path": "bench/chat",
        "trace_id": log_id,
        "inputs": {"model": kwargs["model"], "temperature": kwargs["temperature"]},
        "messages": messages,
        "output": answer["content"],
        "output_message": _built(ChatMessage, {**_MESSAGE_DEFAULTS, **answer}),
        "prompt": _built(PromptKernel, kernel),
        **_outcome(usage, choice, start_time, end_time, latency),
    }
    return cast("LogRecord", _built(LogRecord, fields))


def _outcome(
    usage: dict[str, Any],
    choice: dict[str, Any],
    start_time: datetime.datetime,
    end_time: datetime.datetime,
    latency: float,
) -> dict[str, Any]:
    """The fields every floor record takes as they come: tokens, finish reason, times."""
    return {
        "prompt_tokens": usage["prompt_tokens"],
        "output_tokens": usage["completion_tokens"],
        "finish_reason": choice["finish_reason"],
        "start_time": start_time,
        "end_time": end_time,
        "created_at": end_time,
        "provider_latency": latency,
        "metadata": {},
    }


_to_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def plain_fields(record: LogRecord) -> dict[str, Any]:
    """The record as plain dicts, None fields left out (the JSON line's content)."""
    fields = {k: v for k, v in record.__dict__.items() if v is not None}
    fields["messages"] = [
        {k: v for k, v in m.__dict__.items() if v is not None} for m in fields["messages"]
    ]
    answer = fields["output_message"]
    fields["output_message"] = {k: v for k, v in answer.__dict__.items() if v is not None}
    fields["prompt"] = {k: v for k, v in fields["prompt"].__dict__.items() if v is not None}
    return fields


def plain_line(record: LogRecord) -> bytes:
    """The record's JSON line by ``json.dumps`` (timestamps as ``isoformat()``, ``+00:00``)."""
    fields = plain_fields(record)
    for key in ("start_time", "end_time", "created_at"):
        fields[key] = fields[key].isoformat()
    return _to_json(fields).encode()


def core_line(record: LogRecord) -> bytes:
    """The record's JSON line by ``pydantic_core.to_json`` of its plain dicts."""
    return pydantic_core.to_json(plain_fields(record))


def orjson_line(record: LogRecord) -> bytes:
    """The record's JSON line by ``orjson.dumps`` of its plain dicts (``core_line`` without it)."""
    if _orjson_dumps is None:
        return core_line(record)
    return _orjson_dumps(plain_fields(record), option=_ORJSON_UTC_Z)


def floor_worker(items: Sequence[tuple[Any, ...]], fd: int) -> dict[str, int]:
    """Build and write the records of ``items``; CPU ns of each step (three JSON writers).

    The garbage collector is paused meanwhile: the floor is meant to be optimistic.
    """
    gc.disable()
    t0 = cpu_ns()
    built = [floor_record(item) for item in items]
    t1 = cpu_ns()
    lines = [record.model_dump_json(exclude_none=True).encode() for record in built]
    t2 = cpu_ns()
    plain = [plain_line(record) for record in built]
    t3 = cpu_ns()
    core = [core_line(record) for record in built]
    t4 = cpu_ns()
    fast = [orjson_line(record) for record in built]
    t5 = cpu_ns()
    os.write(fd, b"\n".join(lines) + b"\n")
    t6 = cpu_ns()
    gc.enable()
    assert len(plain) == len(lines) == len(core) == len(fast)
    return {
        "floor: build record": t1 - t0,
        "floor: JSON, model_dump_json": t2 - t1,
        "floor: JSON, json.dumps": t3 - t2,
        "floor: JSON, pydantic_core.to_json": t4 - t3,
        "floor: JSON, orjson": t5 - t4,
        "floor: write": t6 - t5,
    }


def dict_record(item: tuple[Any, ...]) -> dict[str, Any]:
    """The record of one queued LLM-shaped call as a plain dict, its strings masked.

    The least a dict-first design does: the same fields as :func:`floor_record`, no model, and
    the built-in secret masking of every string the call brought (the contract's one promise a
    floor cannot drop: secrets never reach a record).
    """
    _fn, seq, _parent, start, t0, t1, _args, kwargs, result = item
    log_id = _format_id(start, seq)
    latency = (t1 - t0) / 1e9
    start_time = _fromtimestamp(start / 1e9, _UTC)
    end_time = _fromtimestamp(start / 1e9 + latency, _UTC)
    mask = mask_builtin
    messages = [{k: mask(v) for k, v in m.items()} for m in kwargs["messages"]]
    choice = result["choices"][0]
    usage = result["usage"]
    text = mask(choice["message"]["content"])
    model, temperature = mask(kwargs["model"]), kwargs["temperature"]
    return {
        "log_id": log_id,
        "path": "bench/chat",
        "kind": "prompt",
        "trace_id": log_id,
        "inputs": {"model": model, "temperature": temperature},
        "messages": messages,
        "output": text,
        "output_message": {"role": "assistant", "content": text},
        "prompt": {"model": model, "temperature": temperature},
        **_outcome(usage, choice, start_time, end_time, latency),
    }


def dict_worker(items: Sequence[tuple[Any, ...]], fd: int) -> int:
    """Build the dict records of ``items`` and write their JSON lines; CPU ns (GC paused)."""
    gc.disable()
    t0 = cpu_ns()
    if _orjson_dumps is None:
        lines = [pydantic_core.to_json(dict_record(item)) for item in items]
    else:
        lines = [_orjson_dumps(dict_record(item), option=_ORJSON_UTC_Z) for item in items]
    os.write(fd, b"\n".join(lines) + b"\n")
    spent = cpu_ns() - t0
    gc.enable()
    return spent


class _Collect(promptrail.BaseProcessor):
    """Keeps the ended logs, for :func:`body_worker` to build on this thread."""

    def __init__(self) -> None:
        self.logs: list[ActiveLog] = []

    def on_end(self, log: ActiveLog) -> None:
        self.logs.append(log)


def _submodel(value: Any) -> Any:
    """orjson's fallback for the sub-models a body holds: their plain (remembered) dumps."""
    if isinstance(value, (ChatMessage, PromptKernel)):
        return _plain(value)
    raise TypeError


def body_worker(logs: Sequence[ActiveLog], fd: int) -> int:
    """promptrail's builder, dict-first: each log's body written as JSON, no record; CPU ns.

    ``record_body`` is everything ``to_record`` does but the validation (binding, extraction,
    conversion, redaction, limits, cost, version id); the body's non-None fields are written by
    the cheapest JSON writer installed. What the named redesign could reach at best: it would
    still have to check the types of the fields it did not make itself. The garbage collector
    runs, as in promptrail's worker.
    """
    settings = STATE.settings
    t0 = cpu_ns()
    lines = []
    for log in logs:
        body = record_body(log, settings)
        fields = {k: v for k, v in body.items() if v is not None}
        if _orjson_dumps is None:
            lines.append(pydantic_core.to_json(fields))  # writes the sub-models itself
        else:
            lines.append(_orjson_dumps(fields, _submodel, _ORJSON_UTC_Z))
    os.write(fd, b"\n".join(lines) + b"\n")
    return cpu_ns() - t0


# -- measuring ------------------------------------------------------------------------------


_median = overhead.summary  # median, min, max (and n) of the repeats


def _fmt(s: dict[str, float]) -> str:
    return f"{s['median']:.2f} [{s['min']:.2f}-{s['max']:.2f}]"


BURST = 256
"""Calls per paced burst: below promptrail's 512-record batch, as in overhead.py's paced mode."""


def scenarios() -> dict[str, tuple[Callable[..., None], dict[str, Callable[..., Any]]]]:
    """The three scenarios of overhead.py: loop and function per variant."""
    return {
        "trivial": (
            overhead.loop_trivial,
            {
                "undecorated": overhead.trivial,
                "floor": floor_decorate(overhead.trivial),
                "promptrail": promptrail.log_prompt(path="bench/trivial")(overhead.trivial),
                "otel": overhead.otel_decorate(overhead.trivial),
            },
        ),
        "llm": (
            overhead.loop_llm,
            {
                "undecorated": overhead.chat,
                "floor": floor_decorate_llm(overhead.chat),
                "promptrail": promptrail.log_prompt(
                    path="bench/chat", provider="openai", endpoint="chat"
                )(overhead.chat),
                "otel": overhead.otel_decorate_llm(overhead.chat),
            },
        ),
        "nested": (
            overhead.loop_trivial,
            {
                "undecorated": overhead.make_nested(lambda f: f, lambda f: f),
                "floor": overhead.make_nested(floor_decorate, floor_decorate),
                "promptrail": overhead.make_nested(
                    promptrail.log_flow(path="bench/outer"),
                    promptrail.log_tool(path="bench/inner"),
                ),
                "otel": overhead.make_nested(overhead.otel_decorate, overhead.otel_decorate),
            },
        ),
    }


def measure_caller(calls: int, repeats: int, tmp: Path) -> dict[str, dict[str, list[float]]]:
    """Caller-thread CPU µs per call of every variant, per repeat (variants interleaved)."""
    # promptrail's worker must not run during the loop (the floor has none): the batch is as
    # large as the loop, so the worker wakes only for the flush between loops (untimed).
    size = calls * 6 + 1024
    processor = BatchProcessor(
        JsonlExporter(tmp / "caller.jsonl"),
        max_queue_size=size,
        max_batch_size=size,
        schedule_delay=3600.0,
    )
    promptrail.configure(exporters=[], processors=[processor])
    cases = scenarios()
    samples: dict[str, dict[str, list[float]]] = {
        name: collections.defaultdict(list) for name in cases
    }
    for loop, fns in cases.values():  # warm-up
        for fn in fns.values():
            loop(fn, 200)
    for r in range(repeats):
        for name, (loop, fns) in cases.items():
            n = calls if name != "nested" else max(1, calls // 6)
            for variant in overhead.rotated(list(fns), r):
                overhead.flush_all()
                _QUEUE.clear()
                before = cpu_ns()
                loop(fns[variant], n)
                samples[name][variant].append((cpu_ns() - before) / n / 1000)
    _QUEUE.clear()
    promptrail.shutdown()
    reset()
    return samples


def measure_paced(bursts: int, repeats: int, tmp: Path) -> dict[str, list[float]]:
    """µs per LLM-shaped call, paced: each burst's calls, then their records written as JSONL.

    promptrail runs as users run it (``configure(exporters=[JsonlExporter(...)])``): the burst,
    then ``flush()``. Its worker's share is the CPU time of its background threads (the export
    worker and the helper that builds records) over the burst and the flush. The floor's worker
    runs on this thread after each burst.
    """
    promptrail.configure(exporters=[JsonlExporter(tmp / "paced.jsonl")])
    traced = promptrail.log_prompt(path="bench/chat", provider="openai", endpoint="chat")(
        overhead.chat
    )
    floored = floor_decorate_llm(overhead.chat)
    referenced = overhead.REFERENCE.decorate(overhead.chat)
    samples: dict[str, list[float]] = collections.defaultdict(list)
    fd = os.open(tmp / "floor.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        overhead.loop_llm(traced, BURST)  # warm-up (starts the worker)
        overhead.loop_llm(floored, BURST)
        promptrail.flush()
        _QUEUE.clear()
        worker_ns = _background_clock()
        for r in range(repeats):
            totals: dict[str, int] = collections.Counter()
            for _ in range(bursts):
                variants = ["undecorated", "floor", "promptrail", "reference"]
                for variant in overhead.rotated(variants, r):
                    fn = {
                        "undecorated": overhead.chat,
                        "floor": floored,
                        "promptrail": traced,
                        "reference": referenced,
                    }
                    worker_before = worker_ns()
                    before = cpu_ns()
                    overhead.loop_llm(fn[variant], BURST)
                    totals[f"{variant}: calls"] += cpu_ns() - before
                    if variant == "floor":
                        items = list(_QUEUE)
                        _QUEUE.clear()
                        totals.update(floor_worker(items, fd))
                        totals["dict floor: build, JSON, write"] += dict_worker(items, fd)
                    elif variant == "reference":
                        before = cpu_ns()
                        overhead.REFERENCE.flush()
                        totals["reference: flush"] += cpu_ns() - before
                    elif variant == "promptrail":
                        promptrail.flush()
                        totals["promptrail: record + JSONL"] += worker_ns() - worker_before
            totals["promptrail dict-first: body, JSON, write"] = _body_phase(
                traced, bursts, fd, tmp
            )
            n = bursts * BURST
            for key, ns in totals.items():
                samples[key].append(ns / n / 1000)
    finally:
        os.close(fd)
        promptrail.shutdown()
        reset()
    return samples


def _body_phase(traced: Callable[..., Any], bursts: int, fd: int, tmp: Path) -> int:
    """CPU ns of :func:`body_worker` over ``bursts`` bursts of ``traced`` (then JSONL again).

    The calls end into a collecting processor instead of the JSONL pipeline; their bodies are
    built on this thread after each burst.
    """
    collect = _Collect()
    promptrail.configure(exporters=[], processors=[collect])
    spent = 0
    for _ in range(bursts):
        overhead.loop_llm(traced, BURST)
        logs, collect.logs = collect.logs, []
        spent += body_worker(logs, fd)
    promptrail.configure(exporters=[JsonlExporter(tmp / "paced.jsonl")])
    overhead.loop_llm(traced, BURST)  # the worker starts again outside the timed bursts
    promptrail.flush()
    return spent


def _background_clock() -> Callable[[], int]:
    """A ns clock of the CPU time of every thread but this one.

    promptrail's worker hands each batch's records to a helper thread to build (see
    ``pipeline/_build.py``), so its cost is spread over two threads; the process clock minus this
    thread's clock counts both (the other threads of the process are idle meanwhile). The wall
    clock where the clocks cannot be read.
    """
    if hasattr(time, "pthread_getcpuclockid"):
        return lambda: time.process_time_ns() - time.thread_time_ns()
    return overhead.perf_ns


def measure(calls: int, bursts: int, repeats: int, tmp: Path) -> dict[str, Any]:
    """Every figure of the report (see :func:`markdown`)."""
    caller = measure_caller(calls, repeats, tmp)
    paced = measure_paced(bursts, repeats, tmp)
    added: dict[str, dict[str, Any]] = {}
    for name, samples in caller.items():
        base = samples["undecorated"]
        added[name] = {
            variant: _median([v - b for v, b in zip(values, base, strict=True)])
            for variant, values in samples.items()
            if variant != "undecorated"
        }
    base = paced.pop("undecorated: calls")

    def minus_base(key: str) -> list[float]:
        return [v - b for v, b in zip(paced.pop(key), base, strict=True)]

    floor_calls, promptrail_calls = minus_base("floor: calls"), minus_base("promptrail: calls")
    floor_worker = [
        build + min(pyd, plain, core, fast) + write
        for build, pyd, plain, core, fast, write in zip(
            paced["floor: build record"],
            paced["floor: JSON, model_dump_json"],
            paced["floor: JSON, json.dumps"],
            paced["floor: JSON, pydantic_core.to_json"],
            paced["floor: JSON, orjson"],
            paced["floor: write"],
            strict=True,
        )
    ]
    promptrail_worker = paced["promptrail: record + JSONL"]
    reference_calls = minus_base("reference: calls")
    designs = {  # caller (added) and worker per repeat, µs per call
        "reference tracer": (reference_calls, paced["reference: flush"]),
        "floor: typed record": (floor_calls, floor_worker),
        "floor: dict-first record": (floor_calls, paced["dict floor: build, JSON, write"]),
        "promptrail": (promptrail_calls, promptrail_worker),
        # promptrail's caller with its builder's body written as JSON (no record, no validation)
        "promptrail's builder, dict-first": (
            promptrail_calls,
            paced["promptrail dict-first: body, JSON, write"],
        ),
    }
    totals = {
        name: [a + b for a, b in zip(calls_, worker, strict=True)]
        for name, (calls_, worker) in designs.items()
    }
    versus = {
        name: {
            "caller": _median(designs[name][0]),
            "worker": _median(designs[name][1]),
            "total": _median(total),
            "ratio": _median(overhead.ratios(total, totals["reference tracer"])),
        }
        for name, total in totals.items()
    }
    return {
        "versus_reference": versus,
        "calls": calls,
        "paced_calls": bursts * BURST,
        "repeats": repeats,
        "caller": added,
        "worker": {k: _median(v) for k, v in paced.items()},
        "paced": {
            "floor: caller (added)": _median(floor_calls),
            "floor: worker (build, the cheapest JSON, write)": _median(floor_worker),
            "floor: caller + worker": _median(
                [a + b for a, b in zip(floor_calls, floor_worker, strict=True)]
            ),
            "promptrail: caller (added)": _median(promptrail_calls),
            "promptrail: caller + worker": _median(
                [a + b for a, b in zip(promptrail_calls, promptrail_worker, strict=True)]
            ),
        },
    }


TARGET_OF = {
    "trivial": overhead.TARGETS["steady_trivial"],
    "llm": overhead.TARGETS["steady_llm"],
    "nested": overhead.TARGETS["steady_nested"],
}


def verdict(floor: dict[str, float], target: float) -> str:
    """Judged on the floor's best repeat: a target even that misses is out of reach."""
    return "within the floor" if floor["min"] <= target else "**below the floor** (even its best)"


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    out = [
        f"# promptrail floor - {report['date']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['os']}; Python {m['python']}; "
        f"promptrail {m['promptrail']}; opentelemetry-sdk {m['opentelemetry_sdk']}.",
        "",
        f"Caller-thread CPU µs added per call (median [min-max] of {report['repeats']} repeats, "
        f"{report['calls']} calls each). Floor: a minimal tracer of the contract (see "
        "`benchmarks/floor.py`); the verdict is judged on the floor's best repeat.",
        "",
        "## Caller's thread",
        "",
        "| scenario | target | floor added | promptrail added | OTel added | target vs floor |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in report["caller"].items():
        target = TARGET_OF[name]
        out.append(
            f"| {name} | <= {target:g} | {_fmt(row['floor'])} | {_fmt(row['promptrail'])} | "
            f"{_fmt(row['otel'])} | {verdict(row['floor'], target)} |"
        )
    paced = report["paced"]
    target = overhead.TARGETS["paced_llm_jsonl"]
    out += [
        "",
        f"## Paced: an LLM-shaped call and its JSONL line (target: <= {target:g} µs in all)",
        "",
        f"Bursts of {BURST} calls, then their records built and written; "
        f"{report['paced_calls']} calls per repeat. µs per call.",
        "",
        "| step | µs per call |",
        "|---|---|",
        *(f"| {name} | {_fmt(s)} |" for name, s in report["worker"].items()),
        *(f"| **{name}** | {_fmt(s)} |" for name, s in paced.items()),
        "",
        f"Paced target: {verdict(paced['floor: caller + worker'], target)}.",
    ]
    ratio = overhead.REFERENCE_RATIOS["paced_llm_jsonl"]
    out += [
        "",
        f"## The same calls against the reference tracer (target: <= {ratio:g}x its total)",
        "",
        "The 40-line reference tracer of `overhead.py` in the same loop: its caller, and its "
        "`flush()` (`json.dumps` of the batch) as its worker. The dict-first floor builds each "
        "record as a plain dict, masks its strings with the built-in secret formats and writes "
        "it with the cheapest JSON writer installed. promptrail's builder, dict-first, is "
        "promptrail's caller and its builder's body (before validation) written as JSON: the "
        "best a design without the typed record could reach with promptrail's builder. µs per "
        "call; x: total over the reference's, per repeat; judged on the median ratio.",
        "",
        "| design | caller (added) | worker | total | x reference | target vs design |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in report["versus_reference"].items():
        within = row["ratio"]["median"] <= ratio
        if name == "reference tracer":
            judged = "-"
        elif name == "promptrail":
            judged = "met" if within else "**not met**"
        else:  # a floor: what the least implementation of that design reaches
            judged = "within reach of this design" if within else "**out of reach** of this design"
        out.append(
            f"| {name} | {_fmt(row['caller'])} | {_fmt(row['worker'])} | {_fmt(row['total'])} "
            f"| {_fmt(row['ratio'])} | {judged} |"
        )
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000, help="calls per loop (default 5000)")
    parser.add_argument(
        "--bursts", type=int, default=8, help=f"paced bursts of {BURST} calls (default 8)"
    )
    parser.add_argument("--repeats", type=int, default=7, help="repeats (default 7, at least 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    with overhead.quiet_promptrail_logger(), tempfile.TemporaryDirectory() as tmpdir:
        report = measure(
            max(100, args.calls), max(1, args.bursts), max(3, args.repeats), Path(tmpdir)
        )
    report["date"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    report["machine"] = overhead.machine()
    print(markdown(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
