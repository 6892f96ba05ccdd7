"""examples/instrumented.py runs offline and logs the prompt built in the function's body."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("openai")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "instrumented.py"


@pytest.fixture(scope="module")
def example_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    """What the example prints, run once for the tests of this module."""
    return subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path_factory.mktemp("example"),
        check=True,
    ).stdout


def test_example_records_the_prompt_built_in_the_body(example_output: str) -> None:
    """The decorated function's log has the model, both messages and the tokens it sent."""
    lines = [line.strip() for line in example_output.splitlines()]
    answer = lines.index("prompt support/answer")
    assert lines[answer + 1] == "model=gpt-4o temperature=0.7"
    assert lines[answer + 2] == "messages=['system', 'user']"
    assert lines[answer + 3].startswith("tokens=21+7 cost=")
    assert "prompt openai/chat.completions.create" in lines


def test_example_prices_both_calls(example_output: str) -> None:
    """Both calls answer with a real dated snapshot, so both logs get a cost."""
    costs = [line.split("cost=")[1] for line in example_output.splitlines() if "cost=" in line]
    assert len(costs) == 2
    assert "None" not in costs
