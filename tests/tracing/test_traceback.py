"""A failed call's record keeps its traceback: from the user's code, redacted, bounded."""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import pytest

import promptrail
from promptrail._tracing.failures import ERROR_TRACEBACK_KEY, MAX_TRACEBACK
from promptrail.exporters import InMemoryExporter
from promptrail.testing import capture_logs


def check_order(order: dict[str, Any]) -> None:
    raise ValueError(f"order {order['id']} refused (key sk-proj-abcdefghijklmnopqrstuvwxyz0123)")


@promptrail.log_tool(path="shop/refund")
def refund(order: dict[str, Any]) -> str:
    check_order(order)
    return "done"


def handler() -> None:
    """User code above the decorated call, which the exception passes through afterwards."""
    refund({"id": 7})


def test_traceback_is_the_users_code_and_ends_with_the_error() -> None:
    """The traceback starts at the decorated function, names its frames and ends with the error."""
    with capture_logs() as logs, pytest.raises(ValueError, match="refused"):
        handler()
    text = logs[0].metadata[ERROR_TRACEBACK_KEY]
    assert text.startswith("Traceback (most recent call last):\n")
    assert "in refund" in text
    assert "in check_order" in text
    assert "in handler" not in text  # frames the exception left after the log ended
    assert "promptrail/_tracing" not in text  # not promptrail's wrapper
    assert text.rstrip().endswith(logs[0].error or "")


def test_secrets_in_the_traceback_are_redacted() -> None:
    """A key in the message or a source line is masked, as everywhere in the record."""
    with capture_logs() as logs, pytest.raises(ValueError, match="refused"):
        refund({"id": 7})
    text = logs[0].metadata[ERROR_TRACEBACK_KEY]
    assert "sk-proj-abc" not in text
    assert "[REDACTED]" in text


@promptrail.log_tool(path="deep")
def deep(n: int) -> int:
    return deep(n - 1) if n else 1 // 0


def test_a_long_traceback_keeps_its_end() -> None:
    """A deep traceback is cut at the start (with a marker) and keeps the error line."""
    with capture_logs() as logs, pytest.raises(ZeroDivisionError):
        deep(150)
    text = logs[-1].metadata[ERROR_TRACEBACK_KEY]  # the outermost call: the longest traceback
    assert len(text) <= MAX_TRACEBACK + 40
    assert text.startswith("[")
    assert "characters cut]" in text.splitlines()[0]
    assert text.rstrip().endswith("ZeroDivisionError: integer division or modulo by zero")


KEY = "sk-proj-" + "Zq8Xa" * 10


@promptrail.log_tool(path="long-error")
def long_error(padding: int) -> None:
    raise ValueError(f"bad key {KEY}\n" + "y" * padding)


def test_a_cut_never_keeps_part_of_a_secret() -> None:
    """Wherever the cut falls, no piece of a key is left unmasked at the traceback's start."""
    with capture_logs() as logs:
        for padding in range(MAX_TRACEBACK - 120, MAX_TRACEBACK):
            with pytest.raises(ValueError, match="bad key"):
                long_error(padding)
    texts = [record.metadata[ERROR_TRACEBACK_KEY] for record in logs]
    assert [text for text in texts if "Zq8Xa" in text] == []
    assert all(text.rstrip().endswith("y") for text in texts)


def test_no_traceback_without_an_exception() -> None:
    """A successful call, or an error set as text, has no traceback."""
    with capture_logs() as logs:
        with promptrail.trace(path="ok"):
            pass
        with promptrail.trace(path="text-error"):
            promptrail.update_current(error="RateLimit: later")
    assert all(ERROR_TRACEBACK_KEY not in r.metadata for r in logs)


class Loud(Exception):
    """An exception that notes the thread its message is made on."""

    threads: ClassVar[list[int]] = []

    def __str__(self) -> str:
        Loud.threads.append(threading.get_ident())
        return "loud"


@promptrail.log_tool(path="loud")
def loud() -> None:
    raise Loud


def test_formatted_in_the_worker_not_on_the_callers_thread() -> None:
    """The exception is described and formatted in the export worker, not the caller's thread."""
    exporter = InMemoryExporter()
    promptrail.configure(processors=[promptrail.BatchProcessor(exporter, schedule_delay=0.01)])
    Loud.threads.clear()
    with pytest.raises(Loud):
        loud()
    assert promptrail.flush(timeout=10)
    (record,) = exporter.records
    assert "Loud: loud" in record.metadata[ERROR_TRACEBACK_KEY]
    assert Loud.threads
    assert threading.get_ident() not in Loud.threads
