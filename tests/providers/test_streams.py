"""Streams: a returned stream is proxied transparently and its log ends with the stream."""

from __future__ import annotations

import gc
import inspect
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import promptrail
from promptrail.testing import capture_logs

_PER_CALL = {"log_id", "trace_id", "start_time", "end_time", "created_at", "provider_latency"}


def _comparable(record: promptrail.LogRecord) -> dict[str, Any]:
    """A record's body without what differs between two calls (ids, times, stream flags)."""
    body = {k: v for k, v in record.to_body().items() if k not in _PER_CALL}
    flags = ("stream", "stream_options")
    body["inputs"] = {k: v for k, v in body["inputs"].items() if k not in flags}
    body["metadata"] = {k: v for k, v in body["metadata"].items() if k != "time_to_first_token"}
    return body


class TestOpenAIStream:
    """OpenAI Chat Completions streams (``stream=True``)."""

    @pytest.fixture(name="answer")
    def fixture_answer(self, openai_client: Any) -> Any:
        """A decorated function returning what ``chat.completions.create`` returns."""

        @promptrail.log_prompt(path="qa/answer")
        def answer(messages: list[dict[str, Any]], model: str = "gpt-4o", **kwargs: Any) -> Any:
            return openai_client.chat.completions.create(model=model, messages=messages, **kwargs)

        return answer

    def test_streamed_call_logs_like_the_plain_call(self, answer: Any, api: Any, data: Any) -> None:
        """A consumed stream gives the same log as the same call without streaming."""
        api.json(data.CHAT_COMPLETION).sse(data.chat_chunks(), done=True)
        with capture_logs() as logs:
            answer(data.USER)
            stream = answer(data.USER, stream=True, stream_options={"include_usage": True})
            assert logs[1:] == []  # the stream's log is still open
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == "Paris."
        plain, streamed = logs
        assert _comparable(streamed) == _comparable(plain)  # version included
        assert streamed.metadata["time_to_first_token"] == pytest.approx(0.001)
        assert streamed.provider_latency is not None
        assert streamed.provider_latency > streamed.metadata["time_to_first_token"]

    def test_provider_response_is_the_rebuilt_completion(
        self, openai_client: Any, api: Any, data: Any
    ) -> None:
        """With payload capture on, a streamed call records the completion the chunks make."""
        api.sse(data.chat_chunks(), done=True)

        @promptrail.log_prompt(path="qa/raw", capture_provider_payloads=True)
        def answer(messages: list[dict[str, Any]], **kwargs: Any) -> Any:
            return openai_client.chat.completions.create(
                model="gpt-4o", messages=messages, **kwargs
            )

        with capture_logs() as logs:
            list(answer(data.USER, stream=True, stream_options={"include_usage": True}))
        response = logs[0].provider_response
        assert response is not None
        assert response["object"] == "chat.completion"
        assert response["id"] == data.chat_chunks()[0]["id"]
        assert response["choices"][0]["message"]["content"] == "Paris."
        assert response["usage"]["prompt_tokens"] == logs[0].prompt_tokens
        assert "Accumulator" not in logs[0].model_dump_json()

    def test_items_are_exactly_the_sdk_items(
        self, answer: Any, openai_client: Any, api: Any, data: Any
    ) -> None:
        """The proxy yields the same chunks as the undecorated call, and keeps the SDK surface."""
        openai = pytest.importorskip("openai")
        api.sse(data.chat_chunks(), done=True).sse(data.chat_chunks(), done=True)
        original = openai_client.chat.completions.create(
            model="gpt-4o", messages=data.USER, stream=True
        )
        with capture_logs():
            proxied = answer(data.USER, stream=True)
            assert isinstance(proxied, openai.Stream)
            assert proxied.response.status_code == 200
            assert [c.model_dump() for c in proxied] == [c.model_dump() for c in original]

    def test_stream_without_usage_says_usage_unknown(
        self, answer: Any, api: Any, data: Any
    ) -> None:
        """No usage chunk: no token counts and no cost, and ``usage_unknown`` says so."""
        api.sse(data.chat_chunks(usage=False), done=True)
        with capture_logs() as logs:
            list(answer(data.USER, stream=True))
        record = logs[0]
        assert record.output == "Paris."
        assert record.finish_reason == "stop"
        assert record.prompt_tokens is None
        assert record.output_tokens is None
        assert record.prompt_cost is None
        assert record.metadata["usage_unknown"] is True

    def test_close_midway_ends_the_log_as_incomplete(
        self, answer: Any, api: Any, data: Any
    ) -> None:
        """Closing after two chunks logs the partial text, marked closed and usage unknown."""
        api.sse(data.chat_chunks(), done=True)
        with capture_logs() as logs:
            stream = answer(data.USER, stream=True)
            next(stream)
            next(stream)
            stream.close()
            assert stream.response.is_closed
        record = logs[0]
        assert record.output == "Par"
        assert record.finish_reason is None
        assert record.metadata["promptrail.incomplete"] == "closed"
        assert record.metadata["usage_unknown"] is True

    def test_error_midway_is_logged_with_the_partial_output(
        self, answer: Any, api: Any, data: Any
    ) -> None:
        """An error event raises the SDK's exception to the caller; the log keeps both."""
        openai = pytest.importorskip("openai")
        events = [*data.chat_chunks()[:2], {"error": {"message": "overloaded"}}]
        api.sse(events)
        with capture_logs() as logs:
            stream = answer(data.USER, stream=True)
            next(stream)
            next(stream)
            with pytest.raises(openai.APIError, match="overloaded"):
                next(stream)
        record = logs[0]
        assert record.error == "APIError: overloaded"
        assert record.output == "Par"

    def test_unconsumed_stream_collected_ends_the_log(
        self, answer: Any, api: Any, data: Any
    ) -> None:
        """A stream dropped without reading ends its log when garbage-collected."""
        api.sse(data.chat_chunks(), done=True)
        with capture_logs() as logs:
            stream = answer(data.USER, stream=True)
            del stream
            gc.collect()
            promptrail.flush()  # finalizers queue the end; a flush (or the worker) runs it
            assert len(logs) == 1
        assert logs[0].metadata["promptrail.incomplete"] == "never_started"

    def test_with_block_consumes_and_closes(self, answer: Any, api: Any, data: Any) -> None:
        """``with stream:`` works; leaving it early ends the log as closed."""
        api.sse(data.chat_chunks(), done=True).sse(data.chat_chunks(), done=True)
        with capture_logs() as logs:
            with answer(data.USER, stream=True) as stream:
                chunks = list(stream)
            with answer(data.USER, stream=True) as stream:
                next(stream)
        assert len(chunks) == 5
        assert "promptrail.incomplete" not in logs[0].metadata
        assert logs[0].output_tokens == 300
        assert logs[1].metadata["promptrail.incomplete"] == "closed"

    async def test_async_stream(self, async_openai_client: Any, api: Any, data: Any) -> None:
        """``AsyncStream`` through an async decorated function, consumed with ``async for``."""
        api.sse(data.chat_chunks(), done=True).sse(data.chat_chunks(), done=True)

        @promptrail.log_prompt(path="qa/answer")
        async def answer(**kwargs: Any) -> Any:
            return await async_openai_client.chat.completions.create(**kwargs)

        with capture_logs() as logs:
            stream = await answer(model="gpt-4o", messages=data.USER, stream=True)
            assert logs == []
            chunks = [chunk async for chunk in stream]
            async with await answer(model="gpt-4o", messages=data.USER, stream=True) as early:
                await early.__anext__()
        assert len(chunks) == 5
        assert logs[0].output == "Paris."
        assert logs[0].output_tokens == 300
        assert logs[1].metadata["promptrail.incomplete"] == "closed"
        assert logs[1].output == ""

    async def test_async_close(self, async_openai_client: Any, api: Any, data: Any) -> None:
        """``await stream.close()`` ends the log."""
        api.sse(data.chat_chunks(), done=True)

        @promptrail.log_prompt
        async def answer(**kwargs: Any) -> Any:
            return await async_openai_client.chat.completions.create(**kwargs)

        with capture_logs() as logs:
            stream = await answer(model="gpt-4o", messages=data.USER, stream=True)
            await stream.close()
        assert logs[0].metadata["promptrail.incomplete"] == "closed"


