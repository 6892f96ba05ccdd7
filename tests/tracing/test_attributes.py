"""Session, user, tags and metadata inherited from trace() and attributes() blocks."""

from __future__ import annotations

import asyncio
import threading

import pytest

import promptrail
from promptrail import attributes, log_prompt, log_tool, trace, update_current_trace
from promptrail._record.models import LogRecord
from promptrail._runtime.state import STATE
from promptrail.exceptions import ConfigurationError
from promptrail.testing import capture_logs


@log_tool(path="leaf")
def leaf(i: int) -> int:
    """A leaf call."""
    return i


@log_prompt(path="middle")
def middle(i: int) -> int:
    """Calls the leaf once."""
    return leaf(i)


@log_prompt(path="aleaf")
async def aleaf(i: int) -> int:
    """An async leaf that yields to the loop."""
    await asyncio.sleep(0)
    return i


def by_input(logs: list[LogRecord], path: str) -> dict[int, LogRecord]:
    """The records of ``path`` keyed by their ``i`` input."""
    return {r.inputs["i"]: r for r in logs if r.path == path and r.inputs}


def test_trace_arguments_reach_every_log_at_any_depth() -> None:
    """A trace's session, user and tags are on the root and on grandchildren."""
    with capture_logs() as logs, trace(path="flow", session_id="s1", user="u1", tags=["a"]):
        middle(1)
    assert {(r.path, r.session_id, r.user, tuple(r.tags or ())) for r in logs} == {
        ("flow", "s1", "u1", ("a",)),
        ("middle", "s1", "u1", ("a",)),
        ("leaf", "s1", "u1", ("a",)),
    }


def test_nested_blocks_add_tags_and_override_the_rest() -> None:
    """An inner block adds its tags and overrides session, user and metadata keys."""
    with (
        capture_logs() as logs,
        attributes(session_id="s1", user="u1", tags=["a"], metadata={"k": 1, "j": 1}),
    ):
        leaf(1)
        with attributes(user="u2", tags=["b", "a"], metadata={"k": 2}):
            leaf(2)
        leaf(3)
    got = by_input(logs, "leaf")
    assert (got[1].user, got[1].tags, got[1].metadata) == ("u1", ["a"], {"k": 1, "j": 1})
    assert (got[2].session_id, got[2].user, got[2].tags) == ("s1", "u2", ["a", "b"])
    assert got[2].metadata == {"k": 2, "j": 1}
    assert (got[3].user, got[3].tags) == ("u1", ["a"])


def test_logs_outside_any_block_carry_nothing() -> None:
    """After a block ends, new logs have no session, user or tags."""
    with capture_logs() as logs:
        with attributes(session_id="s1", tags=["a"]):
            leaf(1)
        leaf(2)
    after = by_input(logs, "leaf")[2]
    assert (after.session_id, after.user, after.tags) == (None, None, None)
    assert "session_id" not in after.to_body()
    assert "tags" not in after.to_body()


def test_asyncio_tasks_inherit() -> None:
    """Tasks created inside an async block carry its values."""

    async def main() -> None:
        async with attributes(session_id="s-async", tags=["t"]):
            await asyncio.gather(*(aleaf(i) for i in range(3)))

    with capture_logs() as logs:
        asyncio.run(main())
    assert {(r.session_id, tuple(r.tags or ())) for r in logs} == {("s-async", ("t",))}
    assert len(logs) == 3


def test_bound_threads_inherit() -> None:
    """A thread started with bind_context carries the block's values."""
    with capture_logs() as logs, attributes(user="u-thread"):
        thread = threading.Thread(target=promptrail.bind_context(leaf), args=(7,))
        thread.start()
        thread.join(timeout=10)
    assert [r.user for r in logs] == ["u-thread"]


def test_a_logs_own_user_and_metadata_win() -> None:
    """update_current(user=..., metadata=...) inside a log overrides the inherited values."""

    @log_tool(path="own")
    def own() -> None:
        promptrail.update_current(user="me", metadata={"k": "mine"})

    with capture_logs() as logs, attributes(user="block", metadata={"k": "block", "x": 1}):
        own()
    assert (logs[0].user, logs[0].metadata) == ("me", {"k": "mine", "x": 1})


def test_update_current_trace_sets_the_root_and_later_logs() -> None:
    """update_current_trace() applies to the root and to logs recorded after it."""
    with capture_logs() as logs, trace(path="flow", tags=["a"]):
        leaf(1)
        update_current_trace(session_id="late", tags=["b"])
        leaf(2)
    got = {r.inputs["i"] if r.inputs else r.path: r for r in logs}
    assert (got["flow"].session_id, got["flow"].tags) == ("late", ["a", "b"])
    assert (got[2].session_id, got[2].tags) == ("late", ["a", "b"])


def test_update_current_trace_outside_a_log_does_nothing() -> None:
    """Outside any log it returns False."""
    assert update_current_trace(user="u") is False


@pytest.mark.parametrize(
    "kwargs",
    [{"session_id": 3}, {"user": ""}, {"tags": [1]}, {"tags": 5}, {"metadata": [1]}],
)
def test_wrong_types_are_configuration_errors(kwargs: dict[str, object]) -> None:
    """Values of the wrong type are reported where the block is written."""
    with pytest.raises(ConfigurationError):
        attributes(**kwargs)  # type: ignore[arg-type]


def test_a_single_tag_string_is_one_tag() -> None:
    """tags="x" means one tag, not one per character."""
    with capture_logs() as logs, trace(path="flow", tags="support"):
        pass
    assert logs[0].tags == ["support"]


def test_the_hot_path_reads_nothing_until_attributes_are_used() -> None:
    """Until a block is used, new logs take the fast start; afterwards they read the context."""
    with capture_logs():
        assert STATE.slow_start is False
        with attributes(user="u"):
            assert STATE.slow_start is True
