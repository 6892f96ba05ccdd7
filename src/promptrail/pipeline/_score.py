"""``promptrail.score()``: feedback on a log, recorded as an ``evaluator`` log judging it.

A score goes through the pipeline and the exporters like any log, so it reaches the same store
(or server) as the logs it judges, from any process: a thumbs-up endpoint needs only the judged
log's id (``promptrail.get_current_log_id()`` handed to the UI at the time of the call).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Any

from promptrail._record.models import LogRecord
from promptrail._runtime import errors as _errors
from promptrail._runtime.ids import next_seq
from promptrail._runtime.state import STATE
from promptrail._tracing.context import CURRENT
from promptrail.exceptions import ConfigurationError
from promptrail.pipeline._emit import emit_records

__all__ = ["COMMENT_KEY", "score"]

COMMENT_KEY = "comment"
"""Metadata key of a score's comment."""

_MAX_LABEL = 200
_MAX_COMMENT = 10_000


def _check(log_id: object, name: object, value: object, comment: object, source: object) -> None:
    if not isinstance(log_id, str) or not log_id:
        msg = f"score() needs the judged log's id (a non-empty string), not {log_id!r}"
        raise ConfigurationError(msg)
    if not isinstance(name, str) or not name:
        msg = f"score() needs a non-empty name, not {name!r}"
        raise ConfigurationError(msg)
    if isinstance(value, float) and not math.isfinite(value):
        msg = f"a score must be a finite number, not {value!r}"
        raise ConfigurationError(msg)
    if not isinstance(value, (bool, int, float, str)):
        msg = f"a score is a number, a bool or a label, not {value!r}"
        raise ConfigurationError(msg)
    if comment is not None and not isinstance(comment, str):
        msg = f"a score's comment must be a string, not {comment!r}"
        raise ConfigurationError(msg)
    if not isinstance(source, str) or not source:
        msg = f"a score's source must be a non-empty string, not {source!r}"
        raise ConfigurationError(msg)


def _trace_of(log_id: str) -> str:
    """The judged log's trace when it is in progress here; else its id (the store corrects it)."""
    log = CURRENT.get()
    while log is not None:
        if log.log_id == log_id:
            return log.trace_id
        log = log.parent
    return log_id


def score(
    log_id: str,
    name: str,
    value: bool | float | str,
    *,
    comment: str | None = None,
    source: str = "user",
) -> str | None:
    """Record a judgment of the log ``log_id``: a thumbs-up, a rating, a label.

    The score is an ``evaluator`` log (Humanloop's shape: ``parent_id`` is the judged log,
    ``judgment`` the value, ``path`` the score's name) sent through the pipeline like any log,
    so any process whose exporters reach the judged log's store can score it, long after the
    call. Stores file it in the judged log's trace, under the judged log.

    Args:
        log_id: The judged log (``promptrail.get_current_log_id()`` at the time of the call).
        name: What is judged (``"thumbs_up"``, ``"helpfulness"``).
        value: A number, a bool or a label.
        comment: Free text kept with the score (``metadata["comment"]``).
        source: Who judged: ``"user"`` (default), ``"human"``, ``"llm"``, ...

    Returns:
        The score's own log id, or ``None`` when promptrail is disabled.

    Raises:
        ConfigurationError: If an argument has the wrong type (a mistake in the calling code).

    .. versionadded:: 0.2.0
    """
    _check(log_id, name, value, comment, source)
    if not STATE.enabled:
        return None
    try:
        now_ns = time.time_ns()
        now = datetime.fromtimestamp(now_ns / 1e9, UTC)
        own_id = STATE.ids.format_id(now_ns, next_seq())
        redactor = STATE.settings.redactor
        metadata: dict[str, Any] = {}
        if comment is not None:
            metadata[COMMENT_KEY] = redactor.mask(comment[:_MAX_COMMENT])
        judgment = redactor.mask(value[:_MAX_LABEL]) if isinstance(value, str) else value
        record = LogRecord(
            log_id=own_id,
            path=name[:_MAX_LABEL],
            kind="evaluator",
            trace_id=_trace_of(log_id),
            trace_parent_id=log_id,
            parent_id=log_id,
            judgment=judgment,
            start_time=now,
            end_time=now,
            created_at=now,
            source=source[:_MAX_LABEL],
            environment=STATE.settings.environment,
            metadata=metadata,
        )
        emit_records([record])
    except Exception as exc:  # never raise into user code past the argument checks
        _errors.report("score", exc, "could not record a score", internal=True)
        return None
    return own_id
