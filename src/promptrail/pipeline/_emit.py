"""Feeding logs that finished outside promptrail's decorators into the pipeline.

An :class:`ExternalLog` is an :class:`ActiveLog` that is already ended and whose record is built
by a callback (in the worker, like any record): an OpenTelemetry span turned into a log, an
imported record. :func:`emit` hands such logs to every processor's ``on_end``, exactly as a
decorated call's end does, so the configured exporters (batching, counting, stats) apply
unchanged. Processors that pair ``on_start`` with ``on_end`` (the OTel bridge) never saw these
logs start and ignore them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from promptrail._record.models import LogKind, LogRecord
from promptrail._runtime.ids import next_seq
from promptrail._runtime.state import STATE, Settings
from promptrail._tracing.active import ActiveLog
from promptrail._tracing.lifecycle import dispatch
from promptrail._tracing.spec import CallSpec
from promptrail.pipeline._configure import ensure_processors

__all__ = ["ExternalLog", "emit", "emit_records"]


class ExternalLog(ActiveLog):
    """An ended log made elsewhere: fixed ids, and a callback that builds its record.

    Args:
        path: The log's path.
        kind: ``"prompt"``, ``"tool"`` or ``"flow"``.
        log_id: Its id.
        trace_id: The id of its root log.
        trace_parent_id: The id of its parent log, if any.
        start_ns: Start time, Unix nanoseconds.
        build: Called with the settings (in the export worker) to build the record.
        error: The error text, when the work failed (for processors that look at it).
    """

    __slots__ = ("_build", "_ext_parent_id", "_ext_trace_id")

    def __init__(
        self,
        *,
        path: str,
        kind: LogKind,
        log_id: str,
        trace_id: str,
        trace_parent_id: str | None,
        start_ns: int,
        build: Callable[[Settings], LogRecord],
        error: str | None = None,
    ) -> None:
        super().__init__(
            CallSpec(path=path, kind=kind, signature=None), None, next_seq(), start_ns, 0
        )
        self._id = log_id
        self._ext_trace_id = trace_id
        self._ext_parent_id = trace_parent_id
        self._build = build
        self.error = error
        self.perf_end = 0  # ended (its record comes from ``build``)

    @property
    def trace_id(self) -> str:
        """The id of the root log of this tree."""
        return self._ext_trace_id

    @property
    def trace_parent_id(self) -> str | None:
        """The id of the enclosing log, if any."""
        return self._ext_parent_id

    def to_record(self, settings: Settings) -> LogRecord:
        """Build the record with the callback."""
        return self._build(settings)


def emit(logs: Iterable[ActiveLog]) -> None:
    """Hand ended logs to every processor's ``on_end`` (building the default pipeline if needed).

    Does nothing while promptrail is disabled. Never raises: a failing processor is reported.
    """
    st = STATE
    if not st.enabled:
        return
    if st.processors is None:
        ensure_processors()
    for log in logs:
        dispatch(st, log)


def emit_records(records: Iterable[LogRecord]) -> None:
    """Feed ready-made records to the pipeline's processors (and so to its exporters)."""
    emit(_ready(record) for record in records)


def _ready(record: LogRecord) -> ExternalLog:
    start_ns = int(record.start_time.timestamp() * 1_000_000) * 1000
    return ExternalLog(
        path=record.path,
        kind=record.kind,
        log_id=record.log_id,
        trace_id=record.trace_id,
        trace_parent_id=record.trace_parent_id,
        start_ns=start_ns,
        build=lambda _settings: record,
        error=record.error,
    )
