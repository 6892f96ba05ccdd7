"""The pipeline: batch processor, configure/flush/shutdown/stats, exit and fork behaviour."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

import promptrail
from promptrail import BatchProcessor, LogRecord, SimpleProcessor, log_prompt
from promptrail._record import encode
from promptrail._runtime.state import STATE
from promptrail.exporters import (
    ExportResult,
    InMemoryExporter,
    JsonlExporter,
    SqliteExporter,
    SqliteStore,
)


@log_prompt(path="work")
def work(i: int) -> int:
    """Decorated at import time, before any configure()."""
    return i


class BlockingExporter(InMemoryExporter):
    """Blocks every export until released (a hung server)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.entered = threading.Event()

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        self.entered.set()
        self.release.wait(10)
        return super().export(records)


class RaisingExporter:
    """Raises on every export."""

    def __init__(self) -> None:
        self.calls = 0

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        self.calls += 1
        raise OSError("disk on fire")

    def force_flush(self, timeout: float = 30.0) -> bool:
        return True

    def shutdown(self) -> None:
        pass


class FailingExporter(RaisingExporter):
    """Returns FAILURE on every export."""

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        self.calls += 1
        return ExportResult.FAILURE


def run_python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter that imports this checkout's promptrail."""
    full_env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    full_env.pop("PYTEST_CURRENT_TEST", None)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestBatchProcessor:
    """Batching, flushing, dropping and shutting down."""

    def test_flush_exports_everything(self) -> None:
        """After flush() every call is exported and counted."""
        memory = InMemoryExporter()
        promptrail.configure(exporters=[memory])
        for i in range(1000):
            work(i)
        assert promptrail.flush(timeout=10)
        assert len(memory.records) == 1000
        stats = promptrail.stats()
        assert (stats.exported, stats.dropped, stats.failed, stats.queued) == (1000, 0, 0, 0)

    def test_flush_keeps_running(self) -> None:
        """flush() is not shutdown: logs after a flush are still exported."""
        memory = InMemoryExporter()
        promptrail.configure(exporters=[memory])
        work(1)
        assert promptrail.flush(timeout=10)
        work(2)
        assert promptrail.flush(timeout=10)
        assert [r.inputs["i"] for r in memory.records] == [1, 2]

    def test_full_queue_drops_oldest_and_counts_exactly(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """With the exporter stuck, a full queue drops the oldest; counts add up exactly."""
        exporter = BlockingExporter()
        promptrail.configure(
            processors=[
                BatchProcessor(exporter, max_queue_size=20, max_batch_size=5, schedule_delay=0.01)
            ]
        )
        work(-1)
        assert exporter.entered.wait(5)  # the worker is now stuck inside export
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            for i in range(100):
                work(i)
        exporter.release.set()
        assert promptrail.flush(timeout=10)
        stats = promptrail.stats()
        exported = [r.inputs["i"] for r in exporter.records]
        assert stats.exported == len(exported)
        assert stats.exported + stats.dropped == 101
        assert stats.dropped == 101 - len(exported) > 0
        assert exported[-20:] == list(range(80, 100))  # the newest survive
        assert "queue is full" in caplog.text

    def test_hung_exporter_does_not_block_calls(self) -> None:
        """A hanging exporter never stalls decorated calls; flush honours its timeout."""
        exporter = BlockingExporter()
        promptrail.configure(processors=[BatchProcessor(exporter, schedule_delay=0.01)])
        work(0)
        assert exporter.entered.wait(5)
        started = time.monotonic()
        for i in range(1000):
            work(i)
        assert time.monotonic() - started < 2
        started = time.monotonic()
        assert promptrail.flush(timeout=0.3) is False
        assert time.monotonic() - started < 2
        exporter.release.set()

    def test_raising_exporter_is_counted_and_logged_once(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An exporter that raises never reaches user code; failures are counted, logged once."""
        exporter = RaisingExporter()
        promptrail.configure(processors=[BatchProcessor(exporter, max_batch_size=1)])
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            for i in range(5):
                assert work(i) == i
            promptrail.flush(timeout=10)
        stats = promptrail.stats()
        assert stats.failed == 5
        assert stats.errors == {"export:RaisingExporter": 5}
        assert caplog.text.count("disk on fire") == 1

    def test_failing_exporter_is_counted(self) -> None:
        """ExportResult.FAILURE counts the batch as failed."""
        promptrail.configure(exporters=[FailingExporter()])
        work(1)
        promptrail.flush(timeout=10)
        assert promptrail.stats().failed == 1

    def test_shutdown_is_idempotent_and_counts_late_logs(self) -> None:
        """shutdown() twice is fine; logs ended after shutdown are counted as dropped."""
        memory = InMemoryExporter()
        processor = BatchProcessor(memory)
        promptrail.configure(processors=[processor])
        work(1)
        processor.shutdown(timeout=5)
        processor.shutdown(timeout=5)
        work(2)
        assert [r.inputs["i"] for r in memory.records] == [1]
        assert processor.stats()["dropped"] == 1
        assert processor.force_flush(1) is True

    def test_shutdown_with_hung_exporter_returns_in_time(self) -> None:
        """shutdown(timeout) returns within its timeout even if the exporter hangs."""
        exporter = BlockingExporter()
        promptrail.configure(processors=[BatchProcessor(exporter, schedule_delay=0.01)])
        work(1)
        assert exporter.entered.wait(5)
        work(2)
        started = time.monotonic()
        promptrail.shutdown(timeout=0.3)
        assert time.monotonic() - started < 2
        exporter.release.set()

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"max_queue_size": 0},
            {"max_batch_size": 0},
            {"max_queue_size": 5, "max_batch_size": 10},
            {"schedule_delay": 0},
        ],
    )
    def test_bad_sizes_are_rejected(self, kwargs: dict[str, float]) -> None:
        """Invalid sizes raise ConfigurationError at construction."""
        with pytest.raises(promptrail.ConfigurationError):
            BatchProcessor(InMemoryExporter(), **kwargs)  # type: ignore[arg-type]

    @pytest.mark.parametrize("processor", [BatchProcessor, SimpleProcessor])
    @pytest.mark.parametrize("exporter", [None, "traces.jsonl", JsonlExporter])
    def test_a_non_exporter_is_rejected(self, processor: Any, exporter: object) -> None:
        """None, a path or an exporter class raise ConfigurationError at construction."""
        with pytest.raises(promptrail.ConfigurationError, match="exporter"):
            processor(exporter)


class TestConfigure:
    """configure() is late-bound, validated, and replaces the pipeline without loss."""

    def test_late_configuration(self) -> None:
        """A function decorated at import logs to exporters configured later."""
        memory = InMemoryExporter()
        promptrail.configure(processors=[SimpleProcessor(memory)])
        work(5)
        assert [r.path for r in memory.records] == ["work"]

    def test_several_exporters_write_each_record_once(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A JSONL file and a SQLite store fed together get one serialisation per record."""
        written: list[str] = []
        dump = encode._dump_json

        def counting(record: LogRecord) -> bytes:
            written.append(record.log_id)
            return dump(record)

        monkeypatch.setattr(encode, "_dump_json", counting)
        jsonl = JsonlExporter(tmp_path / "x.jsonl")
        promptrail.configure(exporters=[jsonl, SqliteExporter(tmp_path / "x.db")])
        work(1)
        work(2)
        assert promptrail.flush(timeout=10)
        assert sorted(written) == sorted(set(written))
        assert len(written) == 2
        lines = jsonl.path.read_text().splitlines()
        stored = SqliteStore(tmp_path / "x.db", create=False)
        assert {json.loads(line)["log_id"] for line in lines} == set(written)
        assert stored.get(written[0]) is not None

    def test_reconfigure_flushes_the_old_pipeline(self) -> None:
        """A second configure() delivers what the first pipeline still held."""
        first, second = InMemoryExporter(), InMemoryExporter()
        promptrail.configure(exporters=[first])
        work(1)
        promptrail.configure(exporters=[second])
        work(2)
        promptrail.flush(timeout=10)
        assert [r.inputs["i"] for r in first.records] == [1]
        assert [r.inputs["i"] for r in second.records] == [2]
        assert promptrail.stats().exported == 2

    def test_reconfigure_keeps_an_exporter_the_new_pipeline_uses(self, tmp_path: Path) -> None:
        """configure() again with the same exporter (plus another) does not shut it down."""
        memory = InMemoryExporter()
        promptrail.configure(exporters=[memory])
        work(1)
        promptrail.configure(exporters=[memory, JsonlExporter(tmp_path / "x.jsonl")])
        work(2)
        assert promptrail.flush(timeout=10)
        assert [r.inputs["i"] for r in memory.records] == [1, 2]
        assert promptrail.stats().failed == 0

    def test_reconfigure_shuts_down_only_the_exporters_left_behind(self) -> None:
        """configure([A, B]) then configure([A]): B is shut down, A keeps working."""
        shut: list[str] = []

        class Named(InMemoryExporter):
            def __init__(self, name: str) -> None:
                super().__init__()
                self.name = name

            def shutdown(self) -> None:
                shut.append(self.name)
                super().shutdown()

        a, b = Named("a"), Named("b")
        promptrail.configure(exporters=[a, b])
        work(1)
        promptrail.configure(exporters=[a])
        work(2)
        assert promptrail.flush(timeout=10)
        assert shut == ["b"]
        assert [r.inputs["i"] for r in a.records] == [1, 2]
        assert [r.inputs["i"] for r in b.records] == [1]

    def test_shutdown_gives_up_on_a_stuck_export_and_counts_it(self) -> None:
        """A batch still in a hung export at the shutdown deadline is counted as dropped."""
        exporter = BlockingExporter()
        processor = BatchProcessor(exporter, schedule_delay=0.01)
        promptrail.configure(processors=[processor])
        for i in range(10):
            work(i)
        assert exporter.entered.wait(5)
        processor.shutdown(timeout=0.2)
        stats = processor.stats()
        assert stats["exported"] == 0
        assert stats["dropped"] == 10  # the stuck batch and whatever was still queued
        exporter.release.set()

    def test_fan_out_to_several_exporters(self, tmp_path: Path) -> None:
        """Several exporters each receive every record; one failing does not stop the others."""
        memory = InMemoryExporter()
        jsonl = JsonlExporter(tmp_path / "out.jsonl")
        promptrail.configure(exporters=[memory, RaisingExporter(), jsonl])
        work(1)
        promptrail.flush(timeout=10)
        assert len(memory.records) == 1
        assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1

    def test_environment_is_recorded(self) -> None:
        """configure(environment=...) is copied into records."""
        memory = InMemoryExporter()
        promptrail.configure(processors=[SimpleProcessor(memory)], environment="staging")
        work(1)
        assert memory.records[0].environment == "staging"

    def test_invalid_options(self) -> None:
        """Objects that are not exporters, and negative timeouts, are rejected."""
        with pytest.raises(promptrail.ConfigurationError, match="not an exporter"):
            promptrail.configure(exporters=[object()])  # type: ignore[list-item]
        with pytest.raises(promptrail.ConfigurationError, match="exit_timeout"):
            promptrail.configure(exit_timeout=-1)

    def test_a_single_exporter_is_rejected_with_a_hint(self) -> None:
        """An exporter passed without a list raises ConfigurationError asking for a list."""
        with pytest.raises(promptrail.ConfigurationError, match=r"exporters=\[InMemoryExporter"):
            promptrail.configure(exporters=InMemoryExporter())  # type: ignore[arg-type]
        with pytest.raises(promptrail.ConfigurationError, match="processors"):
            promptrail.configure(processors=SimpleProcessor(InMemoryExporter()))  # type: ignore[arg-type]
        with pytest.raises(promptrail.ConfigurationError, match="is a class"):
            promptrail.configure(exporters=[InMemoryExporter])  # type: ignore[list-item]

    @pytest.mark.parametrize(
        ("options", "name"),
        [
            ({"sample_rate": "0.5"}, "sample_rate"),
            ({"exit_timeout": "5"}, "exit_timeout"),
            ({"environment": 1}, "environment"),
            ({"enabled": "no"}, "enabled"),
            ({"flush_at_exit": 2}, "flush_at_exit"),
            ({"keep_errors": "yes"}, "keep_errors"),
            ({"capture_inputs": "x"}, "capture_inputs"),
            ({"capture_outputs": "1"}, "capture_outputs"),
            ({"capture_provider_payloads": "on"}, "capture_provider_payloads"),
            ({"handle_signals": "off"}, "handle_signals"),
            ({"redact": "yes"}, "redact"),
            ({"limits": {"max_string": 10}}, "limits"),
        ],
    )
    def test_an_option_of_the_wrong_type(self, options: dict[str, Any], name: str) -> None:
        """A wrong type raises ConfigurationError naming the option, and changes nothing."""
        memory = InMemoryExporter()
        promptrail.configure(processors=[SimpleProcessor(memory)])
        with pytest.raises(promptrail.ConfigurationError, match=name):
            promptrail.configure(**options)
        work(1)
        assert len(memory.records) == 1
        assert memory.records[0].environment is None

    def test_numbers_of_any_real_type_are_accepted(self) -> None:
        """A Fraction (or numpy's float) for sample_rate and exit_timeout works, stored as float."""
        promptrail.configure(exporters=[], sample_rate=Fraction(1, 1), exit_timeout=Fraction(5, 2))
        assert STATE.sample_rate == 1.0
        assert type(STATE.sample_rate) is float
        assert STATE.settings.exit_timeout == 2.5
        assert type(STATE.settings.exit_timeout) is float

    def test_flags_given_as_0_or_1_are_accepted(self) -> None:
        """0 and 1 mean False and True, as they did before option types were checked."""
        memory = InMemoryExporter()
        promptrail.configure(processors=[SimpleProcessor(memory)], capture_inputs=0)  # type: ignore[arg-type]
        promptrail.configure(redact=1)  # type: ignore[arg-type]
        work(1)
        promptrail.configure(enabled=0)  # type: ignore[arg-type]
        work(2)
        assert [record.inputs for record in memory.records] == [None]

    def test_default_store_without_configure(self, tmp_path: Path) -> None:
        """With no configure(), logs go to the SQLite file named by PROMPTRAIL_DB."""
        work(3)
        assert promptrail.flush(timeout=10)
        store = SqliteStore(tmp_path / "default.db", create=False)
        assert [r.inputs for r in store.logs()] == [{"i": 3}]

    def test_internal_errors_surface_under_pytest(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A bug while building a record is re-raised under pytest (not hidden)."""
        memory = InMemoryExporter()
        promptrail.configure(processors=[SimpleProcessor(memory)])
        monkeypatch.setattr(STATE, "ids", _BrokenIds())

        @log_prompt(path="bad")
        def bad() -> int:
            return 1

        with pytest.raises(ValueError, match="log_id"):
            bad()

    def test_internal_errors_are_swallowed_in_production(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Outside tests the same bug is counted and logged, and the call returns normally."""
        monkeypatch.delenv("PROMPTRAIL_RAISE_INTERNAL_ERRORS")
        memory = InMemoryExporter()
        promptrail.configure(processors=[SimpleProcessor(memory)])
        monkeypatch.setattr(STATE, "ids", _BrokenIds())

        @log_prompt(path="bad")
        def bad() -> int:
            return 1

        assert bad() == 1
        assert promptrail.stats().failed == 1
        assert promptrail.stats().errors == {"build": 1}


class _BrokenIds:
    """An id generator with a bug: its ids are not strings, so no record can be built."""

    def format_id(self, start_ns: int, seq: int) -> Any:
        return seq


class TestProcessLifecycle:
    """Exit and fork."""

    def test_exit_flushes_the_queue(self, tmp_path: Path) -> None:
        """Records still queued at interpreter exit reach the JSONL file."""
        result = run_python(
            """
            import promptrail
            from promptrail.exporters import JsonlExporter
            promptrail.configure(exporters=[JsonlExporter("out.jsonl")])
            f = promptrail.log_prompt(path="exit")(lambda i: i)
            for i in range(500):
                f(i)
            """,
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        lines = (tmp_path / "out.jsonl").read_text().splitlines()
        assert sorted(json.loads(line)["inputs"]["i"] for line in lines) == list(range(500))

    def test_exit_flush_can_be_turned_off(self, tmp_path: Path) -> None:
        """PROMPTRAIL_FLUSH_AT_EXIT=0 exits at once without draining."""
        result = run_python(
            """
            import promptrail
            from promptrail.exporters import JsonlExporter
            promptrail.configure(exporters=[JsonlExporter("out.jsonl")])
            f = promptrail.log_prompt(path="exit")(lambda i: i)
            f(1)
            """,
            tmp_path,
            PROMPTRAIL_FLUSH_AT_EXIT="0",
        )
        assert result.returncode == 0, result.stderr
        assert not (tmp_path / "out.jsonl").exists()

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
    def test_fork_child_has_a_working_pipeline(self, tmp_path: Path) -> None:
        """A forked child exports its own logs; the parent's pending logs are not duplicated."""
        result = run_python(
            """
            import os, json, promptrail
            from promptrail.exporters import JsonlExporter
            promptrail.configure(exporters=[JsonlExporter("out.jsonl")])
            f = promptrail.log_prompt(path="fork")(lambda who: who)
            f("parent-before")           # pending in the parent's queue at fork time
            pid = os.fork()
            if pid == 0:
                f("child")
                ok = promptrail.flush(timeout=10)
                os._exit(0 if ok else 3)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
            f("parent-after")
            assert promptrail.flush(timeout=10)
            """,
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
        whos = sorted(x["inputs"]["who"] for x in lines)
        assert whos == ["child", "parent-after", "parent-before"]
        assert len({x["log_id"] for x in lines}) == 3
