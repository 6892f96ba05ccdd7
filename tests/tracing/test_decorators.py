"""@log_prompt / @log_tool / @log_flow: parity with the undecorated function, and what they log."""

from __future__ import annotations

import asyncio
import gc
import inspect
import pickle
import sys
import traceback
import types
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import promptrail
from promptrail import log_flow, log_prompt, log_tool
from promptrail.exporters import InMemoryExporter
from promptrail.testing import capture_logs


def plain(question: str, messages: list[dict[str, Any]] | None = None, *, n: int = 1) -> str:
    """Answer a question."""
    return f"answer to {question}"


async def plain_async(question: str) -> str:
    """Answer asynchronously."""
    await asyncio.sleep(0)
    return question.upper()


def plain_gen(n: int) -> Iterator[str]:
    """Yield n words."""
    for i in range(n):
        yield f"w{i} "


async def plain_agen(n: int) -> AsyncIterator[str]:
    """Yield n words asynchronously."""
    for i in range(n):
        await asyncio.sleep(0)
        yield f"a{i} "


answer = log_prompt(path="qa/answer")(plain)
answer_async = log_prompt(path="qa/async")(plain_async)
answer_gen = log_prompt(path="qa/gen")(plain_gen)
answer_agen = log_prompt(path="qa/agen")(plain_agen)


@log_prompt
def bare(x: int) -> int:
    """Decorated without parentheses."""
    return x + 1


class Bot:
    """A class with decorated methods of every binding kind."""

    prefix = "cls"

    def __init__(self, name: str) -> None:
        self.name = name

    @log_prompt(path="bot/method")
    def method(self, text: str) -> str:
        """An instance method."""
        return f"{self.name}:{text}"

    @log_prompt(path="bot/classmethod")
    @classmethod
    def cmethod(cls, text: str) -> str:
        """A classmethod, decorated outside @classmethod."""
        return f"{cls.prefix}:{text}"

    @log_prompt(path="bot/staticmethod")
    @staticmethod
    def smethod(text: str) -> str:
        """A staticmethod."""
        return f"static:{text}"


PAIRS = [
    (plain, answer),
    (plain_async, answer_async),
    (plain_gen, answer_gen),
    (plain_agen, answer_agen),
]


class TestParity:
    """A decorated function looks like the original to introspection and pickle."""

    @pytest.mark.parametrize(("original", "decorated"), PAIRS)
    def test_metadata_is_kept(self, original: Any, decorated: Any) -> None:
        """Name, qualname, doc, module and signature are the original's."""
        assert decorated.__name__ == original.__name__
        assert decorated.__qualname__ == original.__qualname__
        assert decorated.__doc__ == original.__doc__
        assert decorated.__module__ == original.__module__
        assert inspect.signature(decorated) == inspect.signature(original)

    @pytest.mark.parametrize(("original", "decorated"), PAIRS)
    def test_function_kind_is_kept(self, original: Any, decorated: Any) -> None:
        """inspect's coroutine/generator predicates answer as for the original."""
        for predicate in (
            inspect.iscoroutinefunction,
            inspect.isgeneratorfunction,
            inspect.isasyncgenfunction,
        ):
            assert predicate(decorated) == predicate(original), predicate.__name__

    def test_methods_keep_their_signature(self) -> None:
        """Bound methods hide self/cls like undecorated ones."""
        assert list(inspect.signature(Bot("a").method).parameters) == ["text"]
        assert list(inspect.signature(Bot.cmethod).parameters) == ["text"]
        assert list(inspect.signature(Bot.smethod).parameters) == ["text"]

    def test_pickle_round_trip(self) -> None:
        """The decorated function pickles by reference and still logs after unpickling."""
        restored = pickle.loads(pickle.dumps(bare))
        assert restored is bare
        with capture_logs() as logs:
            assert restored(1) == 2
        assert len(logs) == 1

    def test_pickle_bound_method(self) -> None:
        """A bound decorated method pickles like a plain bound method."""
        bot = Bot("b")
        restored = pickle.loads(pickle.dumps(bot.method))
        assert restored("x") == "b:x"

    def test_plain_function_is_a_function(self) -> None:
        """A module-level sync function stays a function (the fast closure, not a proxy)."""
        assert type(bare) is types.FunctionType
        assert bare.__wrapped__(1) == 2  # type: ignore[attr-defined]
        assert type(Bot.__dict__["method"]) is not types.FunctionType  # methods: wrapt

    def test_plain_function_set_on_a_class_later_still_works(self) -> None:
        """A decorated plain function assigned to a class binds like the original would."""

        @log_prompt(path="late/method")
        def shout(self: Any, text: str) -> str:
            return f"{self.name}:{text.upper()}"

        holder = type("Holder", (), {"name": "h", "shout": shout})
        with capture_logs() as logs:
            assert holder().shout("hi") == "h:HI"
        (record,) = logs
        assert record.inputs is not None
        assert record.inputs["text"] == "hi"


