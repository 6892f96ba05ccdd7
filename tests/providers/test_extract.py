"""Response extraction: what OpenAI and Anthropic SDK calls return becomes a complete log."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

import promptrail
from promptrail.providers import _registry as _extract
from promptrail.providers._common import get
from promptrail.testing import capture_logs


def _tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


class TestChatCompletion:
    """OpenAI Chat Completions, through a real client."""

    def test_the_model_that_answered_is_kept(self, data: Any) -> None:
        """A deployment name called, a dated model answering: both logged, priced as the latter."""

        @promptrail.log_prompt(path="qa/azure")
        def answer(messages: list[dict[str, Any]], model: str = "my-deployment") -> Any:
            return {**data.CHAT_COMPLETION, "model": "gpt-4o-mini-2024-07-18"}

        @promptrail.log_prompt(path="qa/same")
        def same(messages: list[dict[str, Any]], model: str = "gpt-4o-mini") -> Any:
            return {**data.CHAT_COMPLETION, "model": "gpt-4o-mini"}

        with capture_logs() as logs:
            answer(data.USER)
            same(data.USER)
        azure, plain = logs
        assert azure.prompt is not None
        assert azure.prompt.model == "my-deployment"
        assert azure.metadata["response_model"] == "gpt-4o-mini-2024-07-18"
        assert azure.prompt_cost is not None  # priced as gpt-4o-mini, not the deployment name
        assert "response_model" not in plain.metadata  # the same model: nothing to add

    def test_answer_usage_and_cost_are_logged(
        self, openai_client: Any, api: Any, data: Any
    ) -> None:
        """Text, finish reason, tokens, cached tokens, model, provider and cost land in the log."""
        api.json(data.CHAT_COMPLETION)

        @promptrail.log_prompt(path="qa/answer")
        def answer(messages: list[dict[str, Any]], model: str = "gpt-4o") -> Any:
            return openai_client.chat.completions.create(model=model, messages=messages)

        with capture_logs() as logs:
            completion = answer(data.USER)
        assert completion.choices[0].message.content == "Paris."
        body = logs[0].to_body()
        assert body["output"] == "Paris."
        assert body["output_message"] == {"role": "assistant", "content": "Paris."}
        assert body["messages"] == data.USER
        assert body["finish_reason"] == "stop"
        assert (body["prompt_tokens"], body["output_tokens"], body["reasoning_tokens"]) == (
            1200,
            300,
            100,
        )
        # the snapshot that answered, which the cost is computed for
        assert body["metadata"] == {
            "cached_prompt_tokens": 1000,
            "response_model": "gpt-4o-2024-08-06",
            "price_source": "genai-prices 0.2.3: openai/gpt-4o",
        }
        assert body["prompt"] == {"model": "gpt-4o", "endpoint": "chat", "provider": "openai"}
        # gpt-4o: $2.50 in, $1.25 cached in, $10 out per million tokens
        assert body["prompt_cost"] == pytest.approx((200 * 2.50 + 1000 * 1.25) / 1e6)
        assert body["output_cost"] == pytest.approx(300 * 10.0 / 1e6)
        assert body["version_id"].startswith("pv_")

    def test_tool_calls_are_logged_in_the_output_message(
        self, openai_client: Any, api: Any, data: Any
    ) -> None:
        """Tool calls requested by the model are kept with ids, names and arguments."""
        choice = data.CHAT_COMPLETION["choices"][0]
        choice["message"] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                _tool_call("call_1", "lookup", '{"city": "Paris"}'),
                _tool_call("call_2", "weather", '{"city": "Paris"}'),
            ],
        }
        choice["finish_reason"] = "tool_calls"
        api.json(data.CHAT_COMPLETION)

        @promptrail.log_prompt
        def answer(**kwargs: Any) -> Any:
            return openai_client.chat.completions.create(**kwargs)

        with capture_logs() as logs:
            answer(model="gpt-4o", messages=data.USER, tool_choice="auto")
        record = logs[0]
        assert record.output is None
        assert record.finish_reason == "tool_calls"
        assert record.tool_choice == "auto"
        assert record.output_message is not None
        assert [c.model_dump() for c in record.output_message.tool_calls or []] == [
            _tool_call("call_1", "lookup", '{"city": "Paris"}'),
            _tool_call("call_2", "weather", '{"city": "Paris"}'),
        ]

    def test_extra_choices_go_to_metadata(self, openai_client: Any, api: Any, data: Any) -> None:
        """With ``n=2`` the first choice is the output and the second is kept in metadata."""
        second = {
            "index": 1,
            "message": {"role": "assistant", "content": "Paris, France."},
            "finish_reason": "length",
        }
        data.CHAT_COMPLETION["choices"].append(second)
        api.json(data.CHAT_COMPLETION)

        @promptrail.log_prompt
        def answer(**kwargs: Any) -> Any:
            return openai_client.chat.completions.create(**kwargs)

        with capture_logs() as logs:
            answer(model="gpt-4o", messages=data.USER, n=2)
        record = logs[0]
        assert record.output == "Paris."
        assert record.metadata["extra_choices"] == [
            {
                "index": 1,
                "output_message": {"role": "assistant", "content": "Paris, France."},
                "finish_reason": "length",
            }
        ]
        assert record.prompt is not None
        assert record.prompt.other == {"n": 2}

    def test_refusal_is_the_output(self, openai_client: Any, api: Any, data: Any) -> None:
        """A refusal has no content: its text becomes the output and is flagged in metadata."""
        data.CHAT_COMPLETION["choices"][0]["message"] = {
            "role": "assistant",
            "content": None,
            "refusal": "I can't help with that.",
        }
        api.json(data.CHAT_COMPLETION)

        @promptrail.log_prompt
        def answer(**kwargs: Any) -> Any:
            return openai_client.chat.completions.create(**kwargs)

        with capture_logs() as logs:
            answer(model="gpt-4o", messages=data.USER)
        assert logs[0].output == "I can't help with that."
        assert logs[0].metadata["refusal"] == "I can't help with that."

    def test_content_filter_finish_reason_is_kept(
        self, openai_client: Any, api: Any, data: Any
    ) -> None:
        """A filtered answer is logged with the provider's finish reason."""
        data.CHAT_COMPLETION["choices"][0]["finish_reason"] = "content_filter"
        data.CHAT_COMPLETION["choices"][0]["message"]["content"] = ""
        api.json(data.CHAT_COMPLETION)

        @promptrail.log_prompt
        def answer(**kwargs: Any) -> Any:
            return openai_client.chat.completions.create(**kwargs)

        with capture_logs() as logs:
            answer(model="gpt-4o", messages=data.USER)
        assert logs[0].finish_reason == "content_filter"
        assert logs[0].output == ""

    def test_sdk_error_is_logged_and_propagates(self, openai_client: Any, api: Any) -> None:
        """A 429 raised by the client ends the log with ``error``; the same exception propagates."""
        openai = pytest.importorskip("openai")
        api.json({"error": {"message": "Rate limit reached", "type": "rate_limit"}}, status=429)

        @promptrail.log_prompt
        def answer(**kwargs: Any) -> Any:
            return openai_client.chat.completions.create(**kwargs)

        with capture_logs() as logs, pytest.raises(openai.RateLimitError) as caught:
            answer(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], temperature=0.5)
        assert caught.value.status_code == 429
        record = logs[0]
        assert record.error is not None
        assert record.error.startswith("RateLimitError: ")
        assert record.output is None
        assert record.prompt is not None
        assert (record.prompt.model, record.prompt.temperature) == ("gpt-4o", 0.5)
        assert (record.prompt_cost, record.output_cost) == (None, None)

    def test_dict_shape_gives_the_same_fields(self, data: Any) -> None:
        """A ChatCompletion as a plain dict logs like the SDK object (without the provider)."""

        @promptrail.log_prompt
        def answer() -> dict[str, Any]:
            return data.CHAT_COMPLETION  # type: ignore[no-any-return]

        with capture_logs() as logs:
            answer()
        body = logs[0].to_body()
        assert body["output"] == "Paris."
        assert body["prompt"] == {"model": data.OPENAI_MODEL, "endpoint": "chat"}
        assert (body["prompt_tokens"], body["output_tokens"], body["reasoning_tokens"]) == (
            1200,
            300,
            100,
        )
        assert body["metadata"] == {
            "cached_prompt_tokens": 1000,
            "price_source": "genai-prices 0.2.3: openai/gpt-4o",
        }
        assert body["prompt_cost"] is not None


