"""Read-side helpers shared by the terminal viewer and the web page: time windows and statistics.

``parse_since("1h")`` turns what a user types into the ISO time the store filters on;
``path_stats(store.log_summaries(...))`` folds logs into per-path counts, error rates, latency
percentiles, tokens and cost.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from promptrail.stores._sqlite import LogSummary

__all__ = ["PathStats", "parse_since", "path_stats", "percentile"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_since(text: str, *, now: datetime.datetime | None = None) -> str:
    """Return the UTC ISO time meant by ``text``: a duration ago (``30m``, ``1h``) or a date.

    Durations are a number and a unit: ``s``, ``m``, ``h``, ``d`` or ``w`` (``90s``, ``2d``).

    A date or time without a zone is taken as UTC (``2026-11-24``, ``2026-11-24T10:00``,
    ``2026-11-24 10:00:00+01:00``). The result compares correctly with stored ``start_time``s.

    Raises:
        ValueError: ``text`` is neither a duration nor an ISO date/time.

    .. versionadded:: 0.1.0
    """
    match = _RELATIVE.match(text)
    if match:
        now = now or datetime.datetime.now(datetime.UTC)
        seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
        try:
            moment = now - datetime.timedelta(seconds=seconds)
        except (OverflowError, ValueError):
            msg = f"duration too long: {text!r} (the earliest time is year 1)"
            raise ValueError(msg) from None
    else:
        try:
            moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            msg = f"not a time or duration: {text!r} (try 30m, 1h, 2d or 2026-11-24T10:00)"
            raise ValueError(msg) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
    try:
        return moment.astimezone(datetime.UTC).isoformat()
    except (OverflowError, ValueError):
        msg = f"time out of range: {text!r} (it falls before year 1 or after year 9999 in UTC)"
        raise ValueError(msg) from None


def percentile(sorted_values: Sequence[float], pct: float) -> float | None:
    """Return the ``pct`` percentile of ascending ``sorted_values`` (linear interpolation).

    ``None`` for no values; the one value for one.

    .. versionadded:: 0.1.0
    """
    if not sorted_values:
        return None
    rank = pct / 100 * (len(sorted_values) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


@dataclass
class PathStats:
    """Totals for one path over a time window.

    .. versionadded:: 0.1.0
    """

    path: str
    kind: str
    count: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    latencies: list[float] = field(default_factory=list, repr=False)

    @property
    def error_rate(self) -> float:
        """Errors over calls, 0.0 to 1.0."""
        return self.errors / self.count if self.count else 0.0

    def latency(self, pct: float) -> float | None:
        """Return the ``pct`` latency percentile in seconds (``None`` when none was measured)."""
        return percentile(sorted(self.latencies), pct)

    def to_dict(self) -> dict[str, object]:
        """Return the figures as JSON-ready values (latencies in seconds)."""
        return {
            "path": self.path,
            "kind": self.kind,
            "count": self.count,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "p50": self.latency(50),
            "p95": self.latency(95),
            "p99": self.latency(99),
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "cost": self.cost,
        }


def path_stats(logs: Iterable[LogSummary]) -> list[PathStats]:
    """Fold logs into one :class:`PathStats` per path, busiest path first.

    .. versionadded:: 0.1.0
    """
    by_path: dict[str, PathStats] = {}
    for log in logs:
        stats = by_path.get(log.path)
        if stats is None:
            stats = by_path[log.path] = PathStats(log.path, log.kind)
        stats.count += 1
        stats.errors += log.error is not None
        stats.prompt_tokens += log.prompt_tokens or 0
        stats.output_tokens += log.output_tokens or 0
        if log.cost is not None:
            stats.cost = (stats.cost or 0.0) + log.cost
        if log.latency is not None:
            stats.latencies.append(log.latency)
    return sorted(by_path.values(), key=lambda s: (-s.count, s.path))
