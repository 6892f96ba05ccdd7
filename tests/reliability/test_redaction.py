"""Redaction is on by default, everywhere a value can enter a record, and a key never leaks."""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import logging
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import promptrail
from promptrail import LogRecord, Redactor, SimpleProcessor, log_flow, log_prompt, trace
from promptrail._record.serialize import to_jsonable
from promptrail._runtime.secrets import REDACTED
from promptrail.exceptions import ConfigurationError
from promptrail.exporters import ExportResult, InMemoryExporter, JsonlExporter, SqliteExporter

SECRET = "hunter2-not-a-known-format"
API_KEY = "sk-proj-" + "Zq8" * 16  # an OpenAI-style key: also caught by its format


def body(record: LogRecord) -> str:
    """The record's JSON, as any exporter would write it."""
    return record.model_dump_json()


@log_prompt(path="echo")
def echo(**kwargs: Any) -> str:
    """A decorated call taking anything by keyword."""
    return "ok"


class TestSecretKeys:
    """Values under secret-looking keys become [REDACTED]."""

    @pytest.mark.parametrize(
        "key",
        [
            "api_key",
            "API_KEY",
            "Api_Key",
            "apikey",
            "ApiKey",
            "token",
            "TOKEN",
            "secret",
            "Secret",
            "password",
            "PASSWORD",
            "authorization",
            "Authorization",
            "cookie",
            "Cookie",
        ],
    )
    def test_in_inputs_nested_in_dicts_and_lists(self, memory: InMemoryExporter, key: str) -> None:
        """At the top level, in a dict, in a list of dicts: every occurrence is hidden."""
        echo(**{key: SECRET}, nested={"a": {key: SECRET}}, listed=[{key: SECRET}, [{key: SECRET}]])
        (record,) = memory.records
        assert record.inputs == {
            key: REDACTED,
            "nested": {"a": {key: REDACTED}},
            "listed": [{key: REDACTED}, [{key: REDACTED}]],
        }
        assert SECRET not in body(record)

    @pytest.mark.parametrize(
        "key",
        [
            "API key",
            "AWSSecretKey",
            "IDToken",
            "X-API-KEY",
            "Ocp-Apim-Subscription-Key",
            "x-functions-key",
            "X-Auth-Key",
            "AccountKey",
        ],
    )
    def test_more_key_spellings(self, memory: InMemoryExporter, key: str) -> None:
        """Keys with a space, after an acronym, and Azure's and Cloudflare's key headers."""
        echo(settings={key: SECRET})
        (record,) = memory.records
        assert record.inputs == {"settings": {key: REDACTED}}

    def test_bytes_and_str_enum_keys(self, memory: InMemoryExporter) -> None:
        """A ``bytes`` or ``StrEnum`` key is judged by its text, as JSON would write it."""

        class Header(enum.StrEnum):
            API_KEY = "api_key"

        class Mixin(str, enum.Enum):  # noqa: UP042 - the pre-3.11 spelling
            TOKEN = "x-auth-token"

        echo(raw={b"Authorization": SECRET.encode()}, named={Header.API_KEY: SECRET})
        echo(mixed={Mixin.TOKEN: SECRET}, other={1: "one"})
        first, second = memory.records
        assert first.inputs == {"raw": {"Authorization": REDACTED}, "named": {"api_key": REDACTED}}
        assert second.inputs == {"mixed": {"x-auth-token": REDACTED}, "other": {"1": "one"}}
        assert SECRET not in body(first) + body(second)

    def test_metadata_via_update_current(self, memory: InMemoryExporter) -> None:
        """Metadata and inputs set during the call are redacted too."""

        @log_prompt(path="llm")
        def llm() -> str:
            promptrail.update_current(
                metadata={"user": "ann", "login": {"password": SECRET, "Token": SECRET}},
                inputs={"client_secret": SECRET},
            )
            return "ok"

        llm()
        (record,) = memory.records
        assert record.metadata == {
            "user": "ann",
            "login": {"password": REDACTED, "Token": REDACTED},
        }
        assert record.inputs == {"client_secret": REDACTED}
        assert SECRET not in body(record)

    def test_provider_request_response_and_headers(self, memory: InMemoryExporter) -> None:
        """Raw provider payloads and their header dicts are redacted key by key."""

        @log_prompt(path="llm")
        def llm() -> str:
            promptrail.update_current(
                provider_request={
                    "headers": {
                        "Authorization": f"Bearer {SECRET}",
                        "X-Api-Key": SECRET,
                        "Cookie": SECRET,
                        "Content-Type": "application/json",
                    },
                    "json": {"model": "m", "api_key": SECRET},
                },
                provider_response={
                    "headers": {"Set-Cookie": SECRET, "x-request-id": "r1"},
                    "body": {"usage": {"prompt_tokens": 3}},
                },
            )
            return "ok"

        llm()
        (record,) = memory.records
        assert record.provider_request == {
            "headers": {
                "Authorization": REDACTED,
                "X-Api-Key": REDACTED,
                "Cookie": REDACTED,
                "Content-Type": "application/json",
            },
            "json": {"model": "m", "api_key": REDACTED},
        }
        assert record.provider_response == {
            "headers": {"Set-Cookie": REDACTED, "x-request-id": "r1"},
            "body": {"usage": {"prompt_tokens": 3}},
        }

    def test_trace_inputs_and_metadata(self, memory: InMemoryExporter) -> None:
        """trace() inputs and metadata (given up front or set inside) are redacted."""
        with trace(path="flow", inputs={"password": SECRET}, metadata={"token": SECRET}) as t:
            t.metadata["apikey"] = SECRET
            t.output = {"secret": SECRET}
        (record,) = memory.records
        assert record.inputs == {"password": REDACTED}
        assert record.metadata == {"token": REDACTED, "apikey": REDACTED}
        assert SECRET not in body(record)

    def test_secret_container_is_hidden_whole(self, memory: InMemoryExporter) -> None:
        """A dict under a secret key (``auth``, ``credentials``) is replaced whole, not walked."""
        echo(auth={"user": "ann", "password": SECRET}, credentials=[SECRET])
        (record,) = memory.records
        assert record.inputs == {"auth": REDACTED, "credentials": REDACTED}

    def test_ordinary_keys_survive(self, memory: InMemoryExporter) -> None:
        """Token counts and similar keys are not secrets."""
        echo(max_tokens=5, prompt_tokens=3, tokenizer="bpe", author="x")
        (record,) = memory.records
        assert record.inputs == {
            "max_tokens": 5,
            "prompt_tokens": 3,
            "tokenizer": "bpe",
            "author": "x",
        }


