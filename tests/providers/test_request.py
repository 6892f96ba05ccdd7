"""The request side: prompt details, messages and tool choice from the call's arguments."""

from __future__ import annotations

from typing import Any

import pytest

import promptrail
from promptrail.providers._request import normalize_tool_choice, normalize_tools, request_fields
from promptrail.testing import capture_logs

USER = [{"role": "user", "content": "hi"}]


class TestRequestFields:
    """``request_fields``: what a call asked for."""

    def test_call_arguments_win_over_decorator_defaults(self) -> None:
        """Decorator values are defaults; a call argument of the same name replaces them."""
        prompt, _, _ = request_fields(
            {"model": "gpt-4o", "provider": "openai", "template": "Say {x}"},
            {"model": "gpt-4o-mini", "temperature": 0.3, "question": "unrelated"},
            USER,
        )
        assert prompt == {
            "model": "gpt-4o-mini",
            "provider": "openai",
            "template": "Say {x}",
            "temperature": 0.3,
        }

    def test_sdk_spellings_are_normalised(self) -> None:
        """max_completion_tokens, stop_sequences and reasoning.effort get the log's names."""
        prompt, _, _ = request_fields(
            None,
            {
                "max_completion_tokens": 256,
                "stop_sequences": ["END"],
                "reasoning": {"effort": "high"},
                "top_k": 5,
                "seed": 7,
                "response_format": {"type": "json_object"},
                "presence_penalty": 0.1,
                "frequency_penalty": 0.2,
                "top_p": 0.9,
            },
            None,
        )
        assert prompt == {
            "max_tokens": 256,
            "stop": ["END"],
            "reasoning_effort": "high",
            "seed": 7,
            "response_format": {"type": "json_object"},
            "presence_penalty": 0.1,
            "frequency_penalty": 0.2,
            "top_p": 0.9,
            "other": {"top_k": 5},
        }

    def test_wrong_types_and_sentinels_never_break_the_record(self) -> None:
        """A value of the wrong type goes to ``other``; SDK "not given" sentinels are skipped."""
        openai = pytest.importorskip("openai")
        prompt, _, choice = request_fields(
            None,
            {"temperature": "hot", "max_tokens": True, "seed": openai.NOT_GIVEN, "stop": [1]},
            None,
        )
        assert prompt == {"other": {"temperature": "hot", "max_tokens": True, "stop": [1]}}
        assert choice is None

    def test_system_argument_becomes_the_first_message(self) -> None:
        """Anthropic's ``system=`` is logged as a leading system message."""
        _, messages, _ = request_fields(None, {"system": "Be brief."}, USER)
        assert messages == [{"role": "system", "content": "Be brief."}, *USER]

    def test_system_is_ignored_without_messages(self) -> None:
        """A ``system`` argument alone (no messages) is an ordinary input."""
        _, messages, _ = request_fields(None, {"system": "Be brief."}, None)
        assert messages is None


class TestNormalize:
    """Tool definitions and tool choices in one vocabulary."""

    def test_tools_of_every_provider_get_one_shape(self) -> None:
        """OpenAI Chat, OpenAI Responses and Anthropic tools become name/description/parameters."""
        schema = {"type": "object", "properties": {"city": {"type": "string"}}}
        expected = {"name": "lookup", "description": "Find.", "parameters": schema}
        chat = {"type": "function", "function": {**expected}}
        responses = {"type": "function", **expected}
        anthropic = {"name": "lookup", "description": "Find.", "input_schema": schema}
        builtin = {"type": "web_search_preview"}
        assert normalize_tools([chat, responses, anthropic, builtin]) == [
            expected,
            expected,
            expected,
            builtin,
        ]

    @pytest.mark.parametrize(
        ("choice", "expected"),
        [
            ("auto", "auto"),
            ({"type": "auto"}, "auto"),
            ({"type": "any"}, "required"),
            ({"type": "none"}, "none"),
            ({"type": "tool", "name": "f"}, {"type": "function", "function": {"name": "f"}}),
            ({"type": "function", "name": "f"}, {"type": "function", "function": {"name": "f"}}),
            (
                {"type": "function", "function": {"name": "f"}},
                {"type": "function", "function": {"name": "f"}},
            ),
        ],
    )
    def test_tool_choice_uses_the_openai_form(self, choice: Any, expected: Any) -> None:
        """Anthropic and Responses API tool choices are translated to the Chat form."""
        assert normalize_tool_choice(choice) == expected


class TestThroughTheDecorator:
    """The request side as users see it in records."""

    def test_prompt_details_from_call_and_decorator(self) -> None:
        """Function defaults, call arguments and decorator options all reach ``prompt``."""

        @promptrail.log_prompt(path="p", provider="openai", template="Answer: {q}")
        def answer(q: str, messages: list[Any], model: str = "gpt-4o", **kw: Any) -> str:
            return "ok"

        with capture_logs() as logs:
            answer("q1", USER, temperature=0.1, max_completion_tokens=50, tool_choice="none")
        record = logs[0]
        assert record.prompt is not None
        assert record.prompt.model_dump(exclude_none=True) == {
            "model": "gpt-4o",
            "provider": "openai",
            "template": "Answer: {q}",
            "temperature": 0.1,
            "max_tokens": 50,
        }
        assert record.tool_choice == "none"
        assert [m.model_dump(exclude_none=True) for m in record.messages or []] == USER

    def test_tool_and_flow_logs_have_no_prompt(self) -> None:
        """Only prompt logs read model parameters from their arguments."""

        @promptrail.log_tool
        def lookup(model: str) -> str:
            return model

        with capture_logs() as logs:
            lookup(model="gpt-4o")
        assert logs[0].prompt is None
        assert logs[0].version_id is None
