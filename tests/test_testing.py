"""promptrail.testing: capture_logs and the pytest fixture."""

from __future__ import annotations

from datetime import UTC, datetime

import promptrail
from promptrail import LogRecord, log_prompt, trace
from promptrail.exporters import InMemoryExporter
from promptrail.testing import FixedClock, capture_logs


@log_prompt(path="support/answer", model="gpt-test")
def answer(question: str) -> str:
    """Answer."""
    return f"re: {question}"


class TestCaptureLogs:
    """capture_logs() gives deterministic, comparable records."""

    def test_whole_records_are_deterministic(self) -> None:
        """Ids and times are predictable, so whole dumps can be compared exactly."""
        with capture_logs() as logs, trace(path="support/flow", inputs={"q": "hi"}):
            answer("hi")
        assert [r.to_body() for r in logs] == [
            {
                "log_id": "log-0002",
                "path": "support/answer",
                "kind": "prompt",
                "trace_id": "log-0001",
                "trace_parent_id": "log-0001",
                "inputs": {"question": "hi"},
                "output": "re: hi",
                "prompt": {"model": "gpt-test"},
                "version_id": "pv_24c684c4580f26817e1b77cf196712e2",  # stable across processes
                "start_time": "2026-01-01T00:00:00.002000Z",
                "end_time": "2026-01-01T00:00:00.003000Z",
                "provider_latency": 0.001,
                "created_at": "2026-01-01T00:00:00.003000Z",
                "metadata": {},
                "save": True,
            },
            {
                "log_id": "log-0001",
                "path": "support/flow",
                "kind": "flow",
                "trace_id": "log-0001",
                "inputs": {"q": "hi"},
                "start_time": "2026-01-01T00:00:00Z",
                "end_time": "2026-01-01T00:00:00.004000Z",
                "provider_latency": 0.004,
                "created_at": "2026-01-01T00:00:00.004000Z",
                "metadata": {},
                "save": True,
            },
        ]

    def test_restores_the_previous_pipeline(self) -> None:
        """After the block, the configured exporters receive logs again."""
        memory = InMemoryExporter()
        promptrail.configure(processors=[promptrail.SimpleProcessor(memory)], enabled=False)
        with capture_logs() as logs:
            answer("inside")
        answer("outside")
        assert len(logs) == 1
        assert memory.records == []  # still disabled, as configured
        promptrail.configure(enabled=True)
        answer("enabled")
        assert [r.inputs["question"] for r in memory.records] == ["enabled"]

    def test_real_ids_when_not_deterministic(self) -> None:
        """deterministic=False keeps UUIDv7 ids and the real clock."""
        with capture_logs(deterministic=False) as logs:
            answer("x")
            answer("y")
        first, second = logs
        assert len(first.log_id) == 36
        assert first.log_id[14] == "7"
        assert first.log_id < second.log_id  # time-sortable
        assert abs((first.start_time - datetime.now(UTC)).total_seconds()) < 60

    def test_captures_everything_whatever_the_sample_rate(self) -> None:
        """capture_logs() collects every log even with sample_rate=0, and restores the rate."""
        promptrail.configure(sample_rate=0.0)
        with capture_logs() as logs:
            answer("sampled?")
        assert len(logs) == 1
        from promptrail._runtime.state import STATE

        assert STATE.sample_rate == 0.0

    def test_fixed_clock(self) -> None:
        """FixedClock advances by its step on every reading."""
        clock = FixedClock(start=datetime(2030, 1, 1, tzinfo=UTC), step=0.5)
        first = clock.wall_ns()
        assert clock.wall_ns() - first == 500_000_000
        assert clock.perf_ns() == 1_000_000_000


def test_pytest_fixture(capture_logs: list[LogRecord]) -> None:
    """The capture_logs fixture from the pytest11 entry point collects the test's records."""
    answer("fixture")
    assert [r.output for r in capture_logs] == ["re: fixture"]


class TestCaptureRestores:
    """capture_logs() leaves the global configuration as it found it."""

    def test_settings_changed_inside_are_undone(self) -> None:
        """keep_errors, sample_rate and the pipeline come back after the block."""
        from promptrail._runtime.state import STATE

        promptrail.configure(processors=[], keep_errors=True, sample_rate=0.5)
        before = (STATE.processors, STATE.keep_errors, STATE.sample_rate, STATE.settings)
        with capture_logs():
            promptrail.configure(keep_errors=False)
            assert STATE.keep_errors is False
        assert (STATE.processors, STATE.keep_errors, STATE.sample_rate, STATE.settings) == before