class TestAnthropicStream:
    """Anthropic message event streams and the ``messages.stream()`` helper."""

    def test_streamed_call_logs_like_the_plain_call(
        self, anthropic_client: Any, api: Any, data: Any
    ) -> None:
        """Raw events accumulate into the same log as the non-streamed Message."""
        api.json(data.ANTHROPIC_MESSAGE).sse(data.anthropic_events())

        @promptrail.log_prompt
        def answer(**kwargs: Any) -> Any:
            return anthropic_client.messages.create(**kwargs)

        call = {"model": data.ANTHROPIC_MODEL, "messages": data.USER, "max_tokens": 100}
        with capture_logs() as logs:
            answer(**call)
            events = list(answer(**call, stream=True))
        assert len(events) == 15
        plain, streamed = logs
        assert _comparable(streamed) == _comparable(plain)
        assert streamed.prompt_tokens == 1300
        assert streamed.output_tokens == 50

    def test_provider_response_is_the_rebuilt_message(
        self, anthropic_client: Any, api: Any, data: Any
    ) -> None:
        """With payload capture on, a streamed call records the Message its events make."""
        api.sse(data.anthropic_events())

        @promptrail.log_prompt(capture_provider_payloads=True)
        def answer(**kwargs: Any) -> Any:
            return anthropic_client.messages.create(**kwargs)

        call = {"model": data.ANTHROPIC_MODEL, "messages": data.USER, "max_tokens": 100}
        with capture_logs() as logs:
            list(answer(**call, stream=True))
        response = logs[0].provider_response
        assert response is not None
        assert response["type"] == "message"
        assert response["id"] == data.ANTHROPIC_MESSAGE["id"]
        assert response["content"]
        assert logs[0].output in json.dumps(response)

    def test_message_stream_helper(self, anthropic_client: Any, api: Any, data: Any) -> None:
        """A returned ``MessageStreamManager`` works with ``with`` and ``text_stream``."""
        api.sse(data.anthropic_events()).sse(data.anthropic_events())

        @promptrail.log_prompt
        def answer(**kwargs: Any) -> Any:
            return anthropic_client.messages.stream(**kwargs)

        call = {"model": data.ANTHROPIC_MODEL, "messages": data.USER, "max_tokens": 100}
        with capture_logs() as logs:
            with answer(**call) as stream:
                text = "".join(stream.text_stream)
            with answer(**call) as stream:
                final = stream.get_final_message()  # consumed without passing through the proxy
        assert text == "Paris."
        assert final.content[1].text == "Paris."
        for record in logs:
            assert record.output == "Paris."
            assert record.finish_reason == "tool_use"
            assert (record.prompt_tokens, record.output_tokens) == (1300, 50)
            assert "promptrail.incomplete" not in record.metadata
        assert "time_to_first_token" in logs[0].metadata

    async def test_async_message_stream_helper(
        self, async_anthropic_client: Any, api: Any, data: Any
    ) -> None:
        """The async helper works with ``async with`` and ``async for``."""
        api.sse(data.anthropic_events())

        @promptrail.log_prompt
        def answer(**kwargs: Any) -> Any:
            return async_anthropic_client.messages.stream(**kwargs)

        with capture_logs() as logs:
            async with answer(
                model=data.ANTHROPIC_MODEL, messages=data.USER, max_tokens=100
            ) as stream:
                texts = [text async for text in stream.text_stream]
        assert "".join(texts) == "Paris."
        assert logs[0].output == "Paris."
        assert logs[0].output_tokens == 50

    def test_closed_after_message_start_has_no_output_count(
        self, anthropic_client: Any, api: Any, data: Any
    ) -> None:
        """The placeholder output count of ``message_start`` is not logged as usage."""
        api.sse(data.anthropic_events())

        @promptrail.log_prompt
        def answer(**kwargs: Any) -> Any:
            return anthropic_client.messages.create(**kwargs)

        with capture_logs() as logs:
            stream = answer(model=data.ANTHROPIC_MODEL, messages=data.USER, max_tokens=9, stream=1)
            next(stream)
            stream.close()
        record = logs[0]
        assert record.prompt_tokens == 1300
        assert record.output_tokens is None
        assert record.metadata["usage_unknown"] is True