class TestSecretFormats:
    """Well-known key formats inside strings are masked wherever the string is."""

    def test_in_messages_output_and_error(self, memory: InMemoryExporter) -> None:
        """sk-... inside message content, the output and the error text is masked."""

        @log_prompt(path="llm")
        def llm(messages: list[dict[str, str]]) -> str:
            return f"your key is {API_KEY}"

        @log_prompt(path="failing")
        def failing() -> None:
            raise PermissionError(f"Incorrect API key provided: {API_KEY}")

        llm([{"role": "user", "content": f"my key is {API_KEY}, keep it"}])
        with pytest.raises(PermissionError, match="Incorrect API key"):
            failing()
        ok, failed = memory.records
        assert ok.messages is not None
        assert ok.messages[0].content == f"my key is {REDACTED}, keep it"
        assert ok.output == f"your key is {REDACTED}"
        assert failed.error == f"PermissionError: Incorrect API key provided: {REDACTED}"
        assert API_KEY not in body(ok) + body(failed)

    @pytest.mark.parametrize(
        "secret",
        [
            "sk-" + "a1" * 12,
            "sk-ant-api03-" + "b2" * 20,
            "AKIA" + "ABCDEFGHIJKLMNOP",
            "ghp_" + "c3" * 15,
            "xoxb-" + "1234-5678-abcd",
        ],
    )
    def test_known_formats(self, memory: InMemoryExporter, secret: str) -> None:
        """Each built-in format is masked inside free text."""
        echo(note=f"before {secret} after")
        (record,) = memory.records
        assert record.inputs == {"note": f"before {REDACTED} after"}

    @pytest.mark.parametrize(
        "text",
        [
            "PaSsWoRd: hunter22",
            "Api_Key = abc123xyz",
            "TOKEN=abcdef123",
            "CreDentials: s3cr3tval",
            "pa\u017f\u017fword=hunter22x",  # the long s: an "s" to a case-blind match
            "credent\u0131al=abcdef12",  # the dotless i
        ],
    )
    def test_values_after_secret_words_in_any_case(
        self, memory: InMemoryExporter, text: str
    ) -> None:
        """A value after a secret-like word is masked whatever the word's letter case."""
        echo(note=f"config {text} end")
        (record,) = memory.records
        word = text.split(":")[0].split("=")[0]
        assert record.inputs is not None
        assert record.inputs["note"].startswith(f"config {word}")
        assert record.inputs["note"].endswith(f"{REDACTED} end")
        assert text.rsplit(" ", 1)[-1] not in body(record)


