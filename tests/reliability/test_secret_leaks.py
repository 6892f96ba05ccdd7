"""Secrets in token formats, URLs, reprs, exception text and dict keys never reach a record."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

import promptrail
from promptrail import Redactor, log_prompt, trace
from promptrail._record.serialize import to_jsonable
from promptrail._runtime.secrets import REDACTED
from promptrail.exporters import InMemoryExporter, JsonlExporter, SqliteExporter

PASSWORD = "hunter2hunter2"
TOKENS = {
    "url": f"postgres://admin:{PASSWORD}@db/x",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlF",
    "google": "AIzaSyA-1234567890abcdefghijklmnopqrstu",
    "huggingface": "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH",
    "stripe": "sk_live_abcdefghijklmnop1234",
    "stripe_restricted": "rk_live_abcdefghijklmnop1234",
    "slack": "xoxe-1-abcdefghijklmnop",
}
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@log_prompt(path="echo")
def echo(*args: Any, **kwargs: Any) -> str:
    """A decorated call taking anything."""
    return "ok"


@dataclasses.dataclass
class Config:
    """A dataclass holding a connection URL."""

    dsn: str


class Client:
    """An object whose repr shows its password."""

    def __repr__(self) -> str:
        return f"Client(password={PASSWORD!r})"


@pytest.mark.parametrize("name", sorted(TOKENS))
def test_token_formats_are_masked(memory: InMemoryExporter, name: str) -> None:
    """Each well-known token format is masked inside any string value."""
    echo(note=f"use {TOKENS[name]} here")
    (record,) = memory.records
    assert TOKENS[name].split("@")[0].split(":")[-1] not in record.model_dump_json()
    assert REDACTED in json.dumps(record.inputs)


@pytest.mark.parametrize(
    "key", ["pwd", "passwd", "api_keys", "stripe_key", "db_secret", "github_token", "accessToken"]
)
def test_secret_keyword_arguments(memory: InMemoryExporter, key: str) -> None:
    """Keyword arguments named like secrets, by word parts, are hidden."""
    echo(**{key: PASSWORD})
    (record,) = memory.records
    assert record.inputs is not None
    assert record.inputs[key] == REDACTED


def test_dataclass_repr_exception_and_dict_key(memory: InMemoryExporter) -> None:
    """URLs in dataclass fields, passwords in reprs and exception text, secrets as keys."""

    @log_prompt(path="fails")
    def fails(config: Config, client: Client, table: dict[str, int]) -> None:
        msg = f"cannot connect to {config.dsn}; aws_secret_access_key={AWS_SECRET}"
        raise ValueError(msg)

    with pytest.raises(ValueError, match="cannot connect"):
        fails(Config(TOKENS["url"]), Client(), {TOKENS["stripe"]: 1})
    (record,) = memory.records
    text = record.model_dump_json()
    for secret in (PASSWORD, AWS_SECRET, TOKENS["stripe"]):
        assert secret not in text
    assert record.error is not None
    assert "postgres://[REDACTED]@db/x" in record.error


@pytest.mark.parametrize("secret", [TOKENS["url"], "key sk-proj-" + "Zq8Xa" * 10])
def test_a_string_cut_at_its_limit_keeps_no_part_of_a_secret(
    memory: InMemoryExporter, secret: str
) -> None:
    """A secret that straddles ``max_string`` is masked before the string is cut."""
    limit = promptrail.Limits().max_string
    for before in range(2, 30):
        echo(text="a" * (limit - before) + " " + secret)
    text = "".join(record.model_dump_json() for record in memory.records)
    assert PASSWORD not in text
    assert "Zq8Xa" not in text


def test_azure_connection_string_key_is_masked(memory: InMemoryExporter) -> None:
    """An Azure Storage connection string keeps its names and loses its ``AccountKey``."""
    key = "q8Zx3vB9nM2kL7pW4rT6yU1iO0aS5dF+gH/jK=="
    echo(conn=f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={key};x=y")
    (record,) = memory.records
    assert record.inputs is not None
    assert record.inputs["conn"] == (
        f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={REDACTED};x=y"
    )


def test_every_store_gets_masked_text(tmp_path: Path) -> None:
    """SQLite and JSONL hold no secret from exception text or trace metadata."""
    sqlite = SqliteExporter(tmp_path / "out.db")
    jsonl = tmp_path / "out.jsonl"
    promptrail.configure(exporters=[sqlite, JsonlExporter(jsonl)])
    with pytest.raises(RuntimeError), trace(path="t", metadata={"dsn": TOKENS["url"]}):
        raise RuntimeError(f"login failed: password={PASSWORD}")
    assert promptrail.flush(5.0) is True
    assert PASSWORD not in jsonl.read_text()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("out.db*"))  # the WAL too
    assert b"login failed" in stored
    assert PASSWORD not in stored.decode("utf-8", "replace")


def test_tool_call_arguments_json_is_masked(memory: InMemoryExporter) -> None:
    """A secret inside a JSON string (tool-call arguments) is masked by the word before it."""
    echo(arguments=json.dumps({"user": "ann", "password": PASSWORD}))
    (record,) = memory.records
    assert PASSWORD not in record.model_dump_json()


def test_anthropic_thinking_signature_is_kept() -> None:
    """A thinking block's signature is not a secret: replaying the conversation needs it."""
    block = {"type": "thinking", "thinking": "hmm", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA"}
    assert to_jsonable([block]) == [block]


def test_mask_callable_masks_whole_values(memory: InMemoryExporter) -> None:
    """A ``mask=`` callable rewrites every string written (PII such as e-mail addresses)."""
    redactor = Redactor(mask=lambda text: text.replace("ann@example.com", "<email>"))
    assert to_jsonable({"to": "mail ann@example.com now"}, redactor=redactor) == {
        "to": "mail <email> now"
    }


def test_mask_callable_that_raises_hides_the_value() -> None:
    """A mask that raises fails closed: the text is hidden."""

    def broken(text: str) -> str:
        raise RuntimeError("bug")

    assert to_jsonable("anything at all", redactor=Redactor(mask=broken)) == REDACTED


def test_tool_call_arguments_in_otel_spans_are_masked() -> None:
    """Secrets in a tool's arguments and in chat tool calls stay out of the bridge's spans."""
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    records = InMemoryExporter()
    bridge = promptrail.OtelBridge(tracer_provider=provider, capture_content=True)
    promptrail.configure(processors=[promptrail.SimpleProcessor(records), bridge])

    @promptrail.log_tool(path="tools/connect")
    def connect(dsn: str, password: str, options: str, headers: dict[str, str]) -> str:
        return "connected"

    @log_prompt(path="chat", model="m")
    def chat(messages: list[dict[str, Any]]) -> str:
        return "ok"

    arguments = json.dumps({"dsn": TOKENS["url"], "api_key": TOKENS["stripe"]})
    try:
        connect(TOKENS["url"], PASSWORD, arguments, {"Authorization": f"Bearer {AWS_SECRET}"})
        call = {
            "id": "c1",
            "type": "function",
            "function": {"name": "connect", "arguments": arguments},
        }
        chat([{"role": "user", "content": "go"}, {"role": "assistant", "tool_calls": [call]}])
    finally:
        provider.shutdown()
    attributes = [dict(span.attributes or {}) for span in spans.get_finished_spans()]
    tool = next(a for a in attributes if "gen_ai.tool.call.arguments" in a)
    assert REDACTED in str(tool["gen_ai.tool.call.arguments"])
    text = json.dumps(attributes, default=str)
    prompt = next(a for a in attributes if "gen_ai.input.messages" in a)
    assert '"tool_call"' in str(prompt["gen_ai.input.messages"])
    for secret in (PASSWORD, AWS_SECRET, TOKENS["stripe"]):
        assert secret not in text