class TestResponsesApi:
    """OpenAI Responses API ``Response`` objects."""

    def test_response_is_logged(self, openai_client: Any, api: Any, data: Any) -> None:
        """Output text, function calls, reasoning summary, usage and status are read."""
        api.json(data.RESPONSE)

        @promptrail.log_prompt
        def answer(**kwargs: Any) -> Any:
            return openai_client.responses.create(**kwargs)

        with capture_logs() as logs:
            answer(
                model="o4-mini",
                input=data.USER,
                instructions="Be brief.",
                reasoning={"effort": "low"},
                max_output_tokens=500,
            )
        body = logs[0].to_body()
        assert body["output"] == "Paris."
        assert body["output_message"] == {
            "role": "assistant",
            "content": "Paris.",
            "tool_calls": [_tool_call("call_1", "lookup", '{"city": "Paris"}')],
            "thinking": "Look it up.",
        }
        assert body["messages"] == [{"role": "system", "content": "Be brief."}, *data.USER]
        assert body["finish_reason"] == "tool_calls"
        assert (body["prompt_tokens"], body["output_tokens"], body["reasoning_tokens"]) == (
            40,
            20,
            12,
        )
        assert body["prompt"] == {
            "model": "o4-mini",
            "endpoint": "chat",
            "provider": "openai",
            "max_tokens": 500,
            "reasoning_effort": "low",
        }

    def test_text_input_is_the_user_message(self, openai_client: Any, api: Any, data: Any) -> None:
        """``input="..."`` (the common form) is logged as a user message after the instructions."""
        api.json(data.RESPONSE)

        @promptrail.log_prompt
        def answer(**kwargs: Any) -> Any:
            return openai_client.responses.create(**kwargs)

        with capture_logs() as logs:
            answer(model="o4-mini", input="Capital of France?", instructions="Be brief.")
        assert logs[0].to_body()["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Capital of France?"},
        ]

    def test_provider_request_holds_what_the_call_passed(self) -> None:
        """The messages promptrail derives (system, text input) are not put into the request."""

        @promptrail.log_prompt(capture_provider_payloads=True)
        def answer(**kwargs: Any) -> Any:
            return "ok"

        with capture_logs() as logs:
            answer(model="o4-mini", input="Capital of France?", instructions="Be brief.")
            answer(
                model="claude-haiku-4-5",
                system="Be brief.",
                messages=[{"role": "user", "content": "Hi"}],
            )
        text, anthropic = logs
        assert text.provider_request == {
            "model": "o4-mini",
            "input": "Capital of France?",
            "instructions": "Be brief.",
        }
        assert anthropic.provider_request is not None
        assert anthropic.provider_request["messages"] == [{"role": "user", "content": "Hi"}]
        assert anthropic.messages is not None
        assert [m.role for m in anthropic.messages] == ["system", "user"]

    def test_text_input_without_a_model_is_only_an_input(self) -> None:
        """A function that merely has an ``input`` text argument gets no invented messages."""

        @promptrail.log_prompt
        def classify(input: str) -> str:
            return "positive"

        with capture_logs() as logs:
            classify("great product")
        assert logs[0].messages is None
        assert logs[0].inputs == {"input": "great product"}

    def test_incomplete_status_maps_to_length(self, data: Any) -> None:
        """``status="incomplete"`` for ``max_output_tokens`` is the finish reason ``length``."""
        data.RESPONSE["status"] = "incomplete"
        data.RESPONSE["incomplete_details"] = {"reason": "max_output_tokens"}
        data.RESPONSE["output"] = data.RESPONSE["output"][:2]
        assert _extract.extract(data.RESPONSE)["finish_reason"] == "length"


