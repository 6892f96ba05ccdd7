"""Time windows and statistics shared by the CLI and the web page."""

from __future__ import annotations

import datetime

import pytest

from promptrail.stores._query import parse_since, path_stats, percentile
from promptrail.stores._sqlite import LogSummary

NOW = datetime.datetime(2026, 11, 24, 12, 0, tzinfo=datetime.UTC)


class TestParseSince:
    """``parse_since`` turns durations and dates into UTC ISO times."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("30s", "2026-11-24T11:59:30+00:00"),
            ("15m", "2026-11-24T11:45:00+00:00"),
            ("1h", "2026-11-24T11:00:00+00:00"),
            ("1.5h", "2026-11-24T10:30:00+00:00"),
            ("2d", "2026-11-22T12:00:00+00:00"),
            ("1w", "2026-11-17T12:00:00+00:00"),
            (" 2H ", "2026-11-24T10:00:00+00:00"),
        ],
    )
    def test_durations_count_back_from_now(self, text: str, expected: str) -> None:
        """A number and a unit means that long before now."""
        assert parse_since(text, now=NOW) == expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2026-11-24", "2026-11-24T00:00:00+00:00"),
            ("2026-11-24T10:00", "2026-11-24T10:00:00+00:00"),
            ("2026-11-24T10:00:00Z", "2026-11-24T10:00:00+00:00"),
            ("2026-11-24 10:00:00+01:00", "2026-11-24T09:00:00+00:00"),
        ],
    )
    def test_dates_are_utc(self, text: str, expected: str) -> None:
        """An ISO date without a zone is UTC; one with a zone is converted to UTC."""
        assert parse_since(text) == expected

    def test_defaults_to_the_current_time(self) -> None:
        """Without ``now``, a duration counts back from the real clock."""
        before = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
        since = datetime.datetime.fromisoformat(parse_since("1h"))
        assert abs((since - before).total_seconds()) < 5

    @pytest.mark.parametrize("text", ["yesterday", "5x", "", "h1"])
    def test_rejects_anything_else(self, text: str) -> None:
        """Unknown text raises ValueError with the accepted forms."""
        with pytest.raises(ValueError, match="try 30m"):
            parse_since(text)


class TestPercentile:
    """``percentile`` interpolates linearly between ranks."""

    def test_interpolates(self) -> None:
        """p50 of 1..5 is 3; p95 and p99 fall between the last two values."""
        values = [1.0, 2.0, 3.0, 4.0, 5.0]
        assert percentile(values, 50) == 3.0
        assert percentile(values, 95) == pytest.approx(4.8)
        assert percentile(values, 99) == pytest.approx(4.96)
        assert percentile(values, 0) == 1.0
        assert percentile(values, 100) == 5.0

    def test_edge_cases(self) -> None:
        """No values give None; one value is every percentile."""
        assert percentile([], 50) is None
        assert percentile([0.7], 99) == 0.7


class TestPathStats:
    """``path_stats`` folds logs into per-path figures."""

    def test_folds_counts_errors_tokens_cost_and_latencies(self) -> None:
        """Each path gets its count, errors, token and cost sums and latency percentiles."""
        logs = [
            LogSummary("a", "prompt", 0.1, None, 10, 2, 0.5),
            LogSummary("a", "prompt", 0.3, "E: x", 5, None, None),
            LogSummary("a", "prompt", None, None, None, None, 0.25),
            LogSummary("b", "tool", 0.2, None, None, None, None),
        ]
        a, b = path_stats(logs)
        assert (a.path, a.count, a.errors, a.prompt_tokens, a.output_tokens) == ("a", 3, 1, 15, 2)
        assert a.cost == pytest.approx(0.75)
        assert a.error_rate == pytest.approx(1 / 3)
        assert a.latency(50) == pytest.approx(0.2)
        assert (b.path, b.kind, b.cost, b.error_rate) == ("b", "tool", None, 0.0)
        assert b.to_dict() == {
            "path": "b",
            "kind": "tool",
            "count": 1,
            "errors": 0,
            "error_rate": 0.0,
            "p50": 0.2,
            "p95": 0.2,
            "p99": 0.2,
            "prompt_tokens": 0,
            "output_tokens": 0,
            "cost": None,
        }

    def test_busiest_path_first(self) -> None:
        """Paths are ordered by count, then name."""
        logs = [LogSummary(p, "prompt", None, None, None, None, None) for p in "cbbab"]
        assert [s.path for s in path_stats(logs)] == ["b", "a", "c"]
        assert path_stats([]) == []
