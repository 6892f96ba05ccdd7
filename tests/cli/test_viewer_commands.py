"""``promptrail show``, ``tail`` and ``stats`` on real SQLite files."""

from __future__ import annotations

import datetime
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from promptrail import LogRecord
from promptrail.cli._main import main
from promptrail.exporters import SqliteExporter, SqliteStore

Factory = Callable[..., list[LogRecord]]
DOCS = Path(__file__).resolve().parents[2] / "docs"
SRC = Path(__file__).resolve().parents[2] / "src"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*argv: str, out: io.StringIO | None = None) -> tuple[int, str]:
    out = out if out is not None else io.StringIO()
    status = main(list(argv), out)
    return status, out.getvalue()


class TestShow:
    """``promptrail show``: trees, details, filters, JSON and clear failures."""

    def test_prints_recent_traces_as_trees_newest_first(self, db_path: Path) -> None:
        """Each trace is a header and a tree; the newest trace comes first, as on the web page."""
        status, text = run("show", "--db", str(db_path))
        assert status == 0
        headers = [line.split()[1] for line in text.splitlines() if line.startswith("trace ")]
        assert headers == ["trace-new", "trace-err", "trace-old"]
        assert "  ├─ support/search-docs tool      200ms ▏ ███            ▕" in text
        assert "gpt-4o-mini  420+38 tok  $0.000086" in text
        assert "✗ RateLimitError: slow down" in text
        assert "\x1b[" not in text  # not a terminal: no colours

    def test_reverse_prints_oldest_first(self, db_path: Path) -> None:
        """``--reverse`` lists the same traces oldest first."""
        _, text = run("show", "--db", str(db_path), "--reverse")
        headers = [line.split()[1] for line in text.splitlines() if line.startswith("trace ")]
        assert headers == ["trace-old", "trace-err", "trace-new"]

    def test_last_limits_the_traces(self, db_path: Path) -> None:
        """``--last N`` shows the N most recent traces."""
        _, text = run("show", "--db", str(db_path), "--last", "1")
        assert text.startswith("trace trace-new ")
        assert text.count("\ntrace ") == 0

    def test_one_trace_with_full_details(self, db_path: Path) -> None:
        """``show TRACE_ID --full`` adds messages, output, inputs and metadata."""
        status, text = run("show", "trace-new", "--db", str(db_path), "--full")
        assert status == 0
        assert text.count("trace trace-") == 1
        for expected in (
            'inputs    {"question": "How do I reset my password?"}',
            "system     You are a helpful support agent.",
            "output    Use the reset link.",
            'metadata  {"customer": "acme", "tier": "gold"}',
        ):
            assert expected in text

    @pytest.mark.parametrize(
        ("options", "expected"),
        [
            (["--path", "billing"], ["trace-err"]),
            (["--path", "support/draft-reply"], ["trace-new", "trace-old"]),
            (["--errors"], ["trace-err"]),
            (["--since", "1h"], ["trace-new", "trace-err"]),
            (["--since", "10m"], ["trace-new"]),
            (["--since", "2h", "--path", "support"], ["trace-new"]),
        ],
    )
    def test_filters(self, db_path: Path, options: list[str], expected: list[str]) -> None:
        """``--path``, ``--errors`` and ``--since`` select traces."""
        _, text = run("show", "--db", str(db_path), *options)
        assert [line.split()[1] for line in text.splitlines() if line.startswith("trace ")] == (
            expected
        )

    def test_since_accepts_an_iso_date(self, db_path: Path) -> None:
        """An ISO time works as ``--since``."""
        since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
        _, text = run("show", "--db", str(db_path), "--since", since.strftime("%Y-%m-%dT%H:%M"))
        assert "trace-old" not in text
        assert "trace-new" in text

    def test_no_match_says_so(self, db_path: Path) -> None:
        """A filter that matches nothing prints a short note (nothing with --json)."""
        assert run("show", "--db", str(db_path), "--path", "nope")[1] == (
            f"no matching traces in {db_path}\n"
        )
        assert run("show", "--db", str(db_path), "--path", "nope", "--json") == (0, "")

    def test_json_prints_one_log_body_per_line(self, db_path: Path) -> None:
        """``--json`` prints the stored log bodies, parseable back into LogRecords."""
        status, text = run("show", "--db", str(db_path), "--json", "--errors")
        records = [LogRecord.model_validate(json.loads(line)) for line in text.splitlines()]
        assert status == 0
        assert [r.log_id for r in records] == ["trace-err", "trace-err-llm"]

    def test_colours_on_a_terminal_unless_no_color(
        self, db_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A TTY gets colours (errors in bold red); NO_COLOR turns them off."""
        monkeypatch.delenv("NO_COLOR", raising=False)
        _, text = run("show", "--db", str(db_path), "--errors", out=_Tty())
        assert "\x1b[31;1m✗ RateLimitError: slow down\x1b[0m" in text
        monkeypatch.setenv("NO_COLOR", "1")
        _, text = run("show", "--db", str(db_path), "--errors", out=_Tty())
        assert "\x1b[" not in text
        _, text = run("show", "--db", str(db_path), "--errors", "--color", "always")
        assert "\x1b[31;1m" in text

    def test_terminal_escapes_in_logs_are_neutralised(
        self, tmp_path: Path, failing_trace: Factory
    ) -> None:
        """An ANSI sequence inside a log is printed as visible text, not executed."""
        db = tmp_path / "evil.db"
        records = failing_trace("t")
        evil = records[0].model_copy(
            update={"path": "evil\x1b[2Jpath", "error": "E: \x1b]0;hi\x07"}
        )
        SqliteStore(db).write([evil, records[1]])
        _, text = run("show", "--db", str(db), "--full")
        assert "\x1b" not in text
        assert "\x07" not in text
        assert "evil\\x1b[2Jpath" in text
        assert "E: \\x1b]0;hi\\x07" in text

    def test_unknown_trace_fails(self, db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Asking for a trace that is not stored exits 1 with a message on stderr."""
        assert run("show", "nope", "--db", str(db_path)) == (1, "")
        assert "no trace nope in" in capsys.readouterr().err

    def test_a_shortened_trace_id_is_enough(
        self, db_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The start or end of an id finds the trace; an ambiguous one lists the candidates."""
        assert run("show", "e-new", "--db", str(db_path))[1].startswith("trace trace-new ")
        assert run("show", "TRACE-E", "--db", str(db_path))[1].startswith("trace trace-err ")
        assert run("show", "trace", "--db", str(db_path)) == (1, "")
        assert "trace is ambiguous: trace-" in capsys.readouterr().err
        assert run("show", "new", "--db", str(db_path))[0] == 1  # too short to guess
        assert "no trace new in" in capsys.readouterr().err
        assert run("show", "tr%e", "--db", str(db_path))[0] == 1  # LIKE wildcards are literal
        store = SqliteStore(db_path)
        for i in range(6):
            store.write(
                [
                    LogRecord.model_validate(
                        {
                            **store.trace("trace-new")[0].to_body(),
                            "log_id": f"trace-x{i}",
                            "trace_id": f"trace-x{i}",
                        }
                    )
                ]
            )
        run("show", "trace", "--db", str(db_path))
        assert capsys.readouterr().err.endswith(", ...\n")

    def test_missing_or_foreign_database_is_a_clear_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A missing file, a text file or another app's SQLite file give a message, exit 2."""
        text_file = tmp_path / "notes.db"
        text_file.write_text("hello")
        other = tmp_path / "other.db"
        with sqlite3.connect(other) as conn:
            conn.execute("CREATE TABLE t (x)")
        conn.close()
        for command in ("show", "stats"):
            assert run(command, "--db", str(tmp_path / "missing.db"))[0] == 2
            assert "no such promptrail database" in capsys.readouterr().err
            for path in (text_file, other):
                assert run(command, "--db", str(path))[0] == 2
                err = capsys.readouterr().err
                assert "not a promptrail database" in err
                assert "Traceback" not in err

    def test_a_closed_pipe_is_not_an_error(self, db_path: Path) -> None:
        """When the reader goes away (``| head``), show stops quietly with status 0."""

        class Closed(io.StringIO):
            def write(self, text: str) -> int:
                raise BrokenPipeError

        assert main(["show", "--db", str(db_path)], Closed()) == 0

    def test_default_database_comes_from_the_environment(
        self, db_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without --db, $PROMPTRAIL_DB is read."""
        monkeypatch.setenv("PROMPTRAIL_DB", str(db_path))
        assert "trace trace-new" in run("show")[1]

    def test_bad_since_is_a_usage_error(
        self, db_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An unreadable --since stops at argument parsing with the accepted forms."""
        with pytest.raises(SystemExit) as info:
            run("show", "--db", str(db_path), "--since", "yesterday")
        assert info.value.code == 2
        assert "try 30m, 1h, 2d" in capsys.readouterr().err

    def test_docs_tree(
        self, tmp_path: Path, showcase_trace: Factory, failing_trace: Factory
    ) -> None:
        """The README's terminal example is this command's output (docs/cli-tree.txt)."""
        base = datetime.datetime(2026, 11, 24, 10, 0, tzinfo=datetime.UTC)
        db = tmp_path / "promptrail.db"
        exporter = SqliteExporter(db)
        exporter.export(showcase_trace("0193a8c2-5e10-7d2a-9f3b-1c2d3e4f0000", base=base))
        later = base + datetime.timedelta(minutes=2)
        exporter.export(failing_trace("0193a8c4-0b7e-7c11-8a5d-9e8f7a6b5c4d", base=later))
        exporter.shutdown()
        _, text = run("show", "--db", str(db))
        assert "   └─ support/create-replacement tool" in text
        assert "✗ RateLimitError" in text
        DOCS.mkdir(exist_ok=True)
        (DOCS / "cli-tree.txt").write_text("$ promptrail show\n" + text, encoding="utf-8")


class TestTail:
    """``promptrail tail`` follows the store."""

    def test_prints_the_backlog_then_stops_after_max_polls(self, db_path: Path) -> None:
        """The last N stored traces are printed first; --max-polls ends the run."""
        status, text = run(
            "tail", "--db", str(db_path), "--last", "2", "--interval", "0.01", "--max-polls", "2"
        )
        assert status == 0
        assert [line.split()[1] for line in text.splitlines() if line.startswith("trace ")] == [
            "trace-err",
            "trace-new",
        ]

    def test_prints_new_traces_as_they_are_stored(
        self, db_path: Path, support_trace: Factory, failing_trace: Factory
    ) -> None:
        """A trace written while tail runs is printed once its root is stored, filters apply."""

        def write() -> None:
            time.sleep(0.3)
            store = SqliteStore(db_path)
            store.write(support_trace("live-1")[1:])
            time.sleep(0.2)
            store.write(support_trace("live-1")[:1] + failing_trace("live-2"))
            store.close()

        writer = threading.Thread(target=write)
        writer.start()
        try:
            status, text = run(
                "tail", "--db", str(db_path), "--last", "0", "--interval", "0.05",
                "--timeout", "1.5", "--path", "support",
            )  # fmt: skip
        finally:
            writer.join()
        assert status == 0
        assert text.startswith("trace live-1 ")
        assert "└─ support/draft-reply" in text
        assert "live-2" not in text

    def test_json_lines_for_scripts(self, db_path: Path, failing_trace: Factory) -> None:
        """With --json each new log is one JSON line."""
        store = SqliteStore(db_path)

        def write() -> None:
            time.sleep(0.2)
            store.write(failing_trace("live-j"))

        writer = threading.Thread(target=write)
        writer.start()
        try:
            _, text = run(
                "tail", "--db", str(db_path), "--json", "--last", "1", "--interval", "0.05",
                "--timeout", "1.0",
            )  # fmt: skip
        finally:
            writer.join()
        ids = [json.loads(line)["log_id"] for line in text.splitlines()]
        assert ids == ["trace-new", "trace-new-search", "trace-new-reply", "live-j", "live-j-llm"]

    def test_late_logs_and_full_details(self, db_path: Path, support_trace: Factory) -> None:
        """A log stored after its trace was printed is printed under a 'late in trace' line."""
        store = SqliteStore(db_path)
        root, search, reply = support_trace("live-l")

        def write() -> None:
            time.sleep(0.2)
            store.write([root, search])
            time.sleep(0.3)
            store.write([reply])

        writer = threading.Thread(target=write)
        writer.start()
        try:
            _, text = run(
                "tail", "--db", str(db_path), "--full", "--last", "0", "--interval", "0.05",
                "--timeout", "1.2",
            )  # fmt: skip
        finally:
            writer.join()
        assert 'inputs    {"question": "How do I reset my password?"}' in text
        assert "late in trace live-l:\n  support/draft-reply prompt" in text

    def test_waits_for_the_database_to_appear(
        self, tmp_path: Path, support_trace: Factory, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Before the app has run, tail waits for the store and then shows all of it."""
        db = tmp_path / "later.db"
        assert run("tail", "--db", str(db), "--interval", "0.01", "--max-polls", "2") == (0, "")
        assert f"waiting for {db} to be created" in capsys.readouterr().err

        def create() -> None:
            time.sleep(0.2)
            SqliteStore(db).write(support_trace("first"))

        writer = threading.Thread(target=create)
        writer.start()
        try:
            _, text = run("tail", "--db", str(db), "--interval", "0.05", "--timeout", "1.0")
        finally:
            writer.join()
        assert text.startswith("trace first ")

    def test_a_foreign_file_is_an_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A file that exists but is not a store is reported, not waited for."""
        path = tmp_path / "x.db"
        path.write_text("not sqlite")
        assert run("tail", "--db", str(path), "--max-polls", "1")[0] == 2
        assert "not a promptrail database" in capsys.readouterr().err

    def test_keyboard_interrupt_in_process_returns_0(self, db_path: Path) -> None:
        """Ctrl-C while printing ends tail with status 0."""

        class Interrupting(io.StringIO):
            def write(self, text: str) -> int:
                raise KeyboardInterrupt

        assert main(["tail", "--db", str(db_path), "--max-polls", "1"], Interrupting()) == 0

    @pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
    def test_ctrl_c_stops_cleanly(self, db_path: Path) -> None:
        """SIGINT ends tail with status 0 and no traceback."""
        code = (
            "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler);"
            "from promptrail.cli._main import main;"
            f"sys.exit(main(['tail', '--db', {str(db_path)!r}, '--last', '1',"
            " '--interval', '0.05']))"
        )
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        proc = subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()  # the backlog is printed: the loop is running
            assert first.startswith("trace trace-new ")
            time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
            _out, err = proc.communicate(timeout=8)
        finally:
            if proc.poll() is None:  # pragma: no cover - only when the test fails
                proc.kill()
        assert proc.returncode == 0
        assert "Traceback" not in err
        assert "KeyboardInterrupt" not in err


class TestStats:
    """``promptrail stats``: per-path figures over a window."""

    @pytest.fixture(name="latency_db")
    def fixture_latency_db(self, tmp_path: Path, support_trace: Factory) -> Path:
        """A store where support/draft-reply ran five times with 0.1 .. 0.5 s latencies."""
        db = tmp_path / "lat.db"
        store = SqliteStore(db)
        for i in range(5):
            _root, _search, reply = support_trace(f"t{i}")
            store.write([reply.model_copy(update={"provider_latency": 0.1 * (i + 1)})])
        store.write([reply.model_copy(update={"log_id": "x", "error": "E: boom"})])
        return db

    def test_table_per_path(self, db_path: Path) -> None:
        """Counts, errors, error rate, p50/p95/p99, tokens and cost per path, then a total."""
        status, text = run("stats", "--db", str(db_path))
        lines = text.splitlines()
        assert status == 0
        assert lines[0] == f"{db_path}  all time"
        assert lines[1].split() == [
            "path", "kind", "calls", "errors", "err%", "p50", "p95", "p99", "tokens", "in+out",
            "cost",
        ]  # fmt: skip
        rows = {line.split()[0]: line.split() for line in lines[2:]}
        assert rows["support/draft-reply"] == [
            "support/draft-reply", "prompt", "2", "0", "0.0%", "850ms", "850ms", "850ms",
            "840+76", "$0.000172",
        ]  # fmt: skip
        assert rows["billing/refund"][2:5] == ["1", "1", "100.0%"]
        assert rows["total"] == ["total", "8", "2", "25.0%", "840+76", "$0.000172"]

    def test_percentiles(self, latency_db: Path) -> None:
        """Latency percentiles interpolate between the measured calls."""
        _, text = run("stats", "--db", str(latency_db), "--json")
        (row,) = json.loads(text)["paths"]
        assert row["count"] == 6
        assert row["errors"] == 1
        # latencies 0.1 0.2 0.3 0.4 0.5 0.85: p50 halfway between 3rd and 4th, p95/p99 near the top
        assert row["p50"] == pytest.approx(0.35)
        assert row["p95"] == pytest.approx(0.5 + 0.35 * 0.75)
        assert row["p99"] == pytest.approx(0.5 + 0.35 * 0.95)

    def test_since_and_path_window(self, db_path: Path) -> None:
        """``--since`` and ``--path`` narrow the logs counted; JSON has the window and totals."""
        _, text = run("stats", "--db", str(db_path), "--since", "1h", "--path", "support", "--json")
        body = json.loads(text)
        assert body["since"].endswith("+00:00")
        assert [p["path"] for p in body["paths"]] == [
            "support/answer",
            "support/draft-reply",
            "support/search-docs",
        ]
        assert body["total"] == {
            "count": 3,
            "errors": 0,
            "error_rate": 0.0,
            "prompt_tokens": 420,
            "output_tokens": 38,
            "cost": pytest.approx(0.0000858),
        }
        _, text = run("stats", "--db", str(db_path), "--since", "2026-01-01")
        assert text.splitlines()[0] == f"{db_path}  since 2026-01-01 00:00:00 UTC"

    def test_empty_window(self, db_path: Path) -> None:
        """No logs in the window says so."""
        _, text = run("stats", "--db", str(db_path), "--since", "1s")
        assert text.splitlines()[1] == "no logs"
        _, text = run("stats", "--db", str(db_path), "--since", "1s", "--json")
        assert json.loads(text)["total"]["cost"] is None

    def test_error_rates_are_coloured_on_a_terminal(
        self, db_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A path with errors has its rate in red on a terminal."""
        monkeypatch.delenv("NO_COLOR", raising=False)
        _, text = run("stats", "--db", str(db_path), out=_Tty())
        assert "\x1b[31m100.0%\x1b[0m" in text
        assert "\x1b[32m  0.0%\x1b[0m" in text
