"""Exporters and processors that raise, fail, hang or are slow never break or stall the app."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence

import pytest

import promptrail
from promptrail import ActiveLog, BaseProcessor, BatchProcessor, LogRecord, SimpleProcessor
from promptrail._runtime import errors as _errors
from promptrail.exporters import ExportResult, InMemoryExporter


@promptrail.log_tool(path="work")
def work(i: int) -> int:
    """A decorated call with a result."""
    return i * 2


class RaisingExporter:
    """Raises from every method."""

    def __init__(self) -> None:
        self.calls = 0

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        self.calls += 1
        raise RuntimeError("disk on fire")

    def force_flush(self, timeout: float = 30.0) -> bool:
        raise RuntimeError("flush on fire")

    def shutdown(self) -> None:
        raise RuntimeError("shutdown on fire")


class FailingExporter(InMemoryExporter):
    """Returns FAILURE for every batch (and counts what it was given)."""

    def __init__(self) -> None:
        super().__init__()
        self.given = 0

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        self.given += len(records)
        return ExportResult.FAILURE


class HangingExporter:
    """Blocks in export() until released; remembers how many records it was handed."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.in_flight = 0

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        self.in_flight += len(records)
        self.entered.set()
        self.release.wait(20)
        return ExportResult.SUCCESS

    def force_flush(self, timeout: float = 30.0) -> bool:
        return True

    def shutdown(self) -> None:
        self.release.set()


class SlowExporter(InMemoryExporter):
    """Takes 5 ms per batch: slower than a tight loop of decorated calls."""

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        time.sleep(0.005)
        return super().export(records)


@pytest.fixture(name="hanging")
def fixture_hanging() -> Iterator[HangingExporter]:
    """A hanging exporter that is always released at the end of the test."""
    exporter = HangingExporter()
    yield exporter
    exporter.release.set()


