"""Fixtures for the viewer tests: real SQLite stores filled with real LogRecords."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from promptrail import ChatMessage, FunctionCall, LogRecord, PromptKernel, ToolCall
from promptrail.exporters import SqliteExporter, SqliteStore

NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
INJECTED = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


def log(
    log_id: str,
    path: str,
    *,
    trace_id: str,
    parent: str | None = None,
    kind: str = "prompt",
    start: float = 0.0,
    duration: float = 0.1,
    base: datetime.datetime = NOW,
    **fields: Any,
) -> LogRecord:
    """A finished log starting ``start`` seconds after ``base`` and lasting ``duration``."""
    begin = base + datetime.timedelta(seconds=start)
    end = begin + datetime.timedelta(seconds=duration)
    return LogRecord(
        log_id=log_id,
        path=path,
        kind=kind,  # type: ignore[arg-type]
        trace_id=trace_id,
        trace_parent_id=parent,
        start_time=begin,
        end_time=end,
        provider_latency=duration,
        created_at=end,
        **fields,
    )


def support_trace(trace_id: str = "trace-ok", *, base: datetime.datetime = NOW) -> list[LogRecord]:
    """A support flow: a tool lookup and an LLM reply whose user message carries injected HTML."""
    return [
        log(
            trace_id,
            "support/answer",
            trace_id=trace_id,
            kind="flow",
            duration=1.2,
            base=base,
            inputs={"question": "How do I reset my password?"},
            output="Use the reset link.",
            metadata={"customer": "acme", "tier": "gold"},
        ),
        log(
            f"{trace_id}-search",
            "support/search-docs",
            trace_id=trace_id,
            parent=trace_id,
            kind="tool",
            start=0.05,
            duration=0.2,
            base=base,
            inputs={"query": "reset password"},
            output='["docs/reset.md"]',
        ),
        log(
            f"{trace_id}-reply",
            "support/draft-reply",
            trace_id=trace_id,
            parent=trace_id,
            start=0.3,
            duration=0.85,
            base=base,
            prompt=PromptKernel(model="gpt-4o-mini", provider="openai", temperature=0.2),
            messages=[
                ChatMessage(role="system", content="You are a helpful support agent."),
                ChatMessage(role="user", content=f"Reset my password please {INJECTED}"),
                ChatMessage(
                    role="assistant",
                    tool_calls=[
                        ToolCall(
                            id="call_1",
                            function=FunctionCall(name="search_docs", arguments='{"q": "reset"}'),
                        )
                    ],
                ),
                ChatMessage(role="tool", tool_call_id="call_1", content='["docs/reset.md"]'),
            ],
            output_message=ChatMessage(role="assistant", content="Use the reset link."),
            output="Use the reset link.",
            prompt_tokens=420,
            output_tokens=38,
            prompt_cost=0.000063,
            output_cost=0.0000228,
            finish_reason="stop",
            metadata={"note": INJECTED},
        ),
    ]


def failing_trace(trace_id: str = "trace-err", *, base: datetime.datetime = NOW) -> list[LogRecord]:
    """A billing flow whose LLM call failed with a rate-limit error."""
    return [
        log(
            trace_id,
            "billing/refund",
            trace_id=trace_id,
            kind="flow",
            duration=0.5,
            base=base,
            error="RateLimitError: slow down",
        ),
        log(
            f"{trace_id}-llm",
            "billing/classify",
            trace_id=trace_id,
            parent=trace_id,
            start=0.1,
            duration=0.3,
            base=base,
            prompt=PromptKernel(model="claude-haiku"),
            error="RateLimitError: slow down\nretry after 3s",
        ),
    ]


def showcase_trace(trace_id: str, *, base: datetime.datetime = NOW) -> list[LogRecord]:
    """A realistic agent run, three levels deep, for the README screenshot."""
    question = "My order #4411 arrived damaged. Can I get a replacement?"
    reply_text = (
        "I'm sorry your order arrived damaged! I've started a replacement for order #4411; "
        "it ships within 2 business days and you don't need to return the damaged item."
    )
    kernel = PromptKernel(model="gpt-4o", provider="openai", temperature=0.3, max_tokens=400)
    messages = [
        ChatMessage(role="system", content="You are Acme's support agent. Be brief and kind."),
        ChatMessage(role="user", content=question),
        ChatMessage(
            role="assistant",
            tool_calls=[
                ToolCall(
                    id="call_7",
                    function=FunctionCall(
                        name="create_replacement", arguments='{"order_id": "4411"}'
                    ),
                )
            ],
        ),
        ChatMessage(
            role="tool",
            tool_call_id="call_7",
            content='{"replacement_id": "R-2093", "ships_in_days": 2}',
        ),
    ]
    child = f"{trace_id[:-4]}"
    return [
        log(
            trace_id,
            "support/handle-ticket",
            trace_id=trace_id,
            kind="flow",
            duration=2.41,
            base=base,
            inputs={"ticket_id": "T-88120", "channel": "email"},
            output=reply_text,
            metadata={"customer_tier": "gold", "region": "eu-west"},
        ),
        log(
            f"{child}0a01",
            "support/classify-intent",
            trace_id=trace_id,
            parent=trace_id,
            start=0.02,
            duration=0.38,
            base=base,
            prompt=PromptKernel(model="gpt-4o-mini", provider="openai", temperature=0.0),
            messages=[ChatMessage(role="user", content=question)],
            output="replacement_request",
            prompt_tokens=96,
            output_tokens=4,
            prompt_cost=0.0000144,
            output_cost=0.0000024,
        ),
        log(
            f"{child}0a02",
            "support/fetch-order",
            trace_id=trace_id,
            parent=trace_id,
            kind="tool",
            start=0.42,
            duration=0.16,
            base=base,
            inputs={"order_id": "4411"},
            output='{"status": "delivered", "items": 1}',
        ),
        log(
            f"{child}0a03",
            "support/draft-reply",
            trace_id=trace_id,
            parent=trace_id,
            start=0.61,
            duration=1.74,
            base=base,
            prompt=kernel,
            messages=messages,
            output_message=ChatMessage(role="assistant", content=reply_text),
            output=reply_text,
            prompt_tokens=612,
            output_tokens=71,
            prompt_cost=0.00153,
            output_cost=0.00071,
            finish_reason="stop",
        ),
        log(
            f"{child}0a04",
            "support/create-replacement",
            trace_id=trace_id,
            parent=f"{child}0a03",
            kind="tool",
            start=1.32,
            duration=0.21,
            base=base,
            inputs={"order_id": "4411"},
            output='{"replacement_id": "R-2093", "ships_in_days": 2}',
        ),
    ]


@pytest.fixture(name="db_path")
def fixture_db_path(tmp_path: Path) -> Path:
    """A store with an old support trace, a failing billing trace and a recent support trace."""
    path = tmp_path / "viewer.db"
    exporter = SqliteExporter(path)
    exporter.export(support_trace("trace-old", base=NOW - datetime.timedelta(hours=3)))
    exporter.export(failing_trace("trace-err", base=NOW - datetime.timedelta(minutes=20)))
    exporter.export(support_trace("trace-new", base=NOW - datetime.timedelta(minutes=5)))
    exporter.shutdown()
    return path


@pytest.fixture(name="store")
def fixture_store(db_path: Path) -> SqliteStore:
    """The sample store opened for reading."""
    return SqliteStore(db_path, create=False)


TraceFactory = Callable[..., list[LogRecord]]


@pytest.fixture(name="support_trace", scope="session")
def fixture_support_trace() -> TraceFactory:
    """Build a support trace: ``support_trace(trace_id, base=datetime)``."""
    return support_trace


@pytest.fixture(name="failing_trace", scope="session")
def fixture_failing_trace() -> TraceFactory:
    """Build a failing billing trace: ``failing_trace(trace_id, base=datetime)``."""
    return failing_trace


@pytest.fixture(name="showcase_trace", scope="session")
def fixture_showcase_trace() -> TraceFactory:
    """Build the README's showcase trace: ``showcase_trace(trace_id, base=datetime)``."""
    return showcase_trace
