"""The trace header's duration is the trace's whole span."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from promptrail._record.models import LogRecord
from promptrail.cli._viewer import render_trace

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _log(log_id: str, parent: str | None, start: float, seconds: float) -> LogRecord:
    begin = T0 + timedelta(seconds=start)
    return LogRecord(
        log_id=log_id,
        path=log_id,
        kind="flow" if parent is None else "prompt",
        trace_id="root",
        trace_parent_id=parent,
        start_time=begin,
        end_time=begin + timedelta(seconds=seconds),
        provider_latency=seconds,
        created_at=begin,
    )


def test_a_child_streaming_past_its_root_lengthens_the_header() -> None:
    """A root that returned after 1 s with a stream read for 5 s more shows 6.00s, not 1.00s."""
    records = [_log("root", None, 0.0, 1.0), _log("stream", "root", 0.5, 5.5)]
    header = render_trace(records)[0]
    assert "6.00s" in header
    assert "1.00s" not in header
