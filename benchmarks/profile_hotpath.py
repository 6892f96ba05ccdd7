#!/usr/bin/env python
"""Where a decorated call's time goes: per-step costs of promptrail's hot path and worker.

Times each step the caller's thread performs (``timeit``: the statement is compiled into the
loop, so only its own cost is counted), then the worker's steps per record (``to_record``, JSONL
and SQLite export), then a cProfile of both. Numbers are ns per call on this machine; the steps
do not add up exactly to the whole (the interpreter overlaps them), but they rank the costs.

    python benchmarks/profile_hotpath.py [--cprofile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import overhead
import wrapt

import promptrail
from promptrail._record.serialize import snapshot
from promptrail._runtime.ids import next_seq
from promptrail._runtime.state import STATE
from promptrail._tracing.active import ActiveLog
from promptrail._tracing.context import CURRENT
from promptrail.exporters import JsonlExporter, SqliteExporter


class Collect(promptrail.BaseProcessor):
    """Keeps ended logs (so the worker-side steps can be timed on real logs)."""

    def __init__(self) -> None:
        self.logs: list[ActiveLog] = []

    def on_end(self, log: ActiveLog) -> None:
        self.logs.append(log)


def ns(stmt: str, env: dict[str, Any], number: int = 50_000, setup: str = "pass") -> float:
    """Best of 5 repeats, ns per execution of ``stmt``."""
    timer = timeit.Timer(stmt, setup=setup, globals=env)
    return min(timer.repeat(5, number)) / number * 1e9


def call_spec(decorated: Any) -> Any:
    """The CallSpec the decorator built, found among the wrapper's closure cells.

    A wrapt proxy holds the wrapper as ``_self_wrapper``; a plain function's closure holds it
    in a cell of its own.
    """
    wrapper = getattr(decorated, "_self_wrapper", None)
    if wrapper is None:
        wrapper = next(
            cell.cell_contents
            for cell in decorated.__closure__
            if getattr(cell.cell_contents, "__name__", "") == "wrapper"
        )
    return next(
        cell.cell_contents
        for cell in wrapper.__closure__
        if type(cell.cell_contents).__name__ == "CallSpec"
    )


def hot_path_steps() -> list[tuple[str, float]]:
    scenarios = {s.name: s for s in overhead.build_scenarios()}
    trivial_pr = scenarios["trivial"].functions["promptrail"]
    chat_pr = scenarios["llm"].functions["promptrail"]
    collect = Collect()
    promptrail.configure(processors=[collect])
    spec = call_spec(trivial_pr)
    batch = promptrail.BatchProcessor(promptrail.exporters.InMemoryExporter())
    batch.on_end(ActiveLog(spec, None, 0, 0, 0))  # start the worker outside the timing
    promptrail.flush()

    def plain(x: int) -> int:
        return x + 1

    def passthrough(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        return wrapped(*args, **kwargs)

    def plain_self(x: int) -> int:
        return x + 1

    plain_self.__self__ = None  # type: ignore[attr-defined]

    def closure(*args: Any, **kwargs: Any) -> Any:
        return plain(*args, **kwargs)

    kwargs = {"model": overhead.MODEL, "messages": overhead.MESSAGES, "temperature": 0.2}
    log = ActiveLog(spec, None, 1, 2, 3)
    env: dict[str, Any] = {
        "plain": plain,
        "wrapt_fn": wrapt.FunctionWrapper(plain, passthrough),
        "wrapt_self": wrapt.FunctionWrapper(plain_self, passthrough),
        "closure": closure,
        "trivial_pr": trivial_pr,
        "chat_pr": chat_pr,
        "chat": overhead.chat,
        "STATE": STATE,
        "CURRENT": CURRENT,
        "ActiveLog": ActiveLog,
        "spec": spec,
        "next_seq": next_seq,
        "snapshot": snapshot,
        "kwargs": kwargs,
        "MESSAGES": overhead.MESSAGES,
        "log": log,
        "batch": batch,
        "collect": collect,
    }
    steps = [
        ("call plain f(x)", "plain(1)"),
        ("call through a closure(*args, **kwargs)", "closure(1)"),
        ("call through wrapt.FunctionWrapper (pass-through)", "wrapt_fn(1)"),
        ("  same, wrapped function has __self__=None", "wrapt_self(1)"),
        ("read STATE + enabled check", "st = STATE\nif not st.enabled: pass"),
        ("CURRENT.get()", "CURRENT.get()"),
        ("next_seq()", "next_seq()"),
        ("STATE.wall_ns() (time.time_ns)", "STATE.wall_ns()"),
        ("STATE.perf_ns() (perf_counter_ns)", "STATE.perf_ns()"),
        ("ActiveLog(...) (14 slots)", "ActiveLog(spec, None, 1, 2, 3)"),
        ("CURRENT.set(log) + CURRENT.reset(token)", "CURRENT.reset(CURRENT.set(log))"),
        ("snapshot(args) type scan, 1 int arg", "for a in (1,):\n  type(a)"),
        ("snapshot(kwargs) of the LLM call", "snapshot(kwargs)"),
        ("BatchProcessor.on_end(log)", "batch.on_end(log)"),
        ("whole decorated trivial call (collecting processor)", "trivial_pr(1)"),
        (
            "whole decorated LLM-shaped call (collecting processor)",
            "chat_pr(model='m', messages=MESSAGES, temperature=0.2)",
        ),
        ("undecorated LLM-shaped call", "chat(model='m', messages=MESSAGES, temperature=0.2)"),
    ]
    out = []
    for label, stmt in steps:
        # keep the collecting processor's list and the batch queue from growing unbounded
        out.append((label, ns(stmt, env, number=20_000, setup="collect.logs.clear()")))
        collect.logs.clear()
        promptrail.flush()
        batch.force_flush()
    batch.shutdown()
    promptrail.testing.reset()
    return out


def worker_steps(n: int = 2_000) -> list[tuple[str, float]]:
    scenarios = {s.name: s for s in overhead.build_scenarios()}
    out: list[tuple[str, float]] = []
    settings = STATE.settings
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("trivial", "llm"):
            scenario = scenarios[name]
            collect = Collect()
            promptrail.configure(processors=[collect])
            scenario.loop(scenario.functions["promptrail"], n)
            logs = collect.logs
            timer = overhead.perf_ns
            t0 = timer()
            records = [log.to_record(settings) for log in logs]
            t1 = timer()
            out.append((f"{name}: to_record", (t1 - t0) / n))
            t0 = timer()
            for r in records:
                r.model_dump_json(exclude_none=True)
            out.append((f"{name}: model_dump_json", (timer() - t0) / n))
            jsonl = JsonlExporter(Path(tmp) / f"{name}.jsonl")
            t0 = timer()
            for i in range(0, n, 512):
                jsonl.export(records[i : i + 512])
            out.append((f"{name}: JsonlExporter.export (512/batch)", (timer() - t0) / n))
            sqlite = SqliteExporter(Path(tmp) / f"{name}.db")
            sqlite.export(records[:1])  # connect and create the schema outside the timing
            t0 = timer()
            for i in range(1, n, 512):
                sqlite.export(records[i : i + 512])
            out.append((f"{name}: SqliteExporter.export (512/batch)", (timer() - t0) / (n - 1)))
            sqlite.shutdown()
            promptrail.testing.reset()
    return out


def profile(n: int = 5_000) -> None:
    scenarios = {s.name: s for s in overhead.build_scenarios()}
    settings = STATE.settings
    for name in ("trivial", "llm"):
        scenario = scenarios[name]
        collect = Collect()
        promptrail.configure(processors=[collect])
        fn = scenario.functions["promptrail"]
        scenario.loop(fn, 500)
        collect.logs.clear()
        prof = cProfile.Profile()
        prof.enable()
        scenario.loop(fn, n)
        prof.disable()
        print(f"\n=== cProfile: {n} decorated {name} calls (caller's thread)")
        pstats.Stats(prof).sort_stats("tottime").print_stats(12)
        prof = cProfile.Profile()
        prof.enable()
        for log in collect.logs:
            log.to_record(settings)
        prof.disable()
        print(f"\n=== cProfile: to_record of {n} {name} logs (worker)")
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)
        promptrail.testing.reset()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cprofile", action="store_true", help="also print cProfile tables")
    args = parser.parse_args()
    how = overhead.check_llm_record()
    print(f"LLM-shaped record: {how}\n")
    print("| caller's thread, step | ns |\n|---|---|")
    for label, value in hot_path_steps():
        print(f"| {label} | {value:,.0f} |")
    print("\n| worker, per record | ns |\n|---|---|")
    for label, value in worker_steps():
        print(f"| {label} | {value:,.0f} |")
    if args.cprofile:
        profile()
    return 0


if __name__ == "__main__":
    sys.exit(main())