class TestCalls:
    """Every kind of callable returns what it returned before and is logged once."""

    def test_sync(self) -> None:
        """A sync call logs inputs bound to names, defaults included, and the str output."""
        with capture_logs() as logs:
            assert answer("why", n=3) == "answer to why"
        (record,) = logs
        assert record.kind == "prompt"
        assert record.path == "qa/answer"
        assert record.inputs == {"question": "why", "n": 3}
        assert record.output == "answer to why"
        assert record.error is None
        assert record.trace_id == record.log_id
        assert record.trace_parent_id is None
        assert record.provider_latency is not None
        assert record.end_time is not None
        assert record.end_time >= record.start_time

    async def test_async(self) -> None:
        """An async call is logged when awaited."""
        with capture_logs() as logs:
            assert await answer_async("hi") == "HI"
        assert [(r.path, r.output, r.inputs) for r in logs] == [
            ("qa/async", "HI", {"question": "hi"})
        ]

    def test_generator_logs_what_it_yielded(self) -> None:
        """A generator's log ends on exhaustion with the joined text it yielded."""
        with capture_logs() as logs:
            gen = answer_gen(3)
            assert logs == []
            assert list(gen) == ["w0 ", "w1 ", "w2 "]
        assert [(r.path, r.output) for r in logs] == [("qa/gen", "w0 w1 w2 ")]

    async def test_async_generator_logs_what_it_yielded(self) -> None:
        """An async generator's log ends on exhaustion with what it yielded."""
        with capture_logs() as logs:
            items = [item async for item in answer_agen(2)]
        assert items == ["a0 ", "a1 "]
        assert [(r.path, r.output) for r in logs] == [("qa/agen", "a0 a1 ")]

    async def test_generators_record_the_time_to_their_first_item(self) -> None:
        """Sync and async generators get metadata.time_to_first_token, like returned streams."""
        with capture_logs() as logs:
            list(answer_gen(3))
            [item async for item in answer_agen(2)]
            list(answer_gen(0))  # nothing yielded: no first item
        sync, agen, empty = logs
        for record in (sync, agen):
            first = record.metadata["time_to_first_token"]
            assert record.provider_latency is not None
            assert 0 < first < record.provider_latency
        assert "time_to_first_token" not in empty.metadata

    def test_generator_return_value_and_send(self) -> None:
        """send() and the generator's return value pass through unchanged."""

        @log_prompt(path="echo")
        def echo() -> Any:
            received = yield "ready"
            while received != "stop":
                received = yield f"got {received}"
            return "done"

        with capture_logs() as logs:
            gen = echo()
            assert next(gen) == "ready"
            assert gen.send("a") == "got a"
            with pytest.raises(StopIteration) as stop:
                gen.send("stop")
        assert stop.value.value == "done"
        assert logs[0].output == "ready" + "got a"

    def test_generator_throw_is_forwarded(self) -> None:
        """throw() reaches the wrapped generator, which may handle it and go on."""

        @log_prompt(path="resilient")
        def resilient() -> Iterator[str]:
            try:
                yield "first"
            except KeyError:
                yield "recovered"

        with capture_logs() as logs:
            gen = resilient()
            next(gen)
            assert gen.throw(KeyError("k")) == "recovered"
            assert list(gen) == []
        assert logs[0].output == "firstrecovered"
        assert logs[0].error is None

    def test_methods(self) -> None:
        """Instance, class and static methods log their arguments without self/cls."""
        with capture_logs() as logs:
            bot = Bot("b")
            assert bot.method("x") == "b:x"
            assert Bot.method(bot, "y") == "b:y"
            assert Bot.cmethod("z") == "cls:z"
            assert bot.smethod("w") == "static:w"
        assert [(r.path, r.inputs) for r in logs] == [
            ("bot/method", {"text": "x"}),
            ("bot/method", {"text": "y"}),
            ("bot/classmethod", {"text": "z"}),
            ("bot/staticmethod", {"text": "w"}),
        ]

    def test_bare_decorator_and_default_path(self) -> None:
        """@log_prompt without parentheses works; the default path is module/qualname."""
        with capture_logs() as logs:
            assert bare(1) == 2
        assert logs[0].path == f"{__name__.replace('.', '/')}/bare"

    def test_kinds(self) -> None:
        """log_tool logs kind tool, log_flow kind flow; non-str output is logged as JSON."""

        @log_tool(path="tools/lookup")
        def lookup(key: str) -> dict[str, int]:
            return {key: 1}

        @log_flow(path="flows/run")
        def run() -> list[int]:
            lookup("a")
            return [1, 2]

        with capture_logs() as logs:
            run()
        tool, flow = logs
        assert (tool.kind, tool.output, tool.trace_parent_id) == ("tool", '{"a": 1}', flow.log_id)
        assert (flow.kind, flow.output) == ("flow", "[1, 2]")

    def test_messages_are_captured_at_call_time(self) -> None:
        """messages.append(reply) after the call does not change what was logged."""
        messages: list[dict[str, Any]] = [{"role": "user", "content": "hi"}]
        with capture_logs() as logs:
            reply = answer("q", messages)
            messages.append({"role": "assistant", "content": reply})
            messages[0]["content"] = "changed"
        record = logs[0]
        assert record.messages is not None
        assert [(m.role, m.content) for m in record.messages] == [("user", "hi")]
        assert "messages" not in record.inputs

    def test_capture_flags(self) -> None:
        """capture_inputs=False and capture_output=False leave those fields out (not empty)."""

        @log_prompt(path="quiet", capture_inputs=False, capture_output=False)
        def quiet(secret_plan: str, messages: list[dict[str, str]]) -> str:
            return secret_plan

        with capture_logs() as logs:
            assert quiet("plan", [{"role": "user", "content": "x"}]) == "plan"
        body = logs[0].to_body()
        assert "inputs" not in body
        assert "messages" not in body
        assert "output" not in body

    def test_global_capture_switches_and_decorator_overrides(self) -> None:
        """configure(capture_*) sets the default; a decorator's explicit flag wins."""

        @log_prompt(path="default")
        def default(x: int) -> dict[str, int]:
            return {"y": x}

        @log_prompt(path="forced", capture_inputs=True, capture_provider_payloads=False)
        def forced(x: int) -> dict[str, int]:
            return {"y": x}

        with capture_logs() as logs:
            promptrail.configure(
                capture_inputs=False, capture_outputs=False, capture_provider_payloads=False
            )
            default(1)
            forced(2)
            promptrail.configure(
                capture_inputs=True, capture_outputs=True, capture_provider_payloads=True
            )
            default(3)
            forced(4)
        off, forced_off, on, forced_on = (r.to_body() for r in logs)
        assert "inputs" not in off
        assert "output" not in off
        assert forced_off["inputs"] == {"x": 2}
        assert on["inputs"] == {"x": 3}
        assert on["provider_request"] == {"x": 3}
        assert on["provider_response"] == {"y": 3}
        assert "provider_request" not in forced_on
        assert "provider_response" not in forced_on

    def test_decorator_defaults_go_into_prompt(self) -> None:
        """model/provider/template given to the decorator land in the prompt kernel."""

        @log_prompt(path="p", model="gpt-x", provider="openai", template="Say {x}")
        def call(x: str) -> str:
            return x

        with capture_logs() as logs:
            call("hi")
        prompt = logs[0].prompt
        assert prompt is not None
        assert (prompt.model, prompt.provider, prompt.template) == ("gpt-x", "openai", "Say {x}")

    def test_metadata_from_decorator_and_update_current(self) -> None:
        """Decorator metadata and update_current() fields end up in the log."""

        @log_prompt(path="m", metadata={"team": "support"})
        def call() -> str:
            assert promptrail.update_current(metadata={"step": 1}, prompt_tokens=7, output="x")
            return "ignored"

        with capture_logs() as logs:
            call()
        record = logs[0]
        assert record.metadata == {"team": "support", "step": 1}
        assert record.prompt_tokens == 7
        assert record.output == "x"

    def test_non_mapping_metadata_and_inputs_are_kept_not_fatal(self) -> None:
        """update_current(metadata="x") or t.metadata = "x" keeps the log, value under invalid."""

        @log_prompt(path="odd")
        def odd() -> str:
            promptrail.update_current(metadata="oops", inputs=5)
            return "y"

        with capture_logs() as logs:
            odd()
            with promptrail.trace(path="t") as t:
                t.metadata = "bad"  # type: ignore[assignment]
        assert [r.metadata for r in logs] == [
            {"promptrail.invalid_fields": {"metadata": "oops", "inputs": 5}},
            {"promptrail.invalid_fields": {"metadata": "bad"}},
        ]
        assert logs[0].output == "y"

    def test_big_mappings_and_long_conversations(self) -> None:
        """A 2,000-key metadata dict and a 1,500-message conversation log without raising."""
        big = {f"k{i}": i for i in range(2000)}
        conversation = [{"role": "user", "content": f"m{i}"} for i in range(1500)]

        @log_prompt(path="big")
        def big_call(messages: list[dict[str, str]]) -> str:
            promptrail.update_current(metadata=big)
            return "ok"

        with capture_logs() as logs:
            with promptrail.trace(path="t", inputs=big):
                assert big_call(conversation) == "ok"
        call, flow = logs
        assert call.messages is not None
        assert len(call.messages) == 1000  # Limits.max_items: the head of the conversation
        assert call.messages[0].content == "m0"
        assert call.metadata["…[truncated]"] == "1000 more items"
        assert flow.inputs is not None
        assert len(flow.inputs) == 1001

    def test_update_current_outside_a_log_and_unknown_fields(self) -> None:
        """Outside any log update_current returns False; unknown fields warn and are ignored."""
        assert promptrail.update_current(output="x") is False
        with pytest.warns(UserWarning, match="bogus"):
            assert promptrail.update_current(bogus=1) is False

    def test_trace_fields_given_to_update_current_point_to_update_current_trace(self) -> None:
        """tags and session_id are the trace's: the warning names update_current_trace()."""
        with pytest.warns(UserWarning, match=r"session_id, tags.*update_current_trace\(\)"):
            promptrail.update_current(tags=["a"], session_id="s")

    def test_update_current_says_whether_anything_was_set(self) -> None:
        """Inside a log: True when a field was set, False when every field was unknown."""
        answers: list[bool] = []

        @log_prompt(path="updates")
        def f() -> str:
            with pytest.warns(UserWarning, match="model"):
                answers.append(promptrail.update_current(model="gpt-4o-mini"))
            with pytest.warns(UserWarning, match="bogus"):
                answers.append(promptrail.update_current(bogus=1, user="ana"))
            return "ok"

        with capture_logs() as logs:
            f()
        assert answers == [False, True]
        assert logs[0].user == "ana"


