"""The terminal drawing of traces: tree, timeline bars, details, colours and escaping."""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable

import pytest

from promptrail import LogRecord
from promptrail.cli._viewer import (
    Palette,
    format_cost,
    format_duration,
    log_duration,
    render_trace,
    render_tree,
    sanitize,
)

Factory = Callable[..., list[LogRecord]]
BASE = datetime.datetime(2026, 11, 24, 10, 0, tzinfo=datetime.UTC)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


class TestFormats:
    """Durations, costs and durations of logs."""

    @pytest.mark.parametrize(
        ("seconds", "text"),
        [
            (None, "?"),
            (0.00042, "0.42ms"),
            (0.012, "12ms"),
            (0.5, "500ms"),
            (1.234, "1.23s"),
            (123.0, "2m03s"),
        ],
    )
    def test_format_duration(self, seconds: float | None, text: str) -> None:
        """Durations read as ms below a second, s below a minute, then m and s."""
        assert format_duration(seconds) == text

    @pytest.mark.parametrize(
        ("cost", "text"),
        [
            (None, ""),
            (2.5, "$2.50"),
            (0.0123, "$0.0123"),
            (0.0000858, "$0.000086"),
            (0.0, "$0.000000"),
        ],
    )
    def test_format_cost(self, cost: float | None, text: str) -> None:
        """Costs keep enough digits to be read at any size."""
        assert format_cost(cost) == text

    def test_log_duration_falls_back_to_end_minus_start(self, support_trace: Factory) -> None:
        """Without a measured latency the duration is end minus start; without an end, unknown."""
        root = support_trace("t", base=BASE)[0]
        assert log_duration(root) == 1.2
        no_latency = root.model_copy(update={"provider_latency": None})
        assert log_duration(no_latency) == pytest.approx(1.2)
        assert log_duration(no_latency.model_copy(update={"end_time": None})) is None