class TestAnthropicMessage:
    """Anthropic Messages, through a real client."""

    def test_blocks_usage_and_cache_are_logged(
        self, anthropic_client: Any, api: Any, data: Any
    ) -> None:
        """Thinking, text and tool_use blocks, stop reason and cache tokens land in the log."""
        api.json(data.ANTHROPIC_MESSAGE)

        @promptrail.log_prompt(path="qa/claude")
        def answer(**kwargs: Any) -> Any:
            return anthropic_client.messages.create(**kwargs)

        with capture_logs() as logs:
            answer(
                model="claude-sonnet-4-20250514",
                system="Be brief.",
                messages=data.USER,
                max_tokens=1024,
                tool_choice={"type": "any"},
                tools=[
                    {
                        "name": "lookup",
                        "description": "Look a city up.",
                        "input_schema": {"type": "object", "properties": {}},
                    }
                ],
            )
        body = logs[0].to_body()
        assert body["output"] == "Paris."
        assert body["output_message"] == {
            "role": "assistant",
            "content": "Paris.",
            "tool_calls": [_tool_call("toolu_1", "lookup", '{"city": "Paris"}')],
            "thinking": "The user asks about France.",
        }
        assert body["messages"] == [{"role": "system", "content": "Be brief."}, *data.USER]
        assert body["finish_reason"] == "tool_use"
        assert body["tool_choice"] == "required"
        assert (body["prompt_tokens"], body["output_tokens"]) == (1300, 50)
        assert body["metadata"] == {
            "cached_prompt_tokens": 1000,
            "cache_creation_prompt_tokens": 200,
            "price_source": "genai-prices 0.2.3: anthropic/claude-sonnet-4-0",
        }
        assert body["prompt"]["tools"] == [
            {
                "name": "lookup",
                "description": "Look a city up.",
                "parameters": {"type": "object", "properties": {}},
            }
        ]
        assert body["prompt"]["provider"] == "anthropic"
        # claude-sonnet-4: $3 in, $0.30 cache read, $3.75 cache write, $15 out per million
        assert body["prompt_cost"] == pytest.approx((100 * 3 + 1000 * 0.3 + 200 * 3.75) / 1e6)
        assert body["output_cost"] == pytest.approx(50 * 15 / 1e6)

    def test_dict_shape_gives_the_same_fields(self, data: Any) -> None:
        """An Anthropic message as a plain dict logs like the SDK object."""
        fields = _extract.extract(data.ANTHROPIC_MESSAGE)
        assert fields["output"] == "Paris."
        assert fields["finish_reason"] == "tool_use"
        assert fields["prompt"] == {"model": data.ANTHROPIC_MODEL, "endpoint": "chat"}


