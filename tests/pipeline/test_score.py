"""promptrail.score(): feedback as an evaluator log judging another log, from any process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import promptrail
from promptrail import log_prompt, trace
from promptrail.cli._viewer import render_tree
from promptrail.exceptions import ConfigurationError
from promptrail.exporters import HttpExporter, SqliteExporter, SqliteStore
from promptrail.server import ServerThread, create_app
from promptrail.testing import capture_logs

KEY = "test-key-0123456789"


@log_prompt(path="chat/answer")
def answer(question: str) -> str:
    """A fake model call that scores itself from inside."""
    log_id = promptrail.get_current_log_id()
    assert log_id is not None
    promptrail.score(log_id, "self_check", 0.5, source="llm")
    return "Paris"


def test_a_score_is_an_evaluator_log_under_the_judged_log() -> None:
    """Humanloop's shape: parent_id and trace_parent_id are the judged log, judgment the value."""
    with capture_logs() as logs, trace(path="chat/turn") as turn:
        answer("q")
        assert turn.log_id is not None
        promptrail.score(turn.log_id, "thumbs_up", True, comment="great")
    by_path = {r.path: r for r in logs}
    judged, root = by_path["chat/answer"], by_path["chat/turn"]
    check, thumbs = by_path["self_check"], by_path["thumbs_up"]
    assert (check.kind, check.parent_id, check.trace_parent_id) == (
        "evaluator",
        judged.log_id,
        judged.log_id,
    )
    assert (check.judgment, check.source, check.trace_id) == (0.5, "llm", root.log_id)
    assert (thumbs.judgment, thumbs.source, thumbs.metadata) == (True, "user", {"comment": "great"})
    body = thumbs.to_body()
    assert (body["parent_id"], body["judgment"]) == (root.log_id, True)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("", "n", 1), {}),
        (("id", "", 1), {}),
        (("id", "n", None), {}),
        (("id", "n", float("nan")), {}),
        (("id", "n", 1), {"comment": 3}),
        (("id", "n", 1), {"source": ""}),
    ],
)
def test_wrong_arguments_are_configuration_errors(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    """A score of the wrong shape is a mistake in the calling code, reported there."""
    with pytest.raises(ConfigurationError):
        promptrail.score(*args, **kwargs)  # type: ignore[arg-type]


def test_disabled_records_nothing() -> None:
    """With promptrail disabled a score returns None and nothing is exported."""
    with capture_logs() as logs:
        promptrail.configure(enabled=False)
        assert promptrail.score("some-log", "thumbs_up", False) is None
    assert logs == []


def test_comment_secrets_are_masked() -> None:
    """A secret pasted in a comment does not reach the record."""
    secret = "sk-proj-" + "a1B2c3D4" * 5
    with capture_logs() as logs:
        promptrail.score("some-log", "thumbs_up", False, comment=f"key {secret}")
    assert secret not in logs[0].model_dump_json()


def test_score_from_another_process_lands_in_the_judged_trace(tmp_path: Path) -> None:
    """A process that knows only the log id files its score in the judged log's trace."""
    db = tmp_path / "logs.db"
    promptrail.configure(exporters=[SqliteExporter(db)])
    with trace(path="chat/turn") as turn:
        answer("q")
    promptrail.flush()
    judged = next(r for r in SqliteStore(db).trace(str(turn.trace_id)) if r.path == "chat/answer")
    script = textwrap.dedent(
        f"""
        import promptrail
        from promptrail.exporters import SqliteExporter
        promptrail.configure(exporters=[SqliteExporter({str(db)!r})])
        promptrail.score({judged.log_id!r}, "thumbs_up", True, comment="from the UI")
        promptrail.shutdown()
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    records = SqliteStore(db).trace(str(turn.trace_id))
    thumbs = next(r for r in records if r.path == "thumbs_up")
    assert (thumbs.trace_id, thumbs.trace_parent_id, thumbs.judgment) == (
        turn.trace_id,
        judged.log_id,
        True,
    )
    lines = render_tree(records)
    assert any("thumbs_up = 👍 true (user)" in line and "from the UI" in line for line in lines)


def test_http_exporter_sends_scores_the_receiver_stores(tmp_path: Path) -> None:
    """A score sent by HttpExporter is stored by the receiver under the judged log's trace."""
    db = tmp_path / "server.db"
    with ServerThread(create_app(db_path=db, api_keys=[KEY])) as server:
        exporter = HttpExporter(
            base_url=server.url + "/v5", api_key=KEY, spool_path=tmp_path / "spool"
        )
        promptrail.configure(exporters=[exporter])
        with trace(path="chat/turn") as turn:
            answer("q")
        promptrail.flush()
        judged = next(
            r for r in SqliteStore(db).trace(str(turn.trace_id)) if r.path == "chat/answer"
        )
        # Scored later, in a fresh trace context: only the log id is known.
        promptrail.score(judged.log_id, "thumbs_up", False)
        promptrail.flush()
        promptrail.shutdown()
    records = SqliteStore(db).trace(str(turn.trace_id))
    thumbs = next(r for r in records if r.path == "thumbs_up")
    assert (thumbs.kind, thumbs.parent_id, thumbs.judgment) == ("evaluator", judged.log_id, False)