class TestUserRedaction:
    """Users add keys, patterns and a callable."""

    def test_extra_keys_and_patterns(self, memory: InMemoryExporter) -> None:
        """configure(redact=Redactor(keys=..., patterns=...)) extends the defaults."""
        promptrail.configure(redact=Redactor(keys=["ssn"], patterns=[r"\b\d{3}-\d{2}-\d{4}\b"]))
        echo(SSN="1", profile={"ssn": "2"}, note="id 123-45-6789", api_key=SECRET)
        (record,) = memory.records
        assert record.inputs == {
            "SSN": REDACTED,
            "profile": {"ssn": REDACTED},
            "note": f"id {REDACTED}",
            "api_key": REDACTED,
        }

    def test_extra_camel_case_keys(self, memory: InMemoryExporter) -> None:
        """A camelCase name given in ``keys`` hides its value under that very key, in any case."""
        promptrail.configure(redact=Redactor(keys=["sessionId", "userEmail"]))
        echo(sessionId="s1", SESSIONID="s2", userEmail="a@b.c", user_email="d@e.f", role="kept")
        (record,) = memory.records
        assert record.inputs == {
            "sessionId": REDACTED,
            "SESSIONID": REDACTED,
            "userEmail": REDACTED,
            "user_email": REDACTED,
            "role": "kept",
        }

    def test_keys_are_masked_in_every_record(self, memory: InMemoryExporter) -> None:
        """A secret used as a key is masked in every record; a mask callable sees every key."""
        seen: list[str] = []

        def mask(text: str) -> str:
            seen.append(text)
            return text.replace("alice", "[NAME]")

        echo(table={API_KEY: 1})
        promptrail.configure(redact=Redactor(mask=mask))
        echo(table={API_KEY: 1, "alice": 2})
        echo(table={API_KEY: 1, "alice": 2})
        default, *masked = memory.records
        assert default.inputs == {"table": {REDACTED: 1}}
        for record in masked:
            assert record.inputs == {"table": {REDACTED: 1, "[NAME]": 2}}
        assert seen.count("alice") == 2

    def test_callback_hides_chosen_values(self, memory: InMemoryExporter) -> None:
        """A callback(key, value) returning True hides that value, at any depth."""

        def is_email(key: str, value: Any) -> bool:
            return key == "email" or (isinstance(value, str) and value.endswith("@corp.example"))

        promptrail.configure(redact=Redactor(callback=is_email))
        echo(email="a@b.c", contact={"primary": "ann@corp.example", "phone": "1"}, token=SECRET)
        (record,) = memory.records
        assert record.inputs == {
            "email": REDACTED,
            "contact": {"primary": REDACTED, "phone": "1"},
            "token": REDACTED,
        }

    def test_callback_sees_any_mapping(self) -> None:
        """The callback also judges entries of non-dict mappings, with the original value."""
        seen: list[tuple[str, Any]] = []

        def judge(key: str, value: Any) -> bool:
            seen.append((key, value))
            return key == "hide"

        redactor = Redactor(callback=judge)
        value = types.MappingProxyType({"hide": 1, "keep": (2,)})
        assert to_jsonable({"m": value}, redactor=redactor) == {
            "m": {"hide": REDACTED, "keep": [2]}
        }
        assert seen == [("m", value), ("hide", 1), ("keep", (2,))]

    def test_failing_callback_fails_closed(
        self, memory: InMemoryExporter, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A callback that raises hides the value (never leaks it) and is reported once."""

        def broken(key: str, value: Any) -> bool:
            raise ValueError(f"cannot judge {value}")

        promptrail.configure(redact=Redactor(callback=broken))
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            echo(a=API_KEY, b="plain")
        (record,) = memory.records
        assert record.inputs == {"a": REDACTED, "b": REDACTED}
        assert promptrail.stats().errors["redact:callback"] == 2
        assert API_KEY not in caplog.text

    def test_redaction_can_be_switched_off(self, memory: InMemoryExporter) -> None:
        """redact=False keeps values as they are (an explicit choice)."""
        promptrail.configure(redact=False)
        echo(api_key=SECRET)
        (record,) = memory.records
        assert record.inputs == {"api_key": SECRET}

    def test_one_key_or_pattern_given_as_a_string(self, memory: InMemoryExporter) -> None:
        """keys="ssn" and patterns="..." mean that one key and that one pattern, not characters."""
        promptrail.configure(redact=Redactor(keys="ssn", patterns=r"\bID-\d{4}\b"))
        echo(ssn="1", city="Paris", note="card ID-1234")
        (record,) = memory.records
        assert record.inputs == {"ssn": REDACTED, "city": "Paris", "note": f"card {REDACTED}"}

    def test_an_invalid_pattern_is_named(self) -> None:
        """A pattern that is not a regular expression raises ConfigurationError quoting it."""
        with pytest.raises(ConfigurationError, match=r"'\(unclosed'"):
            Redactor(patterns=[r"\bok\b", "(unclosed"])

    def test_callback_must_be_callable(self) -> None:
        """A non-callable callback is rejected at construction."""
        with pytest.raises(TypeError, match="callback"):
            Redactor(callback="nope")  # type: ignore[arg-type]


# -- an API key given to an LLM client never appears anywhere ------------------------------


class AuthenticationError(Exception):
    """What an SDK raises for a bad key; its message quotes the key."""


class FakeClient:
    """An LLM client holding its key the way SDKs do (attribute, headers, repr)."""

    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.headers = {"Authorization": f"Bearer {api_key}", "User-Agent": "fake/1.0"}

    def __repr__(self) -> str:
        return f"FakeClient(api_key={self.api_key!r})"

    @log_prompt(path="llm/chat", provider="fake", model="fake-1")
    def chat(self, messages: list[dict[str, str]], *, fail: bool = False) -> dict[str, Any]:
        promptrail.update_current(
            provider_request={"headers": dict(self.headers), "json": {"messages": messages}},
        )
        if fail:
            raise AuthenticationError(f"Incorrect API key provided: {self.api_key}")
        return {"choices": [{"message": {"role": "assistant", "content": "hi"}}]}


@dataclasses.dataclass
class Settings:
    """Application settings passed around whole (a dataclass with the key inside)."""

    model: str
    openai_api_key: str


@log_flow(path="app/run")
def run(client: FakeClient, settings: Settings, question: str, *, fail: bool = False) -> str:
    """The application's flow: the client and settings are arguments, so they are captured."""
    client.chat([{"role": "user", "content": question}], fail=fail)
    return "done"


class LeakyExporter:
    """An exporter whose error message quotes the key (like an HTTP client's auth error)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def export(self, records: Sequence[LogRecord]) -> ExportResult:
        raise RuntimeError(f"401 Unauthorized for key {self.key}")

    def force_flush(self, timeout: float = 30.0) -> bool:
        return True

    def shutdown(self) -> None:
        pass


class TestKeyNeverLeaks:
    """The key passed to a client is in no export, log line or promptrail exception."""

    def test_not_in_files_logs_or_errors(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """JSONL bytes, SQLite bytes (with its WAL), promptrail log lines: no key anywhere."""
        jsonl = tmp_path / "logs.jsonl"
        db = tmp_path / "logs.db"
        memory = InMemoryExporter()
        promptrail.configure(
            exporters=[JsonlExporter(jsonl), SqliteExporter(db), LeakyExporter(API_KEY)],
            processors=[SimpleProcessor(memory)],
        )
        client = FakeClient(API_KEY)
        settings = Settings(model="fake-1", openai_api_key=API_KEY)
        with caplog.at_level(logging.DEBUG, logger="promptrail"):
            assert run(client, settings, f"is {API_KEY} valid?") == "done"
            with pytest.raises(AuthenticationError) as info:
                run(client, settings, "again", fail=True)
            promptrail.flush(5.0)
            promptrail.shutdown(5.0)
        # The user's own exception is theirs, untouched; promptrail's records are not.
        assert API_KEY in str(info.value)
        records = memory.records
        assert len(records) == 4
        leaked = [r.path for r in records if API_KEY in body(r)]
        assert leaked == []
        for path in tmp_path.iterdir():
            assert API_KEY.encode() not in path.read_bytes(), path.name
        assert jsonl.read_text().count("\n") == 4
        assert API_KEY not in caplog.text
        assert "LeakyExporter.export raised" in caplog.text  # the failure was logged, masked
        flow = next(r for r in records if r.path == "app/run" and r.error is None)
        assert flow.inputs["settings"] == {"model": "fake-1", "openai_api_key": REDACTED}
        assert API_KEY not in json.dumps(flow.inputs)

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"user": {"authorization": f"Bearer {API_KEY}"}},
            {"session_id": [API_KEY]},
            {"tags": 7},
            {"tags": [{"token": API_KEY}]},
        ],
    )
    def test_not_in_attribute_errors(self, kwargs: dict[str, Any]) -> None:
        """A wrong-typed session id, user or tag is named by its type, never quoted."""
        for block in (promptrail.attributes, functools.partial(trace, path="flow")):
            with pytest.raises(ConfigurationError) as info:
                block(**kwargs)
            assert API_KEY not in str(info.value)
            assert " not a " in str(info.value)

    def test_metadata_not_in_trace_update_errors(self) -> None:
        """``update_current_trace(metadata=...)`` of the wrong type is named by its type."""
        with pytest.raises(ConfigurationError) as info:
            promptrail.update_current_trace(metadata=[("api_key", API_KEY)])  # type: ignore[arg-type]
        assert str(info.value) == "metadata must be a mapping, not a list"

    def test_not_in_configuration_errors(self) -> None:
        """Passing the client to configure() by mistake does not quote its repr (and key)."""
        with pytest.raises(ConfigurationError) as info:
            promptrail.configure(exporters=[FakeClient(API_KEY)])  # type: ignore[list-item]
        assert "FakeClient" in str(info.value)
        assert API_KEY not in str(info.value)
