"""instrument_openai() and instrument_anthropic(): real SDK clients on a fake API."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import pytest
from tests.fixtures.sdk import FakeAPI, sdk_client

import promptrail
from promptrail import ConfigurationError, LogRecord, log_flow, log_prompt, update_current
from promptrail.testing import capture_logs

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")

PIRATE = [
    {"role": "system", "content": "Answer like a pirate."},
    {"role": "user", "content": "What is the capital of France?"},
]


@pytest.fixture(autouse=True)
def _uninstrumented() -> Iterator[None]:
    """Every test starts and ends with the SDKs' own methods."""
    promptrail.uninstrument_openai()
    promptrail.uninstrument_anthropic()
    yield
    promptrail.uninstrument_openai()
    promptrail.uninstrument_anthropic()


def only(logs: list[LogRecord]) -> LogRecord:
    assert len(logs) == 1, [r.path for r in logs]
    return logs[0]


class TestPromptBuiltInTheBody:
    """The issue's function: prompt built in the body, text returned."""

    def test_the_decorated_log_gets_messages_parameters_tokens_cost_and_model(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """One decorated function is one complete log, whatever it returns."""
        api.json(data.CHAT_COMPLETION)
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()

        @log_prompt(path="support/answer")
        def answer(q: str) -> str:
            resp = client.chat.completions.create(
                model="gpt-4o",
                temperature=0.7,
                messages=[PIRATE[0], {"role": "user", "content": q}],
            )
            return str(resp.choices[0].message.content)

        with capture_logs() as logs:
            text = answer("What is the capital of France?")
        record = only(logs)
        assert record.path == "support/answer"
        assert record.inputs == {"q": "What is the capital of France?"}
        assert record.output == text
        assert [m.role for m in record.messages or []] == ["system", "user"]
        assert record.prompt is not None
        assert record.prompt.model == "gpt-4o"
        assert record.prompt.temperature == 0.7
        assert record.prompt.template == "Answer like a pirate."
        assert record.prompt_tokens == data.CHAT_COMPLETION["usage"]["prompt_tokens"]
        assert record.output_tokens == data.CHAT_COMPLETION["usage"]["completion_tokens"]
        assert record.finish_reason == "stop"
        assert record.prompt_cost is not None
        assert record.metadata["response_model"] == data.OPENAI_MODEL
        assert record.output_message is not None

    def test_responses_api_version_completes_the_decorated_log(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """The function on responses.create is one complete log, instructions as the system."""
        api.json(data.RESPONSE)
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()

        @log_prompt(path="support/answer")
        def answer(q: str) -> str:
            resp = client.responses.create(
                model="gpt-4o", temperature=0.7, instructions="Answer like a pirate.", input=q
            )
            return str(resp.output_text)

        with capture_logs() as logs:
            text = answer("What is the capital of France?")
        record = only(logs)
        assert record.path == "support/answer"
        assert record.output == text
        assert [m.role for m in record.messages or []] == ["system", "user"]
        assert record.prompt is not None
        assert record.prompt.model == "gpt-4o"
        assert record.prompt.temperature == 0.7
        assert record.prompt.template == "Answer like a pirate."
        assert record.prompt_tokens is not None
        assert record.output_tokens is not None
        assert record.prompt_cost is not None

    def test_decorator_options_and_update_current_win(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """What the decorator or update_current set is kept over the call's details."""
        api.json(data.CHAT_COMPLETION)
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()

        @log_prompt(path="p", model="our-deployment", template="T")
        def answer() -> None:
            client.chat.completions.create(model="gpt-4o", temperature=0.9, messages=PIRATE)
            update_current(finish_reason="custom", output="mine")

        with capture_logs() as logs:
            answer()
        record = only(logs)
        assert record.prompt is not None
        assert record.prompt.model == "our-deployment"
        assert record.prompt.template == "T"
        assert record.prompt.temperature == 0.9
        assert record.finish_reason == "custom"
        assert record.output == "mine"

    def test_version_changes_with_the_system_prompt(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """The version id is the prompt as sent: another system prompt, another version."""
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()

        @log_prompt(path="p")
        def answer(system: str) -> None:
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "system", "content": system}, *data.USER]
            )

        with capture_logs() as logs:
            for system in ("Be brief.", "Be brief.", "Be verbose."):
                api.json(data.CHAT_COMPLETION)
                answer(system)
        versions = [r.version_id for r in logs]
        assert versions[0] == versions[1] != versions[2]

    def test_anthropic_system_in_the_body_is_the_system_message(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """Anthropic's system= set in the body is recorded as the first message."""
        api.json(data.ANTHROPIC_MESSAGE)
        client = sdk_client(api, "anthropic", "Anthropic")
        promptrail.instrument_anthropic()

        @log_prompt(path="p")
        def answer() -> str:
            reply = client.messages.create(
                model="claude-sonnet-4-0", max_tokens=100, system="Be brief.", messages=data.USER
            )
            return "".join(b.text for b in reply.content if b.type == "text")

        with capture_logs() as logs:
            answer()
        record = only(logs)
        assert record.messages is not None
        assert record.messages[0].role == "system"
        assert record.messages[0].content == "Be brief."
        assert record.prompt is not None
        assert record.prompt.max_tokens == 100
        assert record.prompt_tokens is not None
        assert record.output_tokens is not None

    async def test_async_client(self, api: FakeAPI, data: SimpleNamespace) -> None:
        """The async client's call completes the decorated async function's log."""
        api.json(data.CHAT_COMPLETION)
        client = sdk_client(api, "openai", "AsyncOpenAI", is_async=True)
        promptrail.instrument_openai()

        @log_prompt(path="p")
        async def answer() -> str:
            resp = await client.chat.completions.create(model="gpt-4o", messages=PIRATE)
            return str(resp.choices[0].message.content)

        with capture_logs() as logs:
            await answer()
        record = only(logs)
        assert record.prompt_tokens is not None
        assert [m.role for m in record.messages or []] == ["system", "user"]


class TestStreams:
    """Streamed calls: the stream is the SDK's, and its usage reaches the log."""

    def test_generator_reyielding_the_stream_gets_tokens_and_finish_reason(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """A decorated generator that re-yields the text gets the stream's usage."""
        api.sse(data.chat_chunks(), done=True)
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()

        @log_prompt(path="p")
        def answer() -> Iterator[str]:
            stream = client.chat.completions.create(
                model="gpt-4o", messages=PIRATE, stream=True, stream_options={"include_usage": True}
            )
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content

        with capture_logs() as logs:
            text = "".join(answer())
        record = only(logs)
        assert record.output == text
        assert record.prompt_tokens is not None
        assert record.output_tokens is not None
        assert record.finish_reason == "stop"
        assert record.prompt_cost is not None

    async def test_async_generator_reyielding_an_anthropic_stream(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """The same for an async generator over Anthropic's stream=True."""
        api.sse(data.anthropic_events())
        client = sdk_client(api, "anthropic", "AsyncAnthropic", is_async=True)
        promptrail.instrument_anthropic()

        @log_prompt(path="p")
        async def answer() -> AsyncIterator[str]:
            stream = await client.messages.create(
                model="claude-sonnet-4-0", max_tokens=50, messages=data.USER, stream=True
            )
            async for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    yield event.delta.text

        with capture_logs() as logs:
            parts = [part async for part in answer()]
        record = only(logs)
        assert record.output == "".join(parts)
        assert record.output_tokens is not None
        assert record.finish_reason is not None

    def test_stream_helper_is_its_own_log_and_keeps_its_api(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """messages.stream(...) outside any log: one root log, the helper's API unchanged."""
        api.sse(data.anthropic_events())
        client = sdk_client(api, "anthropic", "Anthropic")
        promptrail.instrument_anthropic()
        with (
            capture_logs() as logs,
            client.messages.stream(
                model="claude-sonnet-4-0", max_tokens=50, messages=data.USER
            ) as stream,
        ):
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        record = only(logs)
        assert record.path == "anthropic/messages.stream"
        assert record.output == text
        assert final.usage.output_tokens == record.output_tokens

    def test_abandoned_stream_still_ends_its_log(self, api: FakeAPI, data: SimpleNamespace) -> None:
        """A stream closed after one chunk ends its log, marked incomplete."""
        api.sse(data.chat_chunks(), done=True)
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()
        with capture_logs() as logs:
            stream = client.chat.completions.create(model="gpt-4o", messages=PIRATE, stream=True)
            next(iter(stream))
            stream.close()
        record = only(logs)
        assert record.metadata.get("promptrail.incomplete") == "closed"


class TestWhereLogsGo:
    """A call completes the enclosing prompt log once; otherwise it is a child log."""

    def test_flow_with_two_calls_has_two_prompt_children(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """Two SDK calls inside a flow are two prompt logs under it."""
        api.json(data.CHAT_COMPLETION).json(data.CHAT_COMPLETION)
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()

        @log_flow(path="flow")
        def flow() -> None:
            client.chat.completions.create(model="gpt-4o", messages=PIRATE)
            client.chat.completions.create(model="gpt-4o", messages=PIRATE)

        with capture_logs() as logs:
            flow()
        by_path = {r.path: r for r in logs}
        children = [r for r in logs if r.kind == "prompt"]
        assert len(children) == 2
        assert {r.trace_parent_id for r in children} == {by_path["flow"].log_id}
        assert {r.path for r in children} == {"openai/chat.completions.create"}

    def test_second_call_in_a_prompt_log_is_a_child(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """The first call completes the prompt log, the second is its child."""
        api.json(data.CHAT_COMPLETION).json(data.CHAT_COMPLETION)
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai(path="llm/call")

        @log_prompt(path="p")
        def answer() -> None:
            client.chat.completions.create(model="gpt-4o", messages=PIRATE)
            client.chat.completions.create(model="gpt-4o-mini", messages=PIRATE)

        with capture_logs() as logs:
            answer()
        outer = next(r for r in logs if r.path == "p")
        inner = next(r for r in logs if r.path == "llm/call")
        assert len(logs) == 2
        assert inner.trace_parent_id == outer.log_id
        assert outer.prompt is not None
        assert outer.prompt.model == "gpt-4o"
        assert inner.prompt is not None
        assert inner.prompt.model == "gpt-4o-mini"

    def test_undecorated_call_is_a_root_log(self, api: FakeAPI, data: SimpleNamespace) -> None:
        """Outside any log the call is a root prompt log with the request and response."""
        api.json(data.RESPONSE)
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()
        with capture_logs() as logs:
            client.responses.create(model="gpt-4o", instructions="Be brief.", input="Hi")
        record = only(logs)
        assert record.path == "openai/responses.create"
        assert record.trace_parent_id is None
        assert [m.role for m in record.messages or []] == ["system", "user"]
        assert record.output_tokens is not None

    def test_sdk_error_is_recorded_with_status_and_type_and_raised_unchanged(
        self, api: FakeAPI
    ) -> None:
        """A 429 from the API: the SDK's exception reaches the caller; the log says what failed."""
        api.json({"error": {"message": "slow down", "type": "rate_limit"}}, status=429)
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()
        with capture_logs() as logs, pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gpt-4o", messages=PIRATE)
        record = only(logs)
        assert record.error is not None
        assert "RateLimitError" in record.error
        assert record.metadata["error_status"] == 429
        assert record.metadata["error_type"] == "RateLimitError"

    def test_embeddings(self, api: FakeAPI) -> None:
        """An embeddings call is logged with its model and tokens, not its vectors."""
        api.json(
            {
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": [0.1] * 8}],
                "model": "text-embedding-3-small",
                "usage": {"prompt_tokens": 3, "total_tokens": 3},
            }
        )
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()
        with capture_logs() as logs:
            client.embeddings.create(model="text-embedding-3-small", input="hi")
        record = only(logs)
        assert record.path == "openai/embeddings.create"
        assert record.prompt_tokens == 3
        assert "0.1" not in str(record.output)


class TestPatching:
    """instrument/uninstrument: idempotent, reversible, per client, thread safe."""

    def test_uninstrument_restores_the_original_methods(self) -> None:
        """After uninstrument the classes hold the SDK's own functions again."""
        completions = openai.resources.chat.completions.completions.Completions
        messages = anthropic.resources.messages.messages.Messages
        before = (completions.create, messages.create)
        promptrail.instrument_openai()
        promptrail.instrument_anthropic()
        assert completions.create is not before[0]
        promptrail.uninstrument_openai()
        promptrail.uninstrument_anthropic()
        assert (completions.create, messages.create) == before

    def test_instrumenting_twice_logs_once(self, api: FakeAPI, data: SimpleNamespace) -> None:
        """A second instrument_openai() changes nothing but the path."""
        api.json(data.CHAT_COMPLETION)
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()
        promptrail.instrument_openai(path="again")
        with capture_logs() as logs:
            client.chat.completions.create(model="gpt-4o", messages=PIRATE)
        assert [r.path for r in logs] == ["again"]

    def test_one_client_leaves_another_untouched(self, api: FakeAPI, data: SimpleNamespace) -> None:
        """instrument_openai(client) traces that client only."""
        api.json(data.CHAT_COMPLETION).json(data.CHAT_COMPLETION)
        traced = sdk_client(api, "openai", "OpenAI")
        other = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai(traced, path="traced")
        with capture_logs() as logs:
            traced.chat.completions.create(model="gpt-4o", messages=PIRATE)
            other.chat.completions.create(model="gpt-4o", messages=PIRATE)
        assert [r.path for r in logs] == ["traced"]
        promptrail.uninstrument_openai()
        with capture_logs() as logs:
            api.json(data.CHAT_COMPLETION)
            traced.chat.completions.create(model="gpt-4o", messages=PIRATE)
        assert logs == []

    def test_a_client_and_every_client_log_once(self, api: FakeAPI, data: SimpleNamespace) -> None:
        """A client instrumented alone and through its class is still logged once per call."""
        api.json(data.CHAT_COMPLETION)
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai(client)
        promptrail.instrument_openai()
        with capture_logs() as logs:
            client.chat.completions.create(model="gpt-4o", messages=PIRATE)
        assert len(logs) == 1

    def test_not_a_client_is_a_configuration_error(self) -> None:
        """Passing something that is not an SDK client says so."""
        with pytest.raises(ConfigurationError, match="not a openai client"):
            promptrail.instrument_openai(object())
        with pytest.raises(ConfigurationError, match="path"):
            promptrail.instrument_anthropic(path="")

    def test_missing_sdk_is_a_configuration_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without the SDK installed, instrumenting raises a clear ConfigurationError."""
        import sys

        monkeypatch.setitem(sys.modules, "anthropic.resources.messages.messages", None)
        with pytest.raises(ConfigurationError, match="pip install anthropic"):
            promptrail.instrument_anthropic()

    def test_concurrent_instrumenting_patches_once(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """Eight threads instrumenting at once leave one wrapper per method."""
        barrier = threading.Barrier(8)

        def go() -> None:
            barrier.wait()
            promptrail.instrument_openai()

        threads = [threading.Thread(target=go) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        api.json(data.CHAT_COMPLETION)
        client = sdk_client(api, "openai", "OpenAI")
        with capture_logs() as logs:
            client.chat.completions.create(model="gpt-4o", messages=PIRATE)
        assert len(logs) == 1

    def test_calls_in_concurrent_tasks_nest_under_their_own_logs(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """Concurrent asyncio tasks each complete their own decorated log."""
        client = sdk_client(api, "openai", "AsyncOpenAI", is_async=True)
        promptrail.instrument_openai()

        @log_prompt(path="p")
        async def answer(i: int) -> str:
            resp = await client.chat.completions.create(model=f"m{i}", messages=PIRATE)
            return str(resp.choices[0].message.content)

        async def main() -> None:
            await asyncio.gather(*(answer(i) for i in range(5)))

        for _ in range(5):
            api.json(data.CHAT_COMPLETION)
        with capture_logs() as logs:
            asyncio.run(main())
        assert len(logs) == 5
        assert sorted(r.prompt.model for r in logs if r.prompt) == [f"m{i}" for i in range(5)]

    def test_importing_promptrail_imports_no_sdk(self) -> None:
        """A fresh interpreter importing promptrail has neither SDK in sys.modules."""
        import subprocess
        import sys

        code = "import sys, promptrail; print('openai' in sys.modules, 'anthropic' in sys.modules)"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
        assert out.stdout.strip() == "False False"


class TestMoreCalls:
    """parse, the chat stream helper, Responses streaming and tool calls."""

    def test_chat_parse_completes_the_decorated_log(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """chat.completions.parse is covered like create."""
        api.json(data.CHAT_COMPLETION)
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()

        @log_prompt(path="p")
        def answer() -> str:
            parsed = client.chat.completions.parse(model="gpt-4o", messages=PIRATE)
            return str(parsed.choices[0].message.content)

        with capture_logs() as logs:
            answer()
        record = only(logs)
        assert record.prompt_tokens == data.CHAT_COMPLETION["usage"]["prompt_tokens"]
        assert record.prompt is not None
        assert record.prompt.model == "gpt-4o"

    def test_chat_stream_helper_in_a_decorated_function(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """chat.completions.stream(...) used inside the function completes its log at the end."""
        api.sse(data.chat_chunks(), done=True)
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()

        @log_prompt(path="p")
        def answer() -> str:
            with client.chat.completions.stream(model="gpt-4o", messages=PIRATE) as stream:
                for _ in stream:
                    pass
                final = stream.get_final_completion()
            return str(final.choices[0].message.content)

        with capture_logs() as logs:
            text = answer()
        record = only(logs)
        assert record.output == text
        assert record.output_tokens is not None
        assert record.finish_reason == "stop"

    def test_chat_stream_helper_outside_any_log_is_one_log(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """The helper's own create(stream=True) inside is not logged a second time."""
        api.sse(data.chat_chunks(), done=True)
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()
        with capture_logs() as logs:
            with client.chat.completions.stream(model="gpt-4o", messages=PIRATE) as stream:
                text = "".join(event.delta for event in stream if event.type == "content.delta")
        record = only(logs)
        assert record.path == "openai/chat.completions.stream"
        assert record.output == text

    def test_responses_stream_is_one_log_with_usage(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """responses.create(stream=True) outside any log: one log with the final usage."""
        done = data.RESPONSE
        api.sse(
            [
                (
                    "response.created",
                    {
                        "type": "response.created",
                        "sequence_number": 0,
                        "response": {**done, "status": "in_progress", "output": [], "usage": None},
                    },
                ),
                (
                    "response.output_text.delta",
                    {
                        "type": "response.output_text.delta",
                        "sequence_number": 1,
                        "item_id": "msg_1",
                        "output_index": 1,
                        "content_index": 0,
                        "delta": "Paris.",
                        "logprobs": [],
                    },
                ),
                (
                    "response.completed",
                    {"type": "response.completed", "sequence_number": 2, "response": done},
                ),
            ]
        )
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()
        with capture_logs() as logs:
            stream = client.responses.create(model="o4-mini", input="Capital?", stream=True)
            events = [event.type for event in stream]
        record = only(logs)
        assert events[-1] == "response.completed"
        assert record.path == "openai/responses.create"
        assert record.output_tokens == done["usage"]["output_tokens"]
        assert record.prompt is not None
        assert record.prompt.model == "o4-mini"

    def test_tool_definitions_and_calls_are_recorded(
        self, api: FakeAPI, data: SimpleNamespace
    ) -> None:
        """The tools sent and the tool call answered are on the log."""
        reply = data.CHAT_COMPLETION
        reply["choices"][0]["message"] = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"city": "Paris"}'},
                }
            ],
        }
        reply["choices"][0]["finish_reason"] = "tool_calls"
        api.json(reply)
        client = sdk_client(api, "openai", "OpenAI")
        promptrail.instrument_openai()
        tool = {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a city up.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }

        @log_prompt(path="p")
        def plan() -> None:
            client.chat.completions.create(
                model="gpt-4o", messages=PIRATE, tools=[tool], tool_choice="auto"
            )

        with capture_logs() as logs:
            plan()
        record = only(logs)
        assert record.prompt is not None
        assert record.prompt.tools is not None
        assert record.prompt.tools[0]["name"] == "lookup"
        assert record.tool_choice == "auto"
        assert record.finish_reason == "tool_calls"
        assert record.output_message is not None
        assert record.output_message.tool_calls is not None
        assert record.output_message.tool_calls[0].function.name == "lookup"


class TestCompatibleServers:
    """OpenAI-compatible servers through the OpenAI client: the provider from the base URL."""

    @pytest.mark.parametrize(
        ("base_url", "provider"),
        [
            ("https://api.groq.com/openai/v1", "groq"),
            ("https://api.deepseek.com/v1", "deepseek"),
            ("https://my-resource.openai.azure.com/openai", "azure"),
            ("http://127.0.0.1:8000/v1", "openai"),  # a local vLLM cannot be told apart
        ],
    )
    def test_provider_recorded_from_base_url(
        self, api: FakeAPI, data: SimpleNamespace, base_url: str, provider: str
    ) -> None:
        """Each client's calls name the provider its base URL points at."""
        import httpx2

        api.json(data.CHAT_COMPLETION)
        client = openai.OpenAI(
            api_key="sk-test",
            base_url=base_url,
            http_client=httpx2.Client(transport=httpx2.MockTransport(api.handler)),
            max_retries=0,
        )
        promptrail.instrument_openai(client)
        with capture_logs() as logs:
            client.chat.completions.create(model="llama-3.3-70b", messages=PIRATE)
        record = only(logs)
        assert record.prompt is not None
        assert record.prompt.provider == provider
