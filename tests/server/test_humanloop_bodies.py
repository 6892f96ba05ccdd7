"""Humanloop's shapes in and out: any stored log reads back as the SDK's strict LogResponse."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("humanloop")

from humanloop import types as hl
from pydantic import TypeAdapter
from tests.fixtures.traces import failing_trace, showcase_trace, support_trace

import promptrail
from promptrail import LogRecord
from promptrail.server._humanloop_bodies import log_response, masked, parse_serialized_prompt

NOW = datetime.now(UTC)
MODELS: dict[str, Any] = {
    "prompt": hl.PromptLogResponse,
    "flow": hl.FlowLogResponse,
    "tool": hl.ToolLogResponse,
    "evaluator": hl.EvaluatorLogResponse,
}


def rich_records() -> list[LogRecord]:
    """Logs with the shapes that differ most between promptrail and Humanloop."""
    base: dict[str, Any] = {"trace_id": "t", "start_time": NOW, "created_at": NOW}
    return [
        LogRecord(
            log_id="a",
            path="x/p",
            kind="prompt",
            prompt={
                "model": "gpt-4o",
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
                "response_format": {"type": "json_schema", "json_schema": {"name": "s"}},
                "stop": ["\n"],
                "template": [{"role": "system", "content": "hi {{x}}"}],
                "reasoning_effort": "high",
            },
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}],
                },
                {"role": "tool", "content": "r", "tool_call_id": "c1"},
            ],
            tool_choice="auto",
            output_message={"role": "assistant", "content": "ok", "thinking": "hmm"},
            tags=["a"],
            session_id="s",
            **base,
        ),
        LogRecord(log_id="b", path="x/p", tool_choice={"type": "tool", "name": "f"}, **base),
        LogRecord(log_id="b2", path="x/p", tool_choice={"type": "any"}, **base),
        LogRecord(log_id="b3", path="x/p", tool_choice="validated", **base),
        LogRecord(log_id="b4", path="x/p", prompt={"response_format": {"name": "s"}}, **base),
        LogRecord(log_id="c", path="x/e", kind="evaluator", judgment=True, parent_id="a", **base),
        LogRecord(log_id="d", path="x/e", kind="evaluator", judgment="ok", parent_id="a", **base),
        LogRecord(log_id="e", path="x/t", kind="tool", tool={"name": "f"}, **base),
        LogRecord(log_id="f", path="x/f", kind="flow", **base),
    ]


def every_record() -> list[LogRecord]:
    """The viewer fixtures' traces and the records above."""
    return showcase_trace("t1") + support_trace("t2") + failing_trace("t3") + rich_records()


@pytest.mark.parametrize("record", every_record(), ids=lambda r: f"{r.kind}-{r.log_id}")
def test_every_record_is_a_strict_log_response(record: LogRecord) -> None:
    """log_response() of a stored log validates strictly against the SDK's model for its kind."""
    raw = json.dumps(log_response(record, {}))
    answer = TypeAdapter(MODELS[record.kind]).validate_json(raw, strict=True)
    assert answer.id == record.log_id


@pytest.mark.parametrize(
    ("text", "details"),
    [
        ('{"model": "m", "temperature": 1}', {"model": "m", "temperature": 1}),
        (
            '---\nmodel: m\nmax_tokens: 10\nstop: ["x"]\nteam: geo\n---\nHello {{name}}',
            {
                "model": "m",
                "max_tokens": 10,
                "stop": ["x"],
                "other": {"team": "geo"},
                "template": "Hello {{name}}",
            },
        ),
        ("Just a template", {"template": "Just a template"}),
    ],
)
def test_serialised_prompt(text: str, details: dict[str, Any]) -> None:
    """A prompt string is JSON details or a .prompt file (front matter, then the template)."""
    assert parse_serialized_prompt(text) == details


SECRET = "sk-proj-Zq8XaB3kLmN0pQrStUvWxYz123456"


class TestMasked:
    def test_every_depth_the_parser_accepts(self) -> None:
        """A secret nested 900 levels deep is masked, and the nesting is kept."""
        deep: Any = {"api_key": SECRET, "note": f"key {SECRET}"}
        for _ in range(900):
            deep = {"a": [deep]}
        body = masked({"metadata": deep})
        inner = body["metadata"]
        for _ in range(900):
            inner = inner["a"][0]
        assert inner == {"api_key": "[REDACTED]", "note": "key [REDACTED]"}

    def test_own_fields_numbers_and_a_secret_used_as_a_key(self) -> None:
        """Ids and counts stay as sent; a secret used as a key is masked in the key."""
        body = masked(
            {
                "log_id": "id-1",
                "prompt_tokens": 3,
                "inputs": {SECRET: "value", "n": 1, "ok": True, "none": None},
            }
        )
        assert body["log_id"] == "id-1"
        assert body["prompt_tokens"] == 3
        assert body["inputs"] == {"[REDACTED]": "value", "n": 1, "ok": True, "none": None}

    def test_the_configured_redactor_decides(self) -> None:
        """The serving process's redactor (its extra keys and callback) is the one applied."""
        promptrail.configure(
            exporters=[],
            redact=promptrail.Redactor(
                keys=["team"], callback=lambda key, value: value == "hide me"
            ),
        )
        try:
            body = masked({"metadata": {"team": "blue", "other": "hide me", "kept": "x"}})
        finally:
            promptrail.testing.reset()
        assert body["metadata"] == {"team": "[REDACTED]", "other": "[REDACTED]", "kept": "x"}