class TestGenerators:
    """Generators: decorated generator functions and returned generator objects."""

    def test_decorated_generator_of_chunks_accumulates(
        self, openai_client: Any, api: Any, data: Any
    ) -> None:
        """A decorated generator re-yielding SDK chunks logs the whole answer and usage."""
        api.sse(data.chat_chunks(), done=True)

        @promptrail.log_prompt
        def answer(**kwargs: Any) -> Iterator[Any]:
            yield from openai_client.chat.completions.create(**kwargs, stream=True)

        with capture_logs() as logs:
            list(answer(model="gpt-4o", messages=data.USER))
        record = logs[0]
        assert record.output == "Paris."
        assert (record.prompt_tokens, record.output_tokens, record.finish_reason) == (
            1200,
            300,
            "stop",
        )
        assert record.prompt_cost is not None

    def test_decorated_generator_of_text_joins_it(self) -> None:
        """Text pieces are joined; no usage flag for plain text."""

        @promptrail.log_prompt
        def answer() -> Iterator[str]:
            yield "Par"
            yield "is."

        with capture_logs() as logs:
            assert list(answer()) == ["Par", "is."]
        assert logs[0].output == "Paris."
        assert "usage_unknown" not in logs[0].metadata

    def test_decorated_generator_of_other_items_keeps_them(self) -> None:
        """Items of no known stream shape are logged as they are."""

        @promptrail.log_prompt
        def answer() -> Iterator[dict[str, int]]:
            yield {"a": 1}
            yield {"b": 2}

        with capture_logs() as logs:
            list(answer())
        assert logs[0].output == '[{"a": 1}, {"b": 2}]'

    def test_returned_generator_is_proxied(self) -> None:
        """A plain function returning a generator: same items (identical objects), log at end."""
        items = [object(), object()]

        @promptrail.log_prompt
        def answer() -> Iterator[object]:
            return iter_items()

        def iter_items() -> Iterator[object]:
            yield from items

        with capture_logs() as logs:
            result = answer()
            assert inspect.isgenerator(result)
            assert logs == []
            got = list(result)
        assert got[0] is items[0]
        assert got[1] is items[1]
        assert len(logs) == 1
        assert logs[0].metadata["time_to_first_token"] == pytest.approx(0.001)

    def test_returned_generator_send_and_close(self) -> None:
        """``send`` reaches the generator; ``close`` ends the log as closed."""

        def echo() -> Iterator[str]:
            received = yield "ready"
            yield f"got {received}"
            yield "never"

        @promptrail.log_prompt
        def answer() -> Iterator[str]:
            return echo()

        with capture_logs() as logs:
            gen = answer()
            assert next(gen) == "ready"
            assert gen.send("x") == "got x"
            gen.close()
        assert logs[0].output == "readygot x"
        assert logs[0].metadata["promptrail.incomplete"] == "closed"

    async def test_returned_async_generator_is_proxied(self) -> None:
        """An async function returning an async generator: the log ends at exhaustion."""

        async def pieces() -> AsyncIterator[str]:
            yield "Par"
            yield "is."

        @promptrail.log_prompt
        async def answer() -> AsyncIterator[str]:
            return pieces()

        with capture_logs() as logs:
            result = await answer()
            assert inspect.isasyncgen(result)
            assert [p async for p in result] == ["Par", "is."]
        assert logs[0].output == "Paris."

    def test_outer_log_ends_with_the_inner_stream(
        self, openai_client: Any, api: Any, data: Any
    ) -> None:
        """A flow returning a decorated function's stream ends after the stream, as its parent."""
        api.sse(data.chat_chunks(), done=True)

        @promptrail.log_prompt(path="qa/answer")
        def answer() -> Any:
            return openai_client.chat.completions.create(
                model="gpt-4o", messages=data.USER, stream=True
            )

        @promptrail.log_flow(path="qa/flow")
        def flow() -> Any:
            return answer()

        with capture_logs() as logs:
            stream = flow()
            assert logs == []
            list(stream)
        inner, outer = logs
        assert (inner.path, outer.path) == ("qa/answer", "qa/flow")
        assert inner.trace_parent_id == outer.log_id
        assert inner.output == outer.output == "Paris."


