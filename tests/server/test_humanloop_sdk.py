"""The Humanloop SDK (0.8.38) against a running receiver: its REST calls, answers checked strictly.

The client is the SDK's generated REST client (``BaseHumanloop``, which ``Humanloop`` extends):
``Humanloop()`` itself instruments the process's OpenAI and Anthropic modules, which is tested in a
subprocess (``test_humanloop_decorators.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("humanloop")

import httpx
import httpx2
from humanloop import types as hl
from humanloop.base_client import BaseHumanloop
from humanloop.core.api_error import ApiError
from pydantic import TypeAdapter

from promptrail.exporters import SqliteStore
from promptrail.server import ServerThread, create_app

KEY = "hl-key-0123456789"
# The SDK's LogResponse union, its forward references resolved.
LOG_RESPONSE = Union[  # noqa: UP007 (a runtime type expression)
    hl.PromptLogResponse, hl.ToolLogResponse, hl.FlowLogResponse, hl.EvaluatorLogResponse
]
THINKING = [{"type": "thinking", "thinking": "The user greets.", "signature": "c2lnbmF0dXJl"}]


@pytest.fixture(name="db")
def fixture_db(tmp_path: Path) -> Path:
    """The receiver's SQLite file."""
    return tmp_path / "hl.db"


@pytest.fixture(name="server")
def fixture_server(db: Path) -> Iterator[ServerThread]:
    """A receiver on 127.0.0.1."""
    with ServerThread(create_app(db_path=db, api_keys=[KEY])) as server:
        yield server


class Answers:
    """Every JSON answer the SDK received, raw, in order."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        self.bodies.append(json.loads(response.content))

    @property
    def last(self) -> str:
        return json.dumps(self.bodies[-1])


@pytest.fixture(name="answers")
def fixture_answers() -> Answers:
    """The raw answers of the client below."""
    return Answers()


@pytest.fixture(name="client")
def fixture_client(server: ServerThread, answers: Answers) -> Iterator[BaseHumanloop]:
    """The Humanloop SDK's REST client, pointed at the receiver."""
    with httpx.Client(event_hooks={"response": [answers]}, timeout=10) as http:
        yield BaseHumanloop(base_url=server.url + "/v5", api_key=KEY, httpx_client=http)


@pytest.fixture(name="store")
def fixture_store(db: Path) -> Iterator[SqliteStore]:
    """The receiver's store, read directly."""
    store = SqliteStore(db)
    yield store
    store.close()


def strict(model: Any, raw: str) -> Any:
    """Validate a raw JSON answer against an SDK model in pydantic's strict mode."""
    return TypeAdapter(model).validate_json(raw, strict=True)


