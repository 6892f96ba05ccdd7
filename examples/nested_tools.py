"""Nested tools and threads: an agent loop whose tools run in a thread pool (no network).

python examples/nested_tools.py
"""

from __future__ import annotations

import subprocess
import sys

import promptrail
from promptrail import log_flow, log_prompt, log_tool
from promptrail.exporters import SqliteExporter


@log_tool(path="agent/tools/weather")
def weather(city: str) -> dict[str, object]:
    """A tool the model may call."""
    return {"city": city, "forecast": "sunny", "high_c": 21}


@log_tool(path="agent/tools/calculator")
def calculator(expression: str) -> float:
    """Another tool, with a failure the agent survives."""
    if "/0" in expression:
        raise ZeroDivisionError("division by zero")
    a, op, b = expression.split()
    return float(a) + float(b) if op == "+" else float(a) * float(b)


@log_prompt(path="agent/plan", model="gpt-4o")
def plan(goal: str) -> list[str]:
    """A fake model call that decides which tools to run."""
    return ["weather:Paris", "weather:Tokyo", "calculator:2 + 3", "calculator:1 /0"]


@log_flow(path="agent/run")
def run_agent(goal: str) -> str:
    """Plan, then run the tools concurrently; children nest thanks to the context executor."""
    steps = plan(goal)
    results = []
    with promptrail.ContextThreadPoolExecutor(max_workers=4) as pool:
        futures = []
        for step in steps:
            tool, arg = step.split(":", 1)
            futures.append(pool.submit(weather if tool == "weather" else calculator, arg))
        for future in futures:
            try:
                results.append(str(future.result()))
            except ZeroDivisionError as exc:
                results.append(f"error: {exc}")
    return "; ".join(results)


def show(db: str, last: int) -> None:
    """Print the newest traces with the ``promptrail show`` command."""
    sys.stdout.flush()
    command = [sys.executable, "-m", "promptrail", "show", "--db", db, "--last", str(last)]
    subprocess.run(command, check=True)


if __name__ == "__main__":
    promptrail.configure(exporters=[SqliteExporter("agent-example.db")])
    print(run_agent("plan a trip"))
    promptrail.flush(timeout=10)
    show("agent-example.db", 1)