class TestResponsesStream:
    """OpenAI Responses API streams (``responses.create(stream=True)``)."""

    def _events(self, data: Any) -> list[dict[str, Any]]:
        created = {**data.RESPONSE, "status": "in_progress", "output": [], "usage": None}
        return [
            {"type": "response.created", "sequence_number": 0, "response": created},
            {
                "type": "response.output_text.delta",
                "sequence_number": 1,
                "item_id": "msg_1",
                "output_index": 1,
                "content_index": 0,
                "delta": "Par",
            },
            {
                "type": "response.output_text.delta",
                "sequence_number": 2,
                "item_id": "msg_1",
                "output_index": 1,
                "content_index": 0,
                "delta": "is.",
            },
            {"type": "response.completed", "sequence_number": 3, "response": data.RESPONSE},
        ]

    def test_completed_stream_logs_like_the_plain_call(
        self, openai_client: Any, api: Any, data: Any
    ) -> None:
        """The ``response.completed`` event's response gives the same log as the plain call."""
        api.json(data.RESPONSE).sse(self._events(data))

        @promptrail.log_prompt
        def answer(**kwargs: Any) -> Any:
            return openai_client.responses.create(**kwargs)

        with capture_logs() as logs:
            answer(model="o4-mini", input="Capital of France?")
            events = list(answer(model="o4-mini", input="Capital of France?", stream=True))
        assert [e.type for e in events][-1] == "response.completed"
        plain, streamed = logs
        assert _comparable(streamed) == _comparable(plain)
        assert streamed.reasoning_tokens == 12

    def test_stream_closed_before_completion_keeps_the_text(
        self, openai_client: Any, api: Any, data: Any
    ) -> None:
        """Closed after the deltas: the text so far, the model, and usage unknown."""
        api.sse(self._events(data))

        @promptrail.log_prompt
        def answer(**kwargs: Any) -> Any:
            return openai_client.responses.create(**kwargs)

        with capture_logs() as logs:
            stream = answer(model="o4-mini", input="Capital of France?", stream=True)
            for _ in range(3):
                next(stream)
            stream.close()
        record = logs[0]
        assert record.output == "Paris."
        assert record.prompt is not None
        assert record.prompt.model == "o4-mini"
        assert record.metadata["usage_unknown"] is True
        assert record.metadata["promptrail.incomplete"] == "closed"


