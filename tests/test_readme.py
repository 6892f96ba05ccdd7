"""The README's opening example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

from promptrail.testing import capture_logs

README = Path(__file__).resolve().parents[1] / "README.md"


def first_python_block() -> str:
    """The first ```python block of the README."""
    match = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert match is not None
    return match.group(1)


class TestOpeningExample:
    """The example a reader copies first."""

    def test_runs_and_nests_the_prompt_under_the_flow(self) -> None:
        """Executed as a script, it logs support/answer as a child of support/flow."""
        with capture_logs() as logs:
            exec(compile(first_python_block(), str(README), "exec"), {"__name__": "readme"})
        by_path = {log.path: log for log in logs}
        assert set(by_path) == {"support/answer", "support/flow"}
        assert by_path["support/answer"].trace_parent_id == by_path["support/flow"].log_id
