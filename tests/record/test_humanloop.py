"""A record as Humanloop's "log" request bodies, checked against the Humanloop SDK's own types."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic
import pytest
from humanloop.evaluators.client import EvaluatorsClient
from humanloop.flows.client import FlowsClient
from humanloop.prompts.client import PromptsClient
from humanloop.tools.client import ToolsClient
from starlette.testclient import TestClient

from promptrail import LogRecord
from promptrail._record.humanloop import humanloop_body, humanloop_version_id, restore_extras
from promptrail.server import create_app

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KEY = "test-key-humanloop"
SDK_METHODS = {
    "prompt": PromptsClient.log,
    "flow": FlowsClient.log,
    "tool": ToolsClient.log,
    "evaluator": EvaluatorsClient.log,
}


def make(kind: str, **fields: Any) -> LogRecord:
    """A finished record of ``kind`` with the fields every log has."""
    return LogRecord.model_validate(
        {
            "log_id": f"log-{kind}",
            "path": f"support/{kind}",
            "kind": kind,
            "trace_id": "log-flow",
            "start_time": T0,
            "end_time": T0,
            "created_at": T0,
            "session_id": "sess-1",
            "tags": ["beta"],
            "user": "u-7",
            "metadata": {"team": "search"},
            **fields,
        }
    )


RECORDS = [
    make(
        "prompt",
        trace_parent_id="log-flow",
        version_id="pv_0123456789abcdef0123456789abcdef",
        inputs={"q": "hi"},
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
            {
                "role": "assistant",
                "thinking": "the user wants weather",
                "tool_calls": [
                    {"id": "c1", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "rain"},
        ],
        output="Rain.",
        output_message={"role": "assistant", "content": "Rain.", "thinking": "say rain"},
        prompt={
            "model": "claude-sonnet-4-5",
            "provider": "anthropic",
            "endpoint": "chat",
            "temperature": 0.2,
            "max_tokens": 300,
            "tools": [
                {
                    "type": "function",
                    "function": {"name": "weather", "parameters": {"type": "object"}},
                }
            ],
        },
        prompt_tokens=12,
        output_tokens=3,
        reasoning_tokens=5,
        prompt_cost=0.0001,
        output_cost=0.0002,
        finish_reason="stop",
        tool_choice="auto",
        provider_latency=0.4,
    ),
    make("prompt", log_id="no-model", prompt={"temperature": 0.1}, version_id="user-version"),
    make(
        "flow",
        log_id="log-flow",
        inputs={"q": "hi"},
        output="done",
        flow={"attributes": {"team": "search"}},
        log_status="complete",
    ),
    make(
        "tool",
        trace_parent_id="log-flow",
        tool={"function": {"name": "weather", "parameters": {"type": "object"}}},
        inputs={"city": "Oslo"},
        output='{"sky": "rain"}',
        error=None,
    ),
    make(
        "evaluator",
        parent_id="log-prompt",
        trace_parent_id="log-prompt",
        judgment=True,
        source="user",
    ),
]
IDS = [f"{r.kind}-{r.log_id}" for r in RECORDS]


@pytest.mark.parametrize("record", RECORDS, ids=IDS)
def test_every_field_is_a_parameter_of_the_sdk_request(record: LogRecord) -> None:
    """Each key of the body is a parameter of the kind's SDK method and validates as its type."""
    method = SDK_METHODS[record.kind]
    hints = typing.get_type_hints(method, include_extras=True)
    body = humanloop_body(record)
    assert set(body) <= set(hints) - {"version_id", "environment", "request_options"}
    strict = pydantic.ConfigDict(extra="forbid")
    for key, value in body.items():
        pydantic.TypeAdapter(hints[key], config=strict).validate_python(value)


@pytest.mark.parametrize("record", RECORDS, ids=IDS)
def test_promptrail_serve_reads_back_the_whole_record(record: LogRecord, tmp_path: Path) -> None:
    """Posted per log in Humanloop's shape, the receiver stores the record as it was."""
    app = create_app(db_path=tmp_path / "store.db", api_keys=[KEY])
    version = humanloop_version_id(record)
    params = {"version_id": version} if version else {}
    endpoint = {"prompt": "prompts", "flow": "flows", "tool": "tools", "evaluator": "evaluators"}
    with TestClient(app) as client:
        answer = client.post(
            f"/v5/{endpoint[record.kind]}/log",
            json=humanloop_body(record),
            params=params,
            headers={"X-API-KEY": KEY},
        )
        assert answer.status_code == 200, answer.text
        stored = app.state.store.get(record.log_id)
    assert stored is not None
    assert stored.model_dump() == record.model_dump()


def test_restore_leaves_other_metadata_and_body_fields_alone() -> None:
    """Fields in the body win over the extras; other metadata keys stay; the input is unchanged."""
    body = {
        "path": "a",
        "trace_id": "from-body",
        "metadata": {"promptrail": {"trace_id": "from-extras", "tags": ["x"]}, "team": "t"},
    }
    restored = restore_extras(body)
    assert restored == {
        "path": "a",
        "trace_id": "from-body",
        "tags": ["x"],
        "metadata": {"team": "t"},
    }
    assert body["metadata"]["promptrail"]["trace_id"] == "from-extras"


def test_a_derived_version_id_is_not_a_version_to_log_to() -> None:
    """pv_ ids are promptrail's own; a user's version id is passed on."""
    assert humanloop_version_id(RECORDS[0]) is None
    assert humanloop_version_id(RECORDS[1]) == "user-version"


def test_humanloop_fields_stay_in_the_body() -> None:
    """Fields of Humanloop's request (a flow's attributes, log_status) stay out of metadata."""
    body = humanloop_body(RECORDS[2])
    assert body["flow"] == {"attributes": {"team": "search"}}
    assert body["log_status"] == "complete"
    assert set(body["metadata"]["promptrail"]) == {"kind", "trace_id", "session_id", "tags"}