class TestLifecycleEdges:
    """Less common ways a stream ends."""

    def test_partly_read_stream_collected_is_abandoned(self) -> None:
        """A stream read in part and then dropped ends its log as abandoned."""

        @promptrail.log_prompt
        def answer() -> Iterator[str]:
            return iter_pieces()

        def iter_pieces() -> Iterator[str]:
            yield "Par"
            yield "is."

        with capture_logs() as logs:
            stream = answer()
            next(stream)
            del stream
            gc.collect()
            promptrail.flush()  # finalizers queue the end; a flush (or the worker) runs it
            assert len(logs) == 1
        assert logs[0].metadata["promptrail.incomplete"] == "abandoned"
        assert logs[0].output == "Par"

    def test_error_with_capture_output_off_logs_no_output(self) -> None:
        """``capture_output=False`` keeps the partial answer out of an errored stream's log."""

        def pieces() -> Iterator[str]:
            yield "secret"
            raise ValueError("boom")

        @promptrail.log_prompt(capture_output=False)
        def answer() -> Iterator[str]:
            return pieces()

        with capture_logs() as logs, pytest.raises(ValueError, match="boom"):
            list(answer())
        assert logs[0].error == "ValueError: boom"
        assert logs[0].output is None

    def test_plain_iterators_are_not_streams(self) -> None:
        """A returned list iterator is handed back as it is and the log ends at return."""
        items = iter(["a", "b"])

        @promptrail.log_prompt
        def answer() -> Iterator[str]:
            return items

        with capture_logs() as logs:
            assert answer() is items
            assert len(logs) == 1

    def test_reading_after_close_changes_nothing(self) -> None:
        """After ``close()`` the generator is done; the log keeps what was read before."""

        @promptrail.log_prompt
        def answer() -> Iterator[str]:
            return (piece for piece in ["Par", "is."])

        with capture_logs() as logs:
            stream = answer()
            next(stream)
            stream.close()
            with pytest.raises(StopIteration):
                next(stream)
        assert len(logs) == 1
        assert logs[0].output == "Par"