def warnings_about(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    """The promptrail log lines containing ``text``."""
    return [
        r.getMessage() for r in caplog.records if r.name == "promptrail" and text in r.getMessage()
    ]


class TestRaisingExporter:
    """An exporter that raises."""

    def test_calls_succeed_and_failures_are_counted_and_logged_once(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Every call returns normally; each record counts as failed; one log line per kind."""
        exporter = RaisingExporter()
        promptrail.configure(processors=[SimpleProcessor(exporter)])
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            assert [work(i) for i in range(50)] == [i * 2 for i in range(50)]
            assert promptrail.flush(1.0) is False
            stats = promptrail.stats()
            promptrail.shutdown(1.0)
        assert exporter.calls == 50
        assert stats.failed == 50
        assert stats.exported == 0
        assert stats.errors["export:RaisingExporter"] == 50
        assert len(warnings_about(caplog, "RaisingExporter.export raised")) == 1
        assert len(warnings_about(caplog, "RaisingExporter.force_flush raised")) == 1
        assert len(warnings_about(caplog, "RaisingExporter.shutdown raised")) == 1

    def test_batch_worker_survives(self) -> None:
        """Behind a BatchProcessor the worker keeps going: later batches are still attempted."""
        exporter = RaisingExporter()
        promptrail.configure(exporters=[exporter])
        for i in range(10):
            work(i)
        promptrail.flush(2.0)
        first = exporter.calls
        for i in range(10):
            work(i)
        promptrail.flush(2.0)
        assert first >= 1
        assert exporter.calls > first
        assert promptrail.stats().failed == 20


class UnprintableError(Exception):
    """An exception whose ``__str__`` raises ``SystemExit``."""

    def __str__(self) -> str:
        raise SystemExit(9)


class UnprintableExporter(RaisingExporter):
    """Raises an exception that cannot be printed."""

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        raise UnprintableError


class UnprintableProcessor(BaseProcessor):
    """A processor whose ``on_end`` raises an exception that cannot be printed."""

    def on_end(self, log: ActiveLog) -> None:
        raise UnprintableError


class TestUnprintableErrors:
    """A user part's exception whose ``__str__`` raises is reported, never raised."""

    def test_from_an_exporter(self, caplog: pytest.LogCaptureFixture) -> None:
        """The call returns; the record counts as failed; the log line says it is unprintable."""
        promptrail.configure(processors=[SimpleProcessor(UnprintableExporter())])
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            assert work(2) == 4
        assert promptrail.stats().failed == 1
        assert warnings_about(caplog, "UnprintableError: <unprintable>")

    def test_from_a_processor(self) -> None:
        """A processor's ``on_end`` raising it does not reach the call either."""
        promptrail.configure(processors=[UnprintableProcessor()])
        assert work(3) == 6
        assert promptrail.stats().errors == {"on_end:UnprintableProcessor": 1}


class TestErrorLogRateLimit:
    """Repeated failures of one kind: logged once, then at most once per interval, with a count."""

    def test_repeats_are_counted_in_the_next_line(
        self, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Within the interval repeats are silent; the next line says how many were skipped."""
        monkeypatch.setattr(_errors, "_REPEAT_INTERVAL", 0.2)
        promptrail.configure(processors=[SimpleProcessor(RaisingExporter())])
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            for i in range(10):
                work(i)
            time.sleep(0.25)
            work(10)
        lines = warnings_about(caplog, "RaisingExporter.export raised")
        assert len(lines) == 2
        assert "more times" not in lines[0]
        assert lines[1].endswith("(and 9 more times since last reported)")
        assert promptrail.stats().errors["export:RaisingExporter"] == 11


class TestFailingExporter:
    """An exporter that returns ExportResult.FAILURE."""

    def test_failures_are_counted_not_raised(self, caplog: pytest.LogCaptureFixture) -> None:
        """Calls succeed; the records count as failed, never as exported; one log line."""
        exporter = FailingExporter()
        promptrail.configure(exporters=[exporter])
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            for i in range(100):
                work(i)
            promptrail.flush(2.0)
        stats = promptrail.stats()
        assert exporter.given == 100
        assert (stats.exported, stats.failed, stats.dropped) == (0, 100, 0)
        assert len(warnings_about(caplog, "FailingExporter.export returned")) == 1


class TestFanOut:
    """Several exporters behind one BatchProcessor (``configure(exporters=[a, b, c])``)."""

    def test_each_failing_exporter_is_named_and_the_others_get_everything(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """FAILURE and raise are both reported as ``export:<name>``; a record is exported only
        when every exporter accepted it."""
        memory, failing, raising = InMemoryExporter(), FailingExporter(), RaisingExporter()
        promptrail.configure(exporters=[memory, failing, raising])
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            for i in range(40):
                work(i)
            promptrail.flush(2.0)
        stats = promptrail.stats()
        assert len(memory.records) == failing.given == 40
        assert (stats.exported, stats.failed, stats.dropped) == (0, 40, 0)
        exports = {kind for kind in stats.errors if kind.startswith("export:")}
        assert exports == {"export:FailingExporter", "export:RaisingExporter"}
        assert stats.errors["export:FailingExporter"] == raising.calls >= 1
        assert stats.errors["export:RaisingExporter"] == raising.calls
        assert len(warnings_about(caplog, "FailingExporter.export returned")) == 1
        assert len(warnings_about(caplog, "RaisingExporter.export raised")) == 1
        assert not warnings_about(caplog, "_FanOut")

    def test_all_accepting_counts_exported(self) -> None:
        """When every exporter accepts, every record counts once as exported, none failed."""
        first, second = InMemoryExporter(), InMemoryExporter()
        promptrail.configure(exporters=[first, second])
        for i in range(25):
            work(i)
        assert promptrail.flush(2.0)
        stats = promptrail.stats()
        assert (stats.exported, stats.failed, stats.errors) == (25, 0, {})
        assert len(first.records) == len(second.records) == 25


class TestRaisingProcessor:
    """A processor whose on_start/on_end raise."""

    def test_other_processors_still_receive_every_log(self) -> None:
        """A broken processor is skipped and counted; the next one sees every log."""

        class Broken(BaseProcessor):
            def on_start(self, log: ActiveLog) -> None:
                raise ValueError("start")

            def on_end(self, log: ActiveLog) -> None:
                raise ValueError("end")

        memory = InMemoryExporter()
        promptrail.configure(processors=[Broken(), SimpleProcessor(memory)])
        assert [work(i) for i in range(5)] == [0, 2, 4, 6, 8]
        assert len(memory.records) == 5
        errors = promptrail.stats().errors
        assert errors["on_start:Broken"] == 5
        assert errors["on_end:Broken"] == 5


class TestHangingExporter:
    """An exporter that never returns."""

    def test_calls_are_not_stalled_and_drops_are_counted_exactly(
        self, hanging: HangingExporter
    ) -> None:
        """With the worker stuck, the queue fills and drops the oldest; every call is accounted."""
        processor = BatchProcessor(
            hanging, max_queue_size=100, max_batch_size=10, schedule_delay=0.01
        )
        promptrail.configure(processors=[processor])
        work(0)
        assert hanging.entered.wait(5)  # the worker is now stuck inside export()
        started = time.perf_counter()
        for i in range(1, 2000):
            work(i)
        elapsed = time.perf_counter() - started
        stats = processor.stats()
        assert elapsed < 2.0
        assert stats["queued"] == 100
        assert stats["exported"] == 0
        assert stats["dropped"] == 2000 - 100 - hanging.in_flight
        assert stats["dropped"] + stats["queued"] + hanging.in_flight == 2000

    def test_flush_and_shutdown_honour_their_timeouts(self, hanging: HangingExporter) -> None:
        """flush(0.3) returns False after about 0.3 s; shutdown(0.3) returns about as fast."""
        promptrail.configure(exporters=[hanging])
        for i in range(20):
            work(i)
        started = time.perf_counter()
        assert promptrail.flush(0.3) is False
        flushed = time.perf_counter() - started
        started = time.perf_counter()
        promptrail.shutdown(0.3)
        shut = time.perf_counter() - started
        assert 0.25 <= flushed < 1.5
        assert shut < 1.5
        # shutdown() shuts the exporter down, which here ends the hang: the stuck batch may
        # finish as exported; otherwise it is counted as dropped. Never both, never neither.
        stats = promptrail.stats()
        assert stats.exported + stats.dropped == 20

    def test_shutdown_reports_the_drops_in_one_warning(
        self, hanging: HangingExporter, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Logs queued or stuck in the hung export when shutdown gives up are dropped, reported."""
        processor = BatchProcessor(hanging, max_queue_size=50, max_batch_size=5)
        promptrail.configure(processors=[processor])
        work(0)
        assert hanging.entered.wait(5)
        for i in range(30):
            work(i)
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            promptrail.shutdown(0.2)
        (line,) = warnings_about(caplog, "shut down with")
        # the 30 still queued, and work(0), stuck in the hung export
        assert "31 records dropped (30 still queued at the deadline)" in line
        # shutdown() also shuts the exporter down, which may let the stuck export finish:
        # then work(0) counts as exported instead. Either way every log is accounted for.
        stats = promptrail.stats()
        assert stats.dropped >= 30
        assert stats.dropped + stats.exported == 31


class TestSlowExporter:
    """An exporter slower than the producer."""

    def test_drops_counted_exactly(self) -> None:
        """exported + dropped == calls, and the exporter holds exactly the exported records."""
        exporter = SlowExporter()
        processor = BatchProcessor(
            exporter, max_queue_size=64, max_batch_size=16, schedule_delay=0.01
        )
        promptrail.configure(processors=[processor])
        calls = 5000
        for i in range(calls):
            work(i)
        assert promptrail.flush(5.0) is True
        stats = promptrail.stats()
        assert stats.dropped > 0
        assert stats.failed == 0
        assert stats.exported + stats.dropped == calls
        assert len(exporter.records) == stats.exported
        # The newest logs survive: the queue drops the oldest.
        assert exporter.records[-1].inputs == {"i": calls - 1}