class TestRegistry:
    """User extractors and plain values."""

    def test_user_extractor_runs_before_the_builtin_ones(self, data: Any) -> None:
        """A registered extractor that answers wins over the built-in ChatCompletion reader."""

        def mine(value: Any) -> dict[str, Any] | None:
            if isinstance(value, dict) and value.get("object") == "chat.completion":
                return {"output": "mine"}
            return None

        promptrail.register_extractor(mine)
        try:
            assert _extract.extract(data.CHAT_COMPLETION) == {"output": "mine"}
            assert _extract.extract(data.ANTHROPIC_MESSAGE)["output"] == "Paris."
        finally:
            promptrail.unregister_extractor(mine)

    def test_plain_string_is_the_output(self) -> None:
        """A str return value is the output as it is."""
        assert _extract.extract("Paris.") == {"output": "Paris."}

    def test_unknown_dict_is_kept_whole(self) -> None:
        """A dict of no known shape is the output (logged as JSON)."""
        assert _extract.extract({"answer": 42}) == {"output": {"answer": 42}}

    def test_sdks_are_not_imported_by_promptrail(self) -> None:
        """Extracting a dict-shaped response imports neither openai nor anthropic."""
        code = (
            "import sys, promptrail.providers._registry as e\n"
            "e.extract({'object': 'chat.completion', 'choices': []})\n"
            "e.extract({'type': 'message', 'role': 'assistant', 'content': []})\n"
            "print(sorted(m for m in ('openai', 'anthropic') if m in sys.modules))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=20, check=True
        )
        assert json.loads(out.stdout.replace("'", '"')) == []


class TestNumbers:
    """Numbers are outputs as they are; user extractors still see them first."""

    @pytest.mark.parametrize("value", [5, 1.5, True, 0])
    def test_number_is_the_output(self, value: Any) -> None:
        """A number result is kept as the output (written as JSON text later)."""
        assert _extract.extract(value) == {"output": value}

    def test_user_extractor_reads_numbers(self) -> None:
        """A registered extractor answering for ints wins over the shortcut."""

        def tokens(value: Any) -> dict[str, Any] | None:
            return {"output_tokens": value} if type(value) is int else None

        promptrail.register_extractor(tokens)
        try:
            assert _extract.extract(7) == {"output_tokens": 7}
            assert _extract.extract(7.5) == {"output": 7.5}
        finally:
            promptrail.unregister_extractor(tokens)


class TestGet:
    """The field reader answers for None as it always did."""

    def test_none_has_no_fields(self) -> None:
        """Reading from None gives the default; its dunder attributes are still attributes."""
        assert get(None, "usage") is None
        assert get(None, "index", 0) == 0
        assert get(None, "__class__") is type(None)
