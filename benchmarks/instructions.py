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
    from promptrail._config import STATE

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
    parser.add_argument("--driver", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver:
        driver(int(args.driver[0]), args.driver[1])
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
