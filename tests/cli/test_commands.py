"""The promptrail command line."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import promptrail
from promptrail import log_prompt, log_tool, trace
from promptrail.cli._main import main
from promptrail.exporters import SqliteExporter


@log_tool(path="tools/search")
def search(q: str) -> str:
    """A tool."""
    return q


@log_prompt(path="support/answer")
def answer(q: str) -> str:
    """Fails on 'bad'."""
    search(q)
    if q == "bad":
        raise ValueError("bad question")
    promptrail.update_current(prompt_tokens=10, output_tokens=5)
    return "ok"


def fill(db: Path) -> list[str]:
    """Write two traces into db; return their trace ids, oldest first."""
    promptrail.configure(exporters=[SqliteExporter(db)])
    ids = []
    for q in ("good", "bad"):
        with trace(path="support/flow") as t:
            with contextlib.suppress(ValueError):
                answer(q)
        assert t.trace_id is not None
        ids.append(t.trace_id)
    assert promptrail.flush(timeout=10)
    return ids


def run(*argv: str) -> tuple[int, str]:
    """Run the CLI in-process; return (status, stdout)."""
    out = io.StringIO()
    status = main(list(argv), out=out)
    return status, out.getvalue()


class TestArguments:
    """Counts and intervals out of range are usage errors, not empty output or a traceback."""

    @pytest.mark.parametrize(
        "argv",
        [
            ["show", "--last", "0"],
            ["show", "--last", "-3"],
            ["tail", "--last", "-1", "--max-polls", "2"],
            ["tail", "--interval", "-1", "--max-polls", "2"],
            ["tail", "--interval", "0", "--max-polls", "2"],
            ["tail", "--timeout", "nan", "--max-polls", "2"],
            ["tail", "--interval", "inf", "--max-polls", "2"],
            ["tail", "--interval", "1e300", "--max-polls", "2"],
            ["tail", "--max-polls", "0"],
        ],
    )
    def test_out_of_range(
        self, argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The command exits 2 and names the option (--max-polls bounds a regression)."""
        with pytest.raises(SystemExit) as exited:
            run(*argv, "--db", str(tmp_path / "t.db"))
        assert exited.value.code == 2
        assert f"argument {argv[1]}" in capsys.readouterr().err

    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        """promptrail --version prints the installed version."""
        with pytest.raises(SystemExit) as exited:
            run("--version")
        assert exited.value.code == 0
        assert capsys.readouterr().out == f"promptrail {promptrail.__version__}\n"


class TestShow:
    """promptrail show."""

    def test_tree(self, tmp_path: Path) -> None:
        """Recent traces print as indented trees with kind, tokens and error marker."""
        db = tmp_path / "t.db"
        good, bad = fill(db)
        status, text = run("show", "--db", str(db), "--color", "never")
        assert status == 0
        assert text.index(f"trace {bad}") < text.index(f"trace {good}")  # newest first
        lines = text.splitlines()
        flow = next(line for line in lines if "support/flow" in line and " flow " in line)
        answer_line = next(line for line in lines if "support/answer" in line and "tok" in line)
        tool_line = next(line for line in lines if "tools/search" in line and " tool " in line)
        indent = [
            flow.index("support/flow"),
            answer_line.index("support/answer"),
            tool_line.index("tools/search"),
        ]
        assert indent[0] < indent[1] < indent[2]
        assert "10+5 tok" in answer_line
        assert any("✗ ValueError: bad question" in line for line in lines)

    def test_one_trace_and_json(self, tmp_path: Path) -> None:
        """A TRACE_ID shows just that trace; --json prints one body per line."""
        db = tmp_path / "t.db"
        good, _ = fill(db)
        status, text = run("show", "--db", str(db), good, "--json")
        assert status == 0
        bodies = [json.loads(line) for line in text.splitlines()]
        assert {b["trace_id"] for b in bodies} == {good}
        assert len(bodies) == 3

    def test_unknown_trace_and_empty_store(self, tmp_path: Path) -> None:
        """An unknown trace id exits 1; an empty store says so."""
        db = tmp_path / "t.db"
        fill(db)
        assert run("show", "--db", str(db), "nope")[0] == 1
        empty = tmp_path / "empty.db"
        SqliteExporter(empty).store.write([])
        assert run("show", "--db", str(empty)) == (0, f"no matching traces in {empty}\n")

    def test_missing_database_is_a_message_not_a_traceback(self, tmp_path: Path) -> None:
        """A missing file gives a one-line error and status 2 (run as a real command)."""
        result = subprocess.run(
            [sys.executable, "-m", "promptrail", "show", "--db", str(tmp_path / "nope.db")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        assert "no such promptrail database" in result.stderr
        assert "Traceback" not in result.stderr
