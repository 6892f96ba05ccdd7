#!/usr/bin/env python
"""Instructions per call, counted by ``valgrind --tool=callgrind`` (deterministic, noise-free).

Timings on a shared 2-core machine wander by 2x; instruction counts do not. Each case runs the
driver twice under callgrind, with 0 and with N calls after the same warm-up, and reports
``(Ir(N) - Ir(0)) / N``: the interpreter instructions one decorated call (caller's thread, with a
collecting processor) or one ``to_record`` (worker) costs. Use it to compare before/after a
change to the hot path::

    python benchmarks/instructions.py            # needs valgrind
    python benchmarks/instructions.py -n 500
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from datetime import UTC
from pathlib import Path
from typing import Any

CASES = ("trivial", "trivial_record", "llm", "llm_record")

MESSAGES = [
    {"role": "system", "content": "You are a terse assistant. Answer in one sentence."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
]
COMPLETION = {
    "id": "chatcmpl-bench0001",
    "object": "chat.completion",
    "created": 1_767_225_600,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Paris is the capital of France."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 31, "completion_tokens": 7, "total_tokens": 38},
}


def driver(n: int, case: str) -> None:
    import promptrail
    from promptrail._runtime.state import STATE

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from overhead import _openai_dict_fields  # cheap: the module imports lazily enough

    logs: list[Any] = []

    class Collect(promptrail.BaseProcessor):
        def on_end(self, log: Any) -> None:
            logs.append(log)

    promptrail.configure(processors=[Collect()])
    promptrail.register_extractor(_openai_dict_fields)

    @promptrail.log_prompt(path="bench/trivial")
    def trivial(x: int) -> int:
        return x + 1

    @promptrail.log_prompt(path="bench/chat", provider="openai", endpoint="chat")
    def chat(*, model: str, messages: list[dict[str, Any]], temperature: float = 1.0) -> Any:
        return COMPLETION

    def calls(k: int) -> None:
        if case.startswith("trivial"):
            for i in range(k):
                trivial(i)
        else:
            for _ in range(k):
                chat(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2)

    calls(50)
    for log in logs:
        log.to_record(STATE.settings)
    logs.clear()
    calls(n)
    if case.endswith("record"):
        for log in logs:
            log.to_record(STATE.settings)


def build_steps(n: int, rounds: int = 1) -> tuple[list[tuple[str, Any]], Any]:
    """The steps, each doing its work ``n`` times; material for ``rounds`` runs of each."""
    from datetime import datetime

    import wrapt

    import promptrail
    from promptrail._record import serialize as _serialize
    from promptrail._record.encode import dump_json
    from promptrail._record.models import LogRecord, PromptKernel
    from promptrail._record.versions import version_id
    from promptrail._runtime.state import STATE
    from promptrail._tracing.active import ActiveLog
    from promptrail._tracing.context import CURRENT
    from promptrail._tracing.reuse import prompt_fields as _prompt_fields
    from promptrail.exporters import JsonlExporter, SqliteExporter
    from promptrail.providers import _registry as _extract
    from promptrail.providers._prices import priced

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from overhead import _openai_dict_fields

    logs: list[Any] = []

    class Collect(promptrail.BaseProcessor):
        def on_end(self, log: Any) -> None:
            logs.append(log)

    promptrail.configure(processors=[Collect()])
    promptrail.register_extractor(_openai_dict_fields)

    @promptrail.log_prompt(path="bench/trivial")
    def trivial(x: int) -> int:
        return x + 1

    @promptrail.log_prompt(path="bench/chat", provider="openai", endpoint="chat")
    def chat(*, model: str, messages: list[dict[str, Any]], temperature: float = 1.0) -> Any:
        return COMPLETION

    def plain(x: int) -> int:
        return x + 1

    def passthrough(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        return wrapped(*args, **kwargs)

    wrapped_plain = wrapt.FunctionWrapper(plain, passthrough)
    settings = STATE.settings
    limits, redactor = settings.limits, settings.redactor

    def clean(value: Any) -> Any:
        return _serialize.to_jsonable(value, limits=limits, redactor=redactor)

    for _ in range((2 + rounds) * n):  # warm-up and material for the worker steps
        trivial(1)
        chat(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2)
    t_logs = logs[0::2]
    c_logs = logs[1::2]
    for log in logs[:100]:
        log.to_record(settings)
    kwargs = {"model": "gpt-4o-mini", "messages": MESSAGES, "temperature": 0.2}
    spec = t_logs[0].spec
    log0 = c_logs[0]
    inputs, messages = log0._inputs()
    extracted = _extract.extract(log0.result)
    prompt = {**extracted.pop("prompt"), **log0.spec.prompt}
    records = [log.to_record(settings) for log in c_logs[:n]]
    fresh = [log.to_record(settings) for log in c_logs[n : n + n * rounds]]  # for SQLite inserts
    chunks = iter(range(rounds))

    def sqlite_round() -> None:
        k = next(chunks)
        sqlite.export(fresh[k * n : (k + 1) * n])

    body = records[0].model_dump(exclude_none=True)
    kernel = body["prompt"]
    tmp = tempfile.mkdtemp()
    jsonl = JsonlExporter(Path(tmp) / "x.jsonl")
    sqlite = SqliteExporter(Path(tmp) / "x.db")
    sqlite.export(records[-1:])
    logs.clear()

    def reset_ids(batch: list[Any]) -> None:
        for log in batch:
            log._id = None

    steps: list[tuple[str, Any]] = [
        ("caller: plain call f(x)", lambda: [plain(i) for i in range(n)]),
        ("caller: wrapt pass-through call", lambda: [wrapped_plain(i) for i in range(n)]),
        ("caller: decorated trivial call", lambda: [trivial(i) for i in range(n)]),
        (
            "caller: decorated LLM-shaped call",
            lambda: [chat(model="m", messages=MESSAGES, temperature=0.2) for _ in range(n)],
        ),
        ("caller: ActiveLog(...)", lambda: [ActiveLog(spec, None, 1, 2, 3) for _ in range(n)]),
        (
            "caller: CURRENT.set + reset",
            lambda: [CURRENT.reset(CURRENT.set(log0)) for _ in range(n)],
        ),
        (
            "caller: snapshot(kwargs), LLM call",
            lambda: [_serialize.snapshot(kwargs) for _ in range(n)],
        ),
        ("worker: to_record, trivial", lambda: [log.to_record(settings) for log in t_logs[-n:]]),
        ("worker: to_record, LLM-shaped", lambda: [log.to_record(settings) for log in c_logs[-n:]]),
        ("  log_id (UUIDv7 text)", lambda: (reset_ids(c_logs[:n]), [x.log_id for x in c_logs[:n]])),
        (
            "  2 x datetime.fromtimestamp",
            lambda: [
                (
                    datetime.fromtimestamp(1.5, UTC),
                    datetime.fromtimestamp(2.5, UTC),
                )
                for _ in range(n)
            ],
        ),
        ("  _inputs() (argument binding)", lambda: [log0._inputs() for _ in range(n)]),
        ("  to_jsonable(inputs)", lambda: [clean(inputs) for _ in range(n)]),
        ("  to_jsonable(messages)", lambda: [clean(messages) for _ in range(n)]),
        ("  extract(result)", lambda: [_extract.extract(log0.result) for _ in range(n)]),
        (
            "  to_jsonable(extracted values)",
            lambda: [{k: clean(v) for k, v in extracted.items()} for _ in range(n)],
        ),
        (
            "  prompt: to_jsonable + _prompt_fields",
            lambda: [_prompt_fields({k: clean(v) for k, v in prompt.items()}) for _ in range(n)],
        ),
        ("  to_jsonable(metadata {})", lambda: [clean({}) for _ in range(n)]),
        (
            "  LogRecord.model_validate(body)",
            lambda: [LogRecord.model_validate(body) for _ in range(n)],
        ),
        (
            "  priced(model, tokens)",
            lambda: [priced("gpt-4o-mini-2024-07-18", 31, 7, None, None) for _ in range(n)],
        ),
        (
            "  version_id(kernel), not remembered",
            lambda: [version_id(PromptKernel.model_validate(kernel)) for _ in range(n)],
        ),
        (
            "worker: model_dump_json, LLM-shaped",
            lambda: [r.model_dump_json(exclude_none=True) for r in records[:n]],
        ),
        ("worker: dump_json (what exporters write)", lambda: [dump_json(r) for r in records[:n]]),
        ("worker: JsonlExporter.export, LLM-shaped", lambda: jsonl.export(records[:n])),
        ("worker: SqliteExporter.export, LLM-shaped", sqlite_round),
    ]
    return steps, sqlite.shutdown


def steps_driver(n: int) -> None:
    """Run each step ``n`` times between ``time.sleep(0)`` markers (callgrind dumps at each)."""
    import json
    import time

    steps, done = build_steps(n)
    names = []
    for name, step in steps:
        time.sleep(0)
        step()
        names.append(name)
    time.sleep(0)
    done()
    print(json.dumps(names))


def time_steps(n: int, rounds: int = 5) -> list[tuple[str, float]]:
    """Wall ns per call of each step: the best of ``rounds`` runs (no valgrind)."""
    import gc
    import time

    steps, done = build_steps(n, rounds)
    out = []
    for name, step in steps:
        best = float("inf")
        for _ in range(rounds):
            gc.collect()
            t0 = time.perf_counter_ns()
            step()
            best = min(best, time.perf_counter_ns() - t0)
        out.append((name, best / n))
    done()
    return out


def count_steps(n: int) -> list[tuple[str, float]]:
    import json

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--dump-before=time_sleep",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--steps-driver",
                str(n),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
            check=True,
        )
        names = json.loads(proc.stdout.strip().splitlines()[-1])
        totals = []
        for i in range(2, len(names) + 2):  # dump 1 is start-up until the first marker
            text = Path(f"{out}.{i}").read_text()
            match = re.search(r"^summary: (\d+)", text, re.MULTILINE)
            totals.append(int(match.group(1)) if match else 0)
    return [(name, total / n) for name, total in zip(names, totals, strict=True)]


def count(n: int, case: str) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--driver",
                str(n),
                case,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
            check=True,
        )
    match = re.search(r"Collected : (\d+)", proc.stderr)
    if match is None:
        raise RuntimeError(proc.stderr[-2000:])
    return int(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1_000, help="calls per measurement")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--steps", action="store_true", help="per-step counts in one run")
    parser.add_argument("--driver", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--steps-driver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver:
        driver(int(args.driver[0]), args.driver[1])
        return 0
    if args.steps_driver:
        steps_driver(args.steps_driver)
        return 0
    if args.steps:
        counted = count_steps(args.n)
        timed = dict(time_steps(args.n))
        print("| step | instructions per call | ns per call (best of 5, no valgrind) |")
        print("|---|---|---|")
        for name, value in counted:
            print(f"| {name} | {value:,.0f} | {timed.get(name, float('nan')):,.0f} |")
        return 0
    base: dict[str, int] = {}
    print("| case | instructions per call |\n|---|---|")
    for case in args.cases.split(","):
        family = case.split("_")[0]
        if family not in base:
            base[family] = count(0, family)
        print(f"| {case} | {(count(args.n, case) - base[family]) / args.n:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