class TestCreate:
    def test_rich_prompt_log_is_accepted_and_kept(
        self, client: BaseHumanloop, answers: Answers, store: SqliteStore
    ) -> None:
        """Thinking blocks, an integer reasoning budget, endpoint "edit", prompt attributes and
        log_status are accepted; the answer is a strict CreatePromptLogResponse."""
        created = client.prompts.log(
            path="hl/answer",
            prompt={
                "model": "claude-sonnet-4",
                "endpoint": "edit",
                "reasoning_effort": 2048,
                "attributes": {"team": "support"},
            },
            messages=[{"role": "user", "content": "hi"}],
            output_message={"role": "assistant", "content": "hello", "thinking": THINKING},
            log_status="incomplete",
        )
        answer = strict(hl.CreatePromptLogResponse, answers.last)
        assert answer.version_id.startswith("pv_")
        assert answers.bodies[-1]["log_status"] == "incomplete"
        record = store.get(created.id)
        assert record is not None
        assert record.prompt is not None
        assert record.prompt.reasoning_effort == 2048
        assert record.prompt.endpoint == "edit"
        assert record.prompt.attributes == {"team": "support"}
        assert record.log_status == "incomplete"
        assert record.output_message is not None
        assert record.output_message.thinking == "The user greets."

    def test_serialised_prompt_string_is_parsed(
        self, client: BaseHumanloop, store: SqliteStore
    ) -> None:
        """A prompt sent as a .prompt file string becomes its model, parameters and template."""
        text = (
            "---\nmodel: gpt-4o\ntemperature: 0.3\nprovider: openai\n---\n<system>Be kind</system>"
        )
        created = client.prompts.log(path="hl/serialised", prompt=text, output="ok")
        record = store.get(created.id)
        assert record is not None
        assert record.prompt is not None
        assert (record.prompt.model, record.prompt.temperature) == ("gpt-4o", 0.3)
        assert record.prompt.template == "<system>Be kind</system>"

    def test_id_without_path_logs_to_that_file(
        self, client: BaseHumanloop, store: SqliteStore
    ) -> None:
        """A log naming its prompt by id only lands at the path that id was issued for."""
        first = client.prompts.log(path="hl/by-id", prompt={"model": "m"}, output="a")
        second = client.prompts.log(id=first.prompt_id, output="b")
        record = store.get(second.id)
        assert record is not None
        assert record.path == "hl/by-id"
        assert second.prompt_id == first.prompt_id

    def test_save_false_stores_no_content(self, client: BaseHumanloop, store: SqliteStore) -> None:
        """save=False keeps the log's numbers and details but not its messages or payloads."""
        created = client.prompts.log(
            path="hl/private",
            prompt={"model": "m"},
            inputs={"name": "Ada"},
            messages=[{"role": "user", "content": "my secret"}],
            output="secret answer",
            provider_request={"body": "secret"},
            prompt_tokens=5,
            save=False,
        )
        record = store.get(created.id)
        assert record is not None
        assert (record.messages, record.output, record.inputs) == (None, None, None)
        assert record.provider_request is None
        assert record.prompt_tokens == 5
        assert "secret" not in record.model_dump_json()

    def test_tool_log_answer_is_strict(self, client: BaseHumanloop, answers: Answers) -> None:
        """tools.log is answered with a strict CreateToolLogResponse."""
        client.tools.log(
            path="hl/add",
            tool={"function": {"name": "add", "description": "adds"}},
            inputs={"a": 1},
            output="2",
        )
        assert strict(hl.CreateToolLogResponse, answers.last).version_id


class TestUpdate:
    def test_flow_created_incomplete_is_completed(
        self, client: BaseHumanloop, answers: Answers, store: SqliteStore
    ) -> None:
        """flows.update_log completes an incomplete flow: output, end time, status; the flow's
        attributes are kept and every answer validates strictly."""
        flow = client.flows.log(
            path="hl/agent",
            flow={"attributes": {"team": "geo"}},
            log_status="incomplete",
            inputs={"q": "capital?"},
        )
        created = strict(hl.CreateFlowLogResponse, answers.last)
        assert created.log_status == "incomplete"
        stored = store.get(flow.id)
        assert stored is not None
        assert stored.end_time is None
        updated = client.flows.update_log(log_id=flow.id, output="Paris", log_status="complete")
        answer = strict(hl.FlowLogResponse, answers.last)
        assert answer.flow.attributes == {"team": "geo"}
        assert updated.log_status == "complete"
        record = store.get(flow.id)
        assert record is not None
        assert (record.output, record.log_status) == ("Paris", "complete")
        assert record.end_time is not None
        assert record.flow == {"attributes": {"team": "geo"}}

    def test_prompt_update_log(self, client: BaseHumanloop, answers: Answers) -> None:
        """prompts.update_log changes the given fields and answers a strict PromptLogResponse."""
        created = client.prompts.log(
            path="hl/answer",
            prompt={"model": "m", "tools": [{"type": "function", "function": {"name": "f"}}]},
            output_message={"role": "assistant", "content": "x", "thinking": THINKING},
            log_status="incomplete",
        )
        client.prompts.update_log(
            id=created.prompt_id, log_id=created.id, output="done", output_tokens=3
        )
        answer = strict(hl.PromptLogResponse, answers.last)
        assert (answer.output, answer.output_tokens, answer.id) == ("done", 3, created.id)
        assert answer.prompt.model == "m"
        assert answer.output_message is not None
        assert answer.output_message.thinking

    def test_tool_update(self, client: BaseHumanloop, answers: Answers) -> None:
        """tools.update (PATCH /tools/{id}/log/{log_id}) updates a tool log."""
        created = client.tools.log(path="hl/add", tool={}, inputs={"a": 1}, output="2")
        client.tools.update(id=created.tool_id, log_id=created.id, output="3", error="late")
        answer = strict(hl.ToolLogResponse, answers.last)
        assert (answer.output, answer.error) == ("3", "late")

    def test_unknown_or_other_kind_log_is_404(self, client: BaseHumanloop) -> None:
        """Updating a log that does not exist, or through another kind's route, is a 404."""
        tool = client.tools.log(path="hl/add", tool={}, output="2")
        with pytest.raises(ApiError) as missing:
            client.flows.update_log(log_id="nope", output="x")
        with pytest.raises(ApiError) as other_kind:
            client.flows.update_log(log_id=tool.id, output="x")
        assert missing.value.status_code == other_kind.value.status_code == 404


