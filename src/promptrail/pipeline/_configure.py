"""``configure()``, ``flush()``, ``shutdown()`` and ``stats()``: the global pipeline.

Fan-out is a copy-on-write tuple of processors in ``STATE``. Replacing the
pipeline (a second ``configure()``) shuts the old processors down after the new ones are in place,
so no log is lost in between. An ``atexit`` hook shuts the pipeline down within
``Settings.exit_timeout`` seconds unless ``flush_at_exit=False`` (or
``PROMPTRAIL_FLUSH_AT_EXIT=0``).
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from promptrail._record.encode import written_once
from promptrail._record.models import LogRecord
from promptrail._runtime import errors as _errors
from promptrail._runtime.limits import Limits
from promptrail._runtime.locks import relock_after_fork
from promptrail._runtime.redaction import Redactor
from promptrail._runtime.signals import on_signal, watch_blocked_main_thread
from promptrail._runtime.state import STATE, env_flag
from promptrail._tracing import sampling as _sampling
from promptrail._tracing.context import Scope
from promptrail._tracing.lifecycle import UNROUTED, run_deferred
from promptrail._tracing.tool_calls import TOOL_CALLS
from promptrail.exporters._base import Exporter, ExportResult
from promptrail.exporters._sqlite import SqliteExporter
from promptrail.pipeline._batch import BatchProcessor
from promptrail.pipeline._options import check_options
from promptrail.pipeline._processors import (
    BaseProcessor,
    Processor,
    flush_exporter,
    shutdown_exporter,
)

__all__ = ["Stats", "configure", "flush", "shutdown", "stats"]

_lock = threading.RLock()
_retired = {"exported": 0, "dropped": 0, "failed": 0}

_retired_exporters: dict[str, dict[str, int]] = {}

_unrouted_at_reset = [0]  # UNROUTED's value at the last reset_counts()


@dataclasses.dataclass(frozen=True)
class Stats:
    """Counts of what happened to finished logs since the process started (or the last reset).

    Attributes:
        exported: Records the exporters accepted. With several exporters
            (``configure(exporters=[a, b])``) a record counts as exported only when every one
            of them accepted it, and as failed otherwise (even if the others wrote it); the
            failing exporter is named in ``errors`` (``export:<ExporterName>``).
        dropped: Logs dropped because a queue was full or the pipeline was shut down.
        failed: Records an exporter rejected or raised on, or that could not be built.
        queued: Logs waiting in a queue now.
        sampled_out: Logs of traces dropped by sampling (``configure(sample_rate=...)``).
        errors: Internal failures by kind (``export:JsonlExporter``, ``build``, ...).
        spooled: Records waiting in an exporter's spool now (``HttpExporter``: written to disk,
            re-sent when the server takes them, by this process or the next run). They count
            as exported: handed over durably, not lost.
        exporters: Each exporter's own counts by class name (``HttpExporter``: ``delivered``,
            ``rejected``, ``spooled``, ``resent``, ``dead_lettered``, ``pending``...).

    .. versionadded:: 0.1.0
    """

    exported: int
    dropped: int
    failed: int
    queued: int
    sampled_out: int
    errors: dict[str, int]
    spooled: int = 0
    exporters: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)


def _install(processors: tuple[Processor, ...]) -> tuple[Processor, ...]:
    """Make ``processors`` the pipeline; return the ones it replaces."""
    old = STATE.processors or ()
    TOOL_CALLS.clear()  # ids may start again (deterministic ones in tests)
    STATE.processors = processors
    STATE.starters = tuple(p for p in processors if _overrides_on_start(p))
    STATE.refresh_slow_start()
    STATE.enders = processors
    STATE.sink = (
        processors[0] if len(processors) == 1 and type(processors[0]) is BatchProcessor else None
    )
    STATE.scopes = tuple(
        cast("Scope", p) for p in processors if hasattr(p, "attach") and hasattr(p, "detach")
    )
    return old


def _overrides_on_start(processor: Processor) -> bool:
    on_start = getattr(type(processor), "on_start", None)
    return on_start is not BaseProcessor.on_start


def _exporters_of(processor: object) -> list[object]:
    exporter = getattr(processor, "exporter", None)
    if exporter is None:
        return []
    return list(exporter.exporters) if isinstance(exporter, _FanOut) else [exporter]


def _retire(
    processors: Iterable[Processor], timeout: float, *, keep: Iterable[Processor] = ()
) -> None:
    """Shut ``processors`` down within ``timeout`` seconds in all; fold their counts in.

    Exporters that a processor in ``keep`` (the new pipeline) also uses are left running.
    """
    kept = {id(e) for p in keep for e in _exporters_of(p)}
    deadline = time.monotonic() + timeout
    for processor in processors:
        release = getattr(processor, "release_exporter", None)
        own = _exporters_of(processor)
        orphans: list[Any] = []
        if release is not None and any(id(e) in kept for e in own):
            release()
            orphans = [e for e in own if id(e) not in kept]  # shut these down one by one
        if hasattr(processor, "_late"):
            # Its logs after shutdown: counted with the unrouted ones. Set before shutdown, so
            # that no late log is counted in its own counts after they are read below.
            cast("Any", processor)._late = UNROUTED
        _errors.call(processor, "shutdown", max(0.0, deadline - time.monotonic()))
        for exporter in orphans:
            shutdown_exporter(exporter)
        counts = _processor_stats(processor)
        for key in _retired:
            _retired[key] += counts.get(key, 0)
        for name, exporter_counts in _exporter_stats([processor]).items():
            retired = _retired_exporters.setdefault(name, {})
            for key, value in exporter_counts.items():
                # "pending" is a state (the spool now), not a count: the latest value wins.
                retired[key] = value if key == "pending" else retired.get(key, 0) + value


def _exporter_stats(processors: Iterable[Processor]) -> dict[str, dict[str, int]]:
    """The ``stats()`` of every exporter that has one, by class name."""
    found: dict[str, dict[str, int]] = {}
    for processor in processors:
        for exporter in _exporters_of(processor):
            if not callable(getattr(exporter, "stats", None)):
                continue
            counts = _errors.call(exporter, "stats", default={})
            if not isinstance(counts, Mapping):
                continue
            name = type(exporter).__name__
            mine = found.setdefault(name, {})
            for key, value in counts.items():
                if isinstance(value, int):
                    mine[key] = mine.get(key, 0) + value
    return found


def _processor_stats(processor: Processor) -> dict[str, int]:
    if getattr(processor, "stats", None) is None:
        return {}
    counts = _errors.call(processor, "stats", default={})
    return dict(counts) if isinstance(counts, Mapping) else {}


def configure(
    *,
    exporters: Sequence[Exporter] | None = None,
    processors: Sequence[Processor] = (),
    enabled: bool | None = None,
    environment: str | None = None,
    redact: bool | Redactor | None = None,
    limits: Limits | None = None,
    flush_at_exit: bool | None = None,
    exit_timeout: float | None = None,
    sample_rate: float | None = None,
    keep_errors: bool | None = None,
    capture_inputs: bool | None = None,
    capture_outputs: bool | None = None,
    capture_provider_payloads: bool | None = None,
    handle_signals: bool | None = None,
) -> None:
    """Set where logs go and how they are captured. May be called before or after decorating.

    Args:
        exporters: Exporters fed by one shared :class:`BatchProcessor` (records are built once
            per batch for all of them). ``None`` keeps the current pipeline; ``[]`` removes it.
            In ``stats()`` a record counts as exported only when every exporter accepted it;
            a failing one is counted under ``errors["export:<ExporterName>"]``.
        processors: Further processors, e.g. ``SimpleProcessor(exporter)`` or a
            ``BatchProcessor`` with its own queue sizes.
        enabled: False turns promptrail off completely: no thread, no file, and decorated calls
            cost about what a pass-through wrapper costs. Default: unchanged
            (initially off when ``PROMPTRAIL_DISABLED=1``).
        environment: Copied into every record's ``environment``.
        redact: True hides secrets by key name and well-known key formats (the default state);
            False turns that off; a :class:`Redactor` customises it. ``None``: unchanged.
        limits: Size bounds for captured values (strings, list lengths, depth).
        flush_at_exit: Whether to drain the pipeline at interpreter exit (default true, or
            ``PROMPTRAIL_FLUSH_AT_EXIT``).
        exit_timeout: Seconds the exit drain may take (default 5).
        sample_rate: Fraction of traces kept, decided once per trace at its root: a whole tree
            is kept or dropped, never half (default 1.0: everything).
        keep_errors: Keep a trace dropped by sampling after all when any of its logs failed
            (default true).
        capture_inputs: Record arguments (``inputs``, ``messages``); default true. Off means the
            fields are absent. A decorator's ``capture_inputs=`` overrides it.
        capture_outputs: Record results (``output``, ``output_message``, tokens read from the
            response); default true. A decorator's ``capture_output=`` overrides it.
        capture_provider_payloads: Record the raw ``provider_request`` (the call's arguments)
            and ``provider_response`` (the returned object); default false.
        handle_signals: On SIGTERM (and SIGINT when the app has no handler of its own), flush
            within ``exit_timeout``, then hand the signal to the handler that was there before
            (or its default action). Default true (or ``PROMPTRAIL_HANDLE_SIGNALS``); only
            possible when ``configure()`` runs in the main thread.

    Raises:
        ConfigurationError: For an invalid option value.

    .. versionadded:: 0.1.0
    """
    check_options(locals())  # the parameters: nothing else is bound yet
    with _lock:
        settings = STATE.settings
        changes: dict[str, object] = {}
        if environment is not None:
            changes["environment"] = environment
        if isinstance(redact, Redactor):
            changes["redactor"] = redact
        elif redact is not None:
            changes["redactor"] = Redactor(enabled=redact)
        if limits is not None:
            changes["limits"] = limits
        if flush_at_exit is not None:
            changes["flush_at_exit"] = flush_at_exit
        if exit_timeout is not None:
            changes["exit_timeout"] = float(exit_timeout)  # any real number: a Fraction too
        for name, value in (
            ("capture_inputs", capture_inputs),
            ("capture_outputs", capture_outputs),
            ("capture_provider_payloads", capture_provider_payloads),
        ):
            if value is not None:
                changes[name] = value
        STATE.settings = dataclasses.replace(settings, **changes)  # type: ignore[arg-type]
        if enabled is not None:
            STATE.enabled = enabled
        if sample_rate is not None:
            STATE.sample_rate = float(sample_rate)  # compared once per trace: a plain float
            STATE.refresh_slow_start()
        if keep_errors is not None:
            STATE.keep_errors = keep_errors
        if handle_signals is not None:
            _signals[0] = handle_signals
        if exporters is None and not processors:
            return
        new: list[Processor] = list(processors)
        if exporters:
            new.insert(0, BatchProcessor(_FanOut.of(exporters)))
        installed = tuple(new)
        old = _install(installed)
        _watch_signals()
    _retire([p for p in old if p not in installed], STATE.settings.exit_timeout, keep=installed)


def ensure_processors() -> tuple[Processor, ...]:
    """Return the pipeline, building the embedded default (SQLite) on first use."""
    with _lock:
        if STATE.processors is None:
            _install((BatchProcessor(SqliteExporter()),))
            _watch_signals()
        return STATE.processors or ()


def flush(timeout: float = 30.0) -> bool:
    """Export every log finished so far; wait at most ``timeout`` seconds in all.

    The pipeline keeps running. Use it in serverless handlers and before reading a store.

    Returns:
        True if every processor flushed in time. A log an exporter refused for good counts as
        handled: :func:`stats` counts it under ``failed``.

    .. versionadded:: 0.1.0
    """
    run_deferred()  # logs of generators and streams the garbage collector ended
    deadline = time.monotonic() + timeout
    ok = True
    for processor in STATE.processors or ():
        left = max(0.0, deadline - time.monotonic())
        ok = bool(_errors.call(processor, "force_flush", left, default=False)) and ok
    return ok


def shutdown(timeout: float = 30.0) -> None:
    """Flush and stop the pipeline; later logs go nowhere until ``configure()`` is called.

    Those later logs are counted in ``stats().dropped`` and reported in a rate-limited warning.

    Idempotent. Drops (if any) are reported in one warning on the ``promptrail`` logger.

    .. versionadded:: 0.1.0
    """
    run_deferred()
    with _lock:
        old = _install(())
    _retire(old, timeout)


def stats() -> Stats:
    """Return the pipeline's counts: exported, dropped, failed, queued, internal errors.

    .. versionadded:: 0.1.0
    """
    totals = dict(_retired)
    totals["dropped"] += UNROUTED.value - _unrouted_at_reset[0]
    totals["queued"] = 0
    for processor in STATE.processors or ():
        for key, value in _processor_stats(processor).items():
            if key in totals:
                totals[key] += value
    exporters = {name: dict(counts) for name, counts in _retired_exporters.items()}
    for name, counts in _exporter_stats(STATE.processors or ()).items():
        merged = exporters.setdefault(name, {})
        for key, value in counts.items():
            merged[key] = value if key == "pending" else merged.get(key, 0) + value
    return Stats(
        exported=totals["exported"],
        dropped=totals["dropped"],
        failed=totals["failed"],
        queued=totals["queued"],
        sampled_out=_sampling.sampled_out_count(),
        errors=_errors.counts(),
        spooled=sum(counts.get("pending", 0) for counts in exporters.values()),
        exporters=exporters,
    )


def reset_counts() -> None:
    """Forget the counts of retired processors and internal errors (tests)."""
    for key in _retired:
        _retired[key] = 0
    _retired_exporters.clear()
    _unrouted_at_reset[0] = UNROUTED.value
    _errors.reset()
    _sampling.reset()


class _FanOut:
    """One exporter that hands every batch to several (each guarded on its own)."""

    def __init__(self, exporters: Sequence[Exporter]) -> None:
        self.exporters = tuple(exporters)

    @staticmethod
    def of(exporters: Sequence[Exporter]) -> Exporter:
        if len(exporters) == 1:
            return exporters[0]
        return _FanOut(exporters)

    @property
    def writes_ahead(self) -> bool:
        return all(getattr(e, "writes_ahead", False) for e in self.exporters)

    def set_deadline(self, deadline: float | None) -> None:
        for exporter in self.exporters:
            if callable(getattr(exporter, "set_deadline", None)):
                _errors.call(exporter, "set_deadline", deadline)

    reports_failures = True  # export_logs: each failure is reported here, under its own name

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        with written_once():  # exporters that write JSON share each record's bytes
            return self._export(records)

    def _export(self, records: Sequence[LogRecord]) -> ExportResult:
        result = ExportResult.SUCCESS
        for exporter in self.exporters:
            name = type(exporter).__name__
            try:
                outcome = exporter.export(records)
            except Exception as exc:
                _errors.report(f"export:{name}", exc, f"{name}.export raised", internal=False)
                result = ExportResult.FAILURE
                continue
            if outcome is not ExportResult.SUCCESS:
                message = f"{name}.export returned {outcome}"
                _errors.report(f"export:{name}", None, message, internal=False)
                result = ExportResult.FAILURE
        return result

    def force_flush(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout  # one deadline for all, not one each
        results = [flush_exporter(e, max(0.0, deadline - time.monotonic())) for e in self.exporters]
        return all(results)

    def shutdown(self) -> None:
        for exporter in self.exporters:
            shutdown_exporter(exporter)


def _at_exit() -> None:
    settings = STATE.settings
    if not settings.flush_at_exit or not env_flag("PROMPTRAIL_FLUSH_AT_EXIT", default=True):
        return
    if STATE.processors:
        _exiting[0] = True
        try:
            shutdown(settings.exit_timeout)
        finally:
            _exiting[0] = False
        _report_spooled()


_signals = [True]  # configure(handle_signals=...)
_exiting = [False]  # the exit drain is running


def _watch_signals() -> None:
    """Flush on SIGTERM (and on SIGINT without an app handler), then chain (main thread only).

    Also drains at the end of a ``multiprocessing`` child.
    """
    child = _exit_in_mp_child()
    if not _signals[0] or not env_flag("PROMPTRAIL_HANDLE_SIGNALS", default=True):
        return
    on_signal(signal.SIGTERM, _flush_on_signal)
    on_signal(signal.SIGINT, _flush_on_signal, only_if_default=True)
    if child:  # a worker blocked waiting for tasks must still take Pool.terminate()'s SIGTERM
        watch_blocked_main_thread(signal.SIGTERM)


def _flush_on_signal() -> bool:
    """Export what is queued within ``exit_timeout``: the process may be about to end.

    Returns False (do not pass the signal on) while the exit drain runs: the process is ending
    already, and that drain, bounded by ``exit_timeout``, must finish.
    """
    if _exiting[0]:
        return False
    if not _signals[0] or not STATE.processors:
        return True
    flush(STATE.settings.exit_timeout)
    spooled = stats().spooled
    if spooled:
        _errors.LOGGER.warning("promptrail: %d logs spooled for the next run", spooled)
    return True


class _ForkToken:
    """Keeps our ``multiprocessing`` after-fork callback registered (it is held weakly)."""


_FORK_TOKEN = _ForkToken()


def _exit_in_mp_child() -> bool:
    """Drain at the end of a ``multiprocessing`` child, which exits without running atexit.

    A finalizer registered now may be cleared when the child starts its target; the after-fork
    callback runs after that clearing, so it registers the finalizer again.
    """
    util = sys.modules.get("multiprocessing.util")
    process = sys.modules.get("multiprocessing.process")
    if util is None or process is None:
        return False
    # While a spawn/forkserver child imports the main module, only _inheriting says so.
    starting = getattr(process.current_process(), "_inheriting", False)
    if not starting and process.parent_process() is None:
        return False
    _finalize_at_child_exit(None)
    util.register_after_fork(_FORK_TOKEN, _finalize_at_child_exit)
    return True


def _finalize_at_child_exit(_: object) -> None:
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.Finalize(None, _at_exit, exitpriority=10)
    # A forked worker inherits our SIGTERM handler; it blocks in C waiting for tasks.
    watch_blocked_main_thread(signal.SIGTERM)


def _after_fork_in_child() -> None:
    # A multiprocessing child made by fork: its after-fork callbacks run after this.
    util = sys.modules.get("multiprocessing.util")
    if util is not None and STATE.processors:
        util.register_after_fork(_FORK_TOKEN, _finalize_at_child_exit)


def _report_spooled() -> None:
    """Say at exit how many logs wait in a spool: kept for the next run, not lost."""
    for name, counts in _retired_exporters.items():
        pending = counts.get("pending", 0)
        if pending:
            _errors.LOGGER.warning(
                "promptrail: %d logs spooled for the next run (%s could not deliver them yet)",
                pending,
                name,
            )


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)
STATE.install_default = ensure_processors

relock_after_fork(globals(), "_lock")
