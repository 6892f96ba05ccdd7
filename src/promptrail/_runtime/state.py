"""Global, late-bound state: what the decorated call reads at call time.

Decorated functions look up :data:`STATE` on every call, so ``configure()`` may run after modules
were imported and decorated (structlog's and logfire's pattern). ``STATE.processors`` is ``None``
until the first call or ``configure()``; the first decorated call then builds the embedded default
pipeline (SQLite at ``$PROMPTRAIL_DB``, default ``./promptrail.db``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from promptrail._runtime import errors as _errors
from promptrail._runtime.ids import DEFAULT_IDS, IdGenerator
from promptrail._runtime.limits import DEFAULT_LIMITS, Limits
from promptrail._runtime.redaction import DEFAULT_REDACTOR, Redactor

if TYPE_CHECKING:
    from promptrail._tracing.context import Scope
    from promptrail.pipeline._batch import BatchProcessor
    from promptrail.pipeline._processors import Processor

__all__ = ["STATE", "Settings", "env_flag"]

_TRUTHY = frozenset({"1", "true", "yes", "on"})


def env_flag(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable (``1``/``true``/``yes``/``on``, any case)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in _TRUTHY


@dataclasses.dataclass(frozen=True)
class Settings:
    """Options applied when records are built and at exit.

    Attributes:
        environment: Copied into every record's ``environment``.
        limits: Size bounds for captured values.
        redactor: Which keys and string patterns are secrets.
        flush_at_exit: Whether an ``atexit`` hook drains the pipeline.
        exit_timeout: Seconds that hook may take.
        capture_inputs: Record arguments (``inputs``, ``messages``) unless a decorator says.
        capture_outputs: Record results (``output``, ``output_message``, ...) unless a decorator
            says.
        capture_provider_payloads: Record ``provider_request``/``provider_response`` (off).
    """

    environment: str | None = None
    limits: Limits = DEFAULT_LIMITS
    redactor: Redactor = DEFAULT_REDACTOR
    flush_at_exit: bool = True
    exit_timeout: float = 5.0
    capture_inputs: bool = True
    capture_outputs: bool = True
    capture_provider_payloads: bool = False


class _State:
    """The mutable global state; a single instance, :data:`STATE`."""

    __slots__ = (
        "enabled",
        "enders",
        "ids",
        "inherit",
        "install_default",
        "keep_errors",
        "perf_ns",
        "processors",
        "sample_rate",
        "scopes",
        "settings",
        "sink",
        "slow_start",
        "starters",
        "wall_ns",
    )

    def __init__(self) -> None:
        self.enabled = not env_flag("PROMPTRAIL_DISABLED")
        self.processors: tuple[Processor, ...] | None = None
        # Builds the default pipeline on the first decorated call when configure() never ran;
        # set by the pipeline layer when it is imported (the tracing layer sits below it).
        self.install_default: Callable[[], object] | None = None
        self.starters: tuple[Processor, ...] = ()
        self.enders: tuple[Processor, ...] = ()
        # The pipeline's only processor when it is exactly a BatchProcessor (the default): the
        # sync wrapper queues into it inline. None otherwise.
        self.sink: BatchProcessor | None = None
        self.scopes: tuple[Scope, ...] = ()
        self.sample_rate = 1.0
        self.keep_errors = True
        self.settings = Settings(environment=os.environ.get("PROMPTRAIL_ENVIRONMENT") or None)
        self.ids: IdGenerator = DEFAULT_IDS
        self.wall_ns: Callable[[], int] = time.time_ns
        self.perf_ns: Callable[[], int] = time.perf_counter_ns
        # Set once ``attributes()`` or ``trace(session_id=...)`` is first used: from then on a
        # new log reads the inherited attributes (``started``). Never set, the hot path skips it.
        self.inherit = False
        self.slow_start = False

    def refresh_slow_start(self) -> None:
        """Recompute :attr:`slow_start` after changing ``starters``, ``sample_rate`` or ``inherit``.

        A new log takes the slow start (``started``: sampling, ``on_start`` hooks, inherited
        attributes) only when one of them is in use; the hot path tests this one flag.
        """
        self.slow_start = bool(self.starters) or self.sample_rate < 1.0 or self.inherit


STATE = _State()


def _mask_with_settings(line: str) -> str:
    """Mask ``line`` with the configured redactor's patterns (for the error reporter)."""
    return STATE.settings.redactor.mask(line)


_errors.set_masking(_mask_with_settings)