class TestExceptions:
    """The user's exception propagates untouched and is recorded."""

    def test_same_exception_object_and_traceback(self) -> None:
        """The caller catches the very object raised, with the raising frame in its traceback."""
        error = ValueError("bad input")

        @log_prompt(path="fails")
        def fails() -> None:
            raise error

        with capture_logs() as logs, pytest.raises(ValueError, match="bad input") as caught:
            fails()
        assert caught.value is error
        frames = [f.name for f in traceback.extract_tb(caught.value.__traceback__)]
        assert frames[-1] == "fails"
        assert logs[0].error == "ValueError: bad input"
        assert logs[0].output is None

    async def test_async_exception(self) -> None:
        """An async function's exception is recorded and re-raised."""

        @log_prompt(path="afails")
        async def afails() -> None:
            raise KeyError("k")

        with capture_logs() as logs, pytest.raises(KeyError):
            await afails()
        assert logs[0].error == "KeyError: 'k'"

    def test_generator_exception(self) -> None:
        """An exception inside a generator ends its log with the error (and no output)."""

        @log_prompt(path="gfails")
        def gfails() -> Iterator[str]:
            yield "partial"
            raise RuntimeError("boom")

        with capture_logs() as logs, pytest.raises(RuntimeError, match="boom"):
            list(gfails())
        assert logs[0].error == "RuntimeError: boom"
        assert logs[0].output is None  # a failed call's result is not recorded

    @pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
    def test_base_exceptions_propagate_and_end_the_log(self, exc_type: type[BaseException]) -> None:
        """KeyboardInterrupt and SystemExit propagate; the log still ends with the error."""

        @log_prompt(path="interrupted")
        def interrupted() -> None:
            raise exc_type()

        with capture_logs() as logs, pytest.raises(exc_type):
            interrupted()
        assert logs[0].error == exc_type.__name__

    def test_unprintable_exception(self) -> None:
        """An exception whose __str__ fails is still recorded."""

        class Weird(Exception):
            def __str__(self) -> str:
                raise RuntimeError("no")

        @log_prompt(path="weird")
        def weird() -> None:
            raise Weird()

        with capture_logs() as logs, pytest.raises(Weird):
            weird()
        assert logs[0].error == "Weird: <unprintable Weird>"

    def test_wrong_arguments_are_the_users_type_error(self) -> None:
        """Calling with bad arguments raises the same TypeError as the plain function."""
        with pytest.raises(TypeError) as plain_error:
            plain()  # type: ignore[call-arg]
        with capture_logs() as logs, pytest.raises(TypeError) as decorated_error:
            answer()  # type: ignore[call-arg]
        assert str(decorated_error.value) == str(plain_error.value)
        assert logs[0].error is not None
        assert logs[0].error.startswith("TypeError")
        assert logs[0].error == f"TypeError: {plain_error.value}"