class TestPalette:
    """Colours on a terminal only, and never with NO_COLOR."""

    def test_colours_a_terminal(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A TTY gets escape codes."""
        monkeypatch.delenv("NO_COLOR", raising=False)
        assert Palette.for_stream(_Tty()).paint("x", "red") == "\x1b[31mx\x1b[0m"

    def test_plain_for_a_pipe_or_file(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A non-terminal stream gets plain text."""
        monkeypatch.delenv("NO_COLOR", raising=False)
        assert Palette.for_stream(io.StringIO()).paint("x", "red") == "x"

    def test_no_color_wins_over_a_terminal(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """NO_COLOR (non-empty) switches colours off; ``always`` still forces them."""
        monkeypatch.setenv("NO_COLOR", "1")
        assert not Palette.for_stream(_Tty()).enabled
        assert Palette.for_stream(io.StringIO(), "always").enabled
        monkeypatch.setenv("NO_COLOR", "")
        assert Palette.for_stream(_Tty()).enabled
        assert not Palette.for_stream(_Tty(), "never").enabled


class TestSanitize:
    """Log content cannot drive the terminal."""

    def test_control_characters_are_shown_escaped(self) -> None:
        """ESC, BEL and C1 controls become visible escapes; newlines stay; tabs become spaces."""
        assert sanitize("a\x1b[2Jb\x07\x9bc\n\td") == "a\\x1b[2Jb\\x07\\x9bc\n    d"


class TestRenderTree:
    """One line per log with a tree, a waterfall bar and the figures."""

    def test_draws_tree_with_bars_and_figures(self, support_trace: Factory) -> None:
        """Children are indented under their parent with bars placed by start and duration."""
        lines = render_tree(support_trace("t", base=BASE))
        assert lines == [
            "support/answer         flow      1.20s ▏████████████████▕",
            "├─ support/search-docs tool      200ms ▏ ███            ▕",
            "└─ support/draft-reply prompt    850ms ▏    ███████████ ▕"
            "  gpt-4o-mini  420+38 tok  $0.000086",
        ]

    def test_error_is_shown_on_its_line_in_red(self, failing_trace: Factory) -> None:
        """The error's first line is shown, red and bold when colours are on."""
        lines = render_tree(failing_trace("t", base=BASE), Palette(True))
        assert lines[1].endswith("\x1b[31;1m✗ RateLimitError: slow down\x1b[0m")
        assert "retry after" not in lines[1]
        assert "\x1b[31m" in lines[1]  # the bar of a failed log is red too

    def test_orphans_become_roots_and_incomplete_logs_say_so(self, support_trace: Factory) -> None:
        """A log whose parent is missing is drawn as a root; an incomplete log is marked."""
        _, search, reply = support_trace("t", base=BASE)
        reply = reply.model_copy(update={"metadata": {"promptrail.incomplete": "shutdown"}})
        lines = render_tree([search, reply])
        assert lines[0].startswith("support/search-docs ")
        assert lines[1].startswith("support/draft-reply ")
        assert lines[1].endswith("(incomplete: shutdown)")
        assert render_tree([]) == []

    def test_instant_logs_fill_the_bar(self, support_trace: Factory) -> None:
        """When every log took no time, each bar spans the whole cell."""
        root = support_trace("t", base=BASE)[0].model_copy(update={"provider_latency": 0.0})
        (line,) = render_tree([root])
        assert "▏████████████████▕" in line

    def test_long_errors_are_cut(self, failing_trace: Factory) -> None:
        """An error line is cut at 100 characters with an ellipsis."""
        root = failing_trace("t", base=BASE)[0].model_copy(update={"error": "E: " + "x" * 300})
        (line,) = render_tree([root])
        assert line.endswith("x…")
        assert len(line.split("✗ ")[1]) == 100


class TestRenderTrace:
    """A header, the tree, and with ``full`` every log's details."""

    def test_header_totals_the_trace(self, support_trace: Factory, failing_trace: Factory) -> None:
        """The header has the id, start, log count, duration, tokens, cost and errors."""
        assert render_trace(support_trace("t", base=BASE))[0] == (
            "trace t  2026-11-24 10:00:00 UTC  3 logs  1.20s  420+38 tok  $0.000086"
        )
        assert render_trace(failing_trace("f", base=BASE))[0] == (
            "trace f  2026-11-24 10:00:00 UTC  2 logs  500ms  ✗ 2 errors"
        )
        partial = render_trace(support_trace("t", base=BASE)[2:])
        assert partial[0].endswith("1 log  850ms  420+38 tok  $0.000086  (root not stored yet)")
        assert render_trace([]) == []

    def test_full_adds_details_under_each_log(self, support_trace: Factory) -> None:
        """Inputs, messages as a chat, tool calls, the reply, metadata and the prompt follow."""
        text = "\n".join(render_trace(support_trace("t", base=BASE), full=True))
        assert '  │  inputs    {"question": "How do I reset my password?"}' in text
        assert '  │  metadata  {"customer": "acme", "tier": "gold"}' in text
        assert '  │     inputs    {"query": "reset password"}' in text
        assert "system     You are a helpful support agent." in text
        assert "user       Reset my password please <script>window.__pwned=1</script>" in text
        assert 'assistant  → search_docs({"q": "reset"})' in text
        assert "tool       [result of call_1]" in text
        assert "reply\n" in text
        assert "assistant  Use the reset link." in text
        assert '"model": "gpt-4o-mini"' in text
        assert "finish    stop" in text
        assert "log t-reply  10:00:00.300 → 10:00:01.150" in text

    def test_full_shows_the_whole_error(self, failing_trace: Factory) -> None:
        """Every line of the error is shown in full mode."""
        text = "\n".join(render_trace(failing_trace("f", base=BASE), full=True))
        assert "error     RateLimitError: slow down\n" in text
        assert "retry after 3s" in text

    def test_message_parts_thinking_and_long_json(self, support_trace: Factory) -> None:
        """Content parts, thinking and long JSON values are shown readably."""
        from promptrail import ChatMessage

        root = support_trace("t", base=BASE)[0].model_copy(
            update={
                "messages": [
                    ChatMessage(
                        role="user",
                        name="ann",
                        content=[
                            {"type": "text", "text": "look\nhere"},
                            {"type": "image_url", "image_url": {"url": "x"}},
                        ],
                    ),
                    ChatMessage(role="assistant", content="", thinking="hmm"),
                ],
                "inputs": {"long": "y" * 120},
                "output": None,
            }
        )
        text = "\n".join(render_trace([root], full=True))
        assert "user ann   look\n" in text
        assert "here" in text
        assert '{"type": "image_url", "image_url": {"url": "x"}}' in text
        assert "(thinking) hmm" in text
        assert '  "long": "' in text  # pretty-printed over several lines