class TestRead:
    def test_logs_get(self, client: BaseHumanloop, answers: Answers) -> None:
        """logs.get returns a strict LogResponse carrying Humanloop's id; unknown ids are 404."""
        created = client.prompts.log(path="hl/answer", prompt={"model": "m"}, output="x")
        client.logs.get(id=created.id)
        answer = strict(hl.PromptLogResponse, answers.last)
        assert answer.id == created.id
        assert strict(LOG_RESPONSE, answers.last)
        with pytest.raises(ApiError) as missing:
            client.logs.get(id="nope")
        assert missing.value.status_code == 404

    def test_logs_list_pages_end_and_filter_by_file(
        self, client: BaseHumanloop, answers: Answers
    ) -> None:
        """logs.list returns one file's logs a page at a time, and its pager ends."""
        ids = [
            client.prompts.log(path="hl/answer", prompt={"model": "m"}, output=str(i)).id
            for i in range(5)
        ]
        other = client.flows.log(path="hl/answer-flow", flow={"attributes": {}})
        file_id = client.prompts.log(path="hl/answer", output="last").prompt_id
        listed = [item.id for item in client.logs.list(file_id=file_id, size=2)]
        assert len(listed) == 6
        assert set(ids) <= set(listed)
        assert other.id not in listed
        page = strict(hl.PaginatedDataLogResponse, json.dumps(answers.bodies[-2]))
        assert (page.page, page.size, page.total, len(page.records)) == (3, 2, 6, 2)
        assert answers.bodies[-1]["records"] == []

    def test_plain_list_keeps_promptrail_fields(
        self, server: ServerThread, client: BaseHumanloop
    ) -> None:
        """GET /v5/logs without file_id still filters by path and carries log_id next to id."""
        created = client.prompts.log(path="hl/answer", prompt={"model": "m"}, output="x")
        response = httpx2.get(
            server.url + "/v5/logs", params={"path": "hl"}, headers={"X-API-KEY": KEY}
        )
        (item,) = response.json()["records"]
        assert item["id"] == item["log_id"] == created.id


def test_openapi_declares_bodies_and_errors(server: ServerThread) -> None:
    """Every Humanloop route declares its errors; the update routes their JSON body."""
    schema = httpx2.get(server.url + "/v5/openapi.json", headers={"X-API-KEY": KEY}).json()
    routes = {
        ("patch", "/v5/prompts/{id}/log/{log_id}"),
        ("patch", "/v5/tools/{id}/log/{log_id}"),
        ("patch", "/v5/flows/logs/{log_id}"),
        ("get", "/v5/logs/{log_id}"),
    }
    for method, path in routes:
        operation = schema["paths"][path][method]
        assert {"401", "404", "422", "503"} <= set(operation["responses"])
        if method == "patch":
            assert "413" in operation["responses"]
            assert "application/json" in operation["requestBody"]["content"]
    assert {"401", "422"} <= set(schema["paths"]["/v5/logs"]["get"]["responses"])


def test_evaluator_log_reads_back_strictly(client: BaseHumanloop, answers: Answers) -> None:
    """evaluators.log is answered strictly and the score reads back as EvaluatorLogResponse."""
    judged = client.prompts.log(path="hl/answer", prompt={"model": "m"}, output="x")
    score = client.evaluators.log(parent_id=judged.id, path="hl/judge", judgment=0.5)
    assert strict(hl.CreateEvaluatorLogResponse, answers.last).parent_id == judged.id
    client.logs.get(id=score.id)
    answer = strict(hl.EvaluatorLogResponse, answers.last)
    assert (answer.judgment, answer.parent_id) == (0.5, judged.id)