class TestGeneratorLifecycle:
    """Generators end their log when exhausted, closed, or collected."""

    def test_close_ends_the_log_as_incomplete(self) -> None:
        """close() after one item ends the log, marked incomplete, with what was yielded."""
        with capture_logs() as logs:
            gen = answer_gen(5)
            next(gen)
            gen.close()
        assert logs[0].output == "w0 "
        assert logs[0].metadata["promptrail.incomplete"] == "closed"

    def test_break_ends_the_log(self) -> None:
        """Leaving a for loop early ends the log when the generator is collected."""
        with capture_logs() as logs:
            for item in answer_gen(5):
                if item == "w1 ":
                    break
            gc.collect()
        assert logs[0].output == "w0 w1 "

    def test_never_started_generator_is_logged_when_collected(self) -> None:
        """A generator created and dropped without iteration still ends its log."""
        with capture_logs() as logs:
            gen = answer_gen(2)
            del gen
            gc.collect()
            promptrail.flush()  # finalizers queue the end; a flush (or the worker) runs it
        assert logs[0].metadata["promptrail.incomplete"] == "never_started"

    async def test_async_generator_aclose(self) -> None:
        """aclose() after one item ends the async generator's log."""
        with capture_logs() as logs:
            agen = answer_agen(5)
            await agen.__anext__()
            await agen.aclose()
        assert logs[0].output == "a0 "
        assert logs[0].metadata["promptrail.incomplete"] == "closed"

    def test_items_are_bounded(self) -> None:
        """A generator yielding more than the item cap keeps a bounded list and says so."""

        @log_prompt(path="many")
        def many() -> Iterator[int]:
            yield from range(10_005)

        with capture_logs() as logs:
            assert sum(1 for _ in many()) == 10_005
        assert logs[0].metadata["items_truncated"] is True