class TestOpenAIStreamHelper:
    """OpenAI's ``chat.completions.stream()`` helper (a ``ChatCompletionStreamManager``)."""

    @pytest.fixture(name="answer")
    def fixture_answer(self, openai_client: Any) -> Any:
        """A decorated function returning the helper's manager."""

        @promptrail.log_prompt
        def answer(**kwargs: Any) -> Any:
            return openai_client.chat.completions.stream(**kwargs)

        return answer

    def test_iterated_or_finalised_both_log_the_answer(
        self, answer: Any, api: Any, data: Any
    ) -> None:
        """Reading the events or calling ``get_final_completion()`` both give the full log."""
        api.sse(data.chat_chunks(), done=True).sse(data.chat_chunks(), done=True)
        with capture_logs() as logs:
            with answer(model="gpt-4o", messages=data.USER) as stream:
                kinds = [event.type for event in stream]
            with answer(model="gpt-4o", messages=data.USER) as stream:
                stream.get_final_completion()
        assert kinds.count("chunk") == 5
        for record in logs:
            assert record.output == "Paris."
            assert (record.prompt_tokens, record.output_tokens) == (1200, 300)
            assert "promptrail.incomplete" not in record.metadata

    def test_left_early_keeps_the_partial_text(self, answer: Any, api: Any, data: Any) -> None:
        """Leaving the ``with`` block after a few events logs the text read so far."""
        api.sse(data.chat_chunks(), done=True)
        with capture_logs() as logs, answer(model="gpt-4o", messages=data.USER) as stream:
            for event in stream:
                if event.type == "content.delta" and event.snapshot == "Par":
                    break
        assert logs[0].output == "Par"
        assert logs[0].metadata["promptrail.incomplete"] == "closed"


class TestAsyncEdges:
    """Async streams that are dropped or re-yielded."""

    async def test_unconsumed_async_stream_collected_ends_the_log(
        self, async_openai_client: Any, api: Any, data: Any
    ) -> None:
        """An ``AsyncStream`` never iterated ends its log when garbage-collected."""
        api.sse(data.chat_chunks(), done=True)

        @promptrail.log_prompt
        async def answer(**kwargs: Any) -> Any:
            return await async_openai_client.chat.completions.create(**kwargs)

        with capture_logs() as logs:
            stream = await answer(model="gpt-4o", messages=data.USER, stream=True)
            del stream
            gc.collect()
            promptrail.flush()  # finalizers queue the end; a flush (or the worker) runs it
            assert len(logs) == 1
        assert logs[0].metadata["promptrail.incomplete"] == "never_started"

    async def test_decorated_async_generator_of_chunks_accumulates(
        self, async_openai_client: Any, api: Any, data: Any
    ) -> None:
        """An async generator re-yielding ``AsyncStream`` chunks logs the whole answer."""
        api.sse(data.chat_chunks(), done=True)

        @promptrail.log_prompt
        async def answer(**kwargs: Any) -> AsyncIterator[Any]:
            stream = await async_openai_client.chat.completions.create(**kwargs, stream=True)
            async for chunk in stream:
                yield chunk

        with capture_logs() as logs:
            chunks = [c async for c in answer(model="gpt-4o", messages=data.USER)]
        assert len(chunks) == 5
        assert logs[0].output == "Paris."
        assert logs[0].output_tokens == 300
        assert logs[0].metadata.get("usage_unknown") is None
