"""The Humanloop SDK's decorators (0.8.38) in another process, uploading spans to the receiver."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from promptrail._record.models import LogRecord
from promptrail.exporters import SqliteStore
from promptrail.server import ServerThread, create_app

# Looked up, not imported: the app imports them in its own process.
pytestmark = pytest.mark.skipif(
    any(
        importlib.util.find_spec(name) is None
        for name in ("humanloop", "openai", "opentelemetry.instrumentation.openai")
    ),
    reason="needs humanloop, openai and opentelemetry-instrumentation-openai",
)

KEY = "hl-deco-key-0123456789"
APP = Path(__file__).resolve().parents[1] / "fixtures" / "humanloop_decorated.py"


def wait_for(store: SqliteStore, count: int, timeout: float = 20.0) -> list[LogRecord]:
    """The stored logs once there are ``count`` complete ones (bounded wait)."""
    deadline = time.monotonic() + timeout
    while True:
        records = store.logs(limit=None)
        done = [r for r in records if r.log_status == "complete"]
        if len(done) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.05)


def test_decorators_make_nested_logs(tmp_path: Path) -> None:
    """@flow, @tool and @prompt become a flow log completed with its output, holding a tool log
    and the prompt log of the OpenAI call, for each of two runs (the upload thread lives on)."""
    db = tmp_path / "deco.db"
    with ServerThread(create_app(db_path=db, api_keys=[KEY])) as server:
        run = subprocess.run(
            [sys.executable, str(APP), server.url, KEY],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        assert "Failed to upload" not in run.stderr
        store = SqliteStore(db)
        records = wait_for(store, 6)
        store.close()
    flows = sorted((r for r in records if r.kind == "flow"), key=lambda r: r.start_time)
    assert [f.inputs for f in flows] == [
        {"question": "Capital of France?"},
        {"question": "And of Italy?"},
    ]
    for flow in flows:
        assert (flow.path, flow.output, flow.log_status) == ("demo/agent", "Paris", "complete")
        assert flow.end_time is not None
        assert flow.flow == {"attributes": {"team": "geo"}}
        children = {r.kind: r for r in records if r.trace_parent_id == flow.log_id}
        assert set(children) == {"tool", "prompt"}
        tool, prompt = children["tool"], children["prompt"]
        assert {tool.trace_id, prompt.trace_id} == {flow.log_id}
        assert (tool.path, tool.inputs, tool.output) == (
            "demo/lookup",
            {"city": "Paris", "count": 2},
            "Paris x2",
        )
        assert tool.tool is not None
        assert tool.tool["function"]["name"] == "lookup"
        assert tool.tool["function"]["parameters"]["required"] == ["city", "count"]
        assert prompt.path == "demo/ask"
        assert prompt.prompt is not None
        assert (prompt.prompt.model, prompt.prompt.temperature) == ("gpt-4o-mini", 0.2)
        assert (prompt.prompt_tokens, prompt.output_tokens) == (42, 7)
        assert (prompt.finish_reason, prompt.output) == ("stop", "Paris")
        assert prompt.messages is not None
        assert prompt.messages[0].content == flow.inputs["question"]  # type: ignore[index]