class TestMisuse:
    """Wrong decorator use fails at decoration time with a clear message."""

    def test_on_a_class(self) -> None:
        """Decorating a class raises TypeError naming the class."""
        with pytest.raises(TypeError, match="cannot decorate the class Bot"):
            log_prompt(Bot)  # type: ignore[arg-type, unused-ignore]

    def test_on_a_non_callable(self) -> None:
        """Decorating a non-callable raises TypeError."""
        with pytest.raises(TypeError, match="decorates functions"):
            log_prompt()(42)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("options", "name"),
        [
            ({"path": 1}, "path"),
            ({"model": 1}, "model"),
            ({"provider": ["openai"]}, "provider"),
            ({"endpoint": 1}, "endpoint"),
            ({"template": 1}, "template"),
            ({"metadata": "x"}, "metadata"),
            ({"capture_inputs": "no"}, "capture_inputs"),
            ({"capture_output": 2}, "capture_output"),
            ({"capture_provider_payloads": "yes"}, "capture_provider_payloads"),
        ],
    )
    def test_an_option_of_the_wrong_type(self, options: dict[str, Any], name: str) -> None:
        """An option of the wrong type raises ConfigurationError naming it where it is written."""
        with pytest.raises(promptrail.ConfigurationError, match=name):
            log_prompt(**options)

    def test_the_other_decorators_check_their_options(self) -> None:
        """log_tool and log_flow reject a path or metadata of the wrong type too."""
        with pytest.raises(promptrail.ConfigurationError, match="path"):
            log_tool(path=b"tools/x")  # type: ignore[arg-type]
        with pytest.raises(promptrail.ConfigurationError, match="metadata"):
            log_flow(metadata=[("a", 1)])  # type: ignore[arg-type]

    def test_valid_options_still_log(self) -> None:
        """A template given as messages and explicit booleans are accepted."""
        traced = log_prompt(
            path="a/b",
            model="m",
            template=[{"role": "system", "content": "hi"}],
            metadata={"k": 1},
            capture_inputs=False,
        )(plain)
        with capture_logs() as logs:
            traced("q")
        assert [log.path for log in logs] == ["a/b"]

    def test_flags_as_0_or_1_and_a_tuple_template_still_log(self) -> None:
        """Options that worked before types were checked (0, 1, a tuple of messages) still do."""
        traced = log_prompt(
            template=({"role": "system", "content": "hi"},),  # type: ignore[arg-type]
            capture_inputs=0,  # type: ignore[arg-type]
            capture_output=1,  # type: ignore[arg-type]
        )(plain)
        with capture_logs() as logs:
            traced("q")
        assert [(log.inputs, log.prompt.template if log.prompt else None) for log in logs] == [
            (None, [{"role": "system", "content": "hi"}])
        ]

    def test_builtins_are_wrapped(self) -> None:
        """A builtin with a signature binds its arguments; one without logs them as args."""
        traced_len = log_tool(path="len")(len)
        traced_max = log_tool(path="max")(max)  # max has no inspect signature
        with capture_logs() as logs:
            assert traced_len([1, 2]) == 2
            assert traced_max(3, 5, key=None) == 5
        assert logs[0].inputs == {"obj": [1, 2]}
        assert logs[1].inputs == {"args": [3, 5], "key": None}


class TestDisabled:
    """With promptrail disabled a decorated call is a pass-through."""

    def test_disabled_logs_nothing(self) -> None:
        """configure(enabled=False) stops logging but calls still work."""
        memory = InMemoryExporter()
        promptrail.configure(exporters=[memory], enabled=False)
        assert answer("q") == "answer to q"
        assert list(answer_gen(2)) == ["w0 ", "w1 "]
        assert asyncio.run(answer_async("a")) == "A"
        promptrail.flush()
        assert memory.records == []

    def test_disabled_by_environment_starts_no_thread_and_no_file(self, tmp_path: Any) -> None:
        """PROMPTRAIL_DISABLED=1: no worker thread, no database file."""
        import subprocess

        code = (
            "import threading, promptrail\n"
            "f = promptrail.log_prompt(path='x')(lambda: 1)\n"
            "assert f() == 1\n"
            "assert [t.name for t in threading.enumerate()] == ['MainThread']\n"
        )
        env = {"PROMPTRAIL_DISABLED": "1", "PATH": "/usr/bin:/bin"}
        env["PYTHONPATH"] = ":".join(p for p in sys.path if p)
        subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True, timeout=30)
        assert list(tmp_path.iterdir()) == []
