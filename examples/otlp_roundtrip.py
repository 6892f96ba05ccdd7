"""Send OpenTelemetry GenAI spans over OTLP/HTTP to promptrail's receiver, all in one process.

Needs the server extra and an OTLP exporter (``pip install 'promptrail[server,otel]'
opentelemetry-exporter-otlp-proto-http``). In real use the receiver runs on its own
(``PROMPTRAIL_SERVER_API_KEYS=dev-key promptrail serve``) and any OTLP exporter points at
``http://127.0.0.1:8000/v1/traces`` with the key in a header; here it runs on a thread.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import promptrail
from promptrail.exporters import SqliteStore
from promptrail.server import ServerThread, create_app


@promptrail.log_tool(path="demo/lookup")
def lookup(topic: str) -> str:
    return f"notes about {topic}"


@promptrail.log_prompt(path="demo/answer", model="gpt-4o-mini", provider="openai")
def answer(question: str, messages: list[dict[str, str]]) -> str:
    promptrail.update_current(prompt_tokens=42, output_tokens=5)
    return "Yes."


@promptrail.log_flow(path="demo/flow")
def flow(question: str) -> str:
    notes = lookup("promptrail")
    return answer(question, messages=[{"role": "user", "content": f"{notes}\n{question}"}])


def main() -> None:
    db = Path(tempfile.mkdtemp()) / "received.db"
    with ServerThread(create_app(db_path=db, api_keys=["dev-key"])) as server:
        # The app's own tracing: a local provider exporting over OTLP/HTTP to the receiver.
        provider = TracerProvider()
        exporter = OTLPSpanExporter(
            endpoint=server.url + "/v1/traces", headers={"Authorization": "Bearer dev-key"}
        )
        provider.add_span_processor(BatchSpanProcessor(exporter))
        # promptrail's logs become GenAI spans (no local store here: the receiver has them).
        bridge = promptrail.OtelBridge(tracer_provider=provider, capture_content=True)
        promptrail.configure(processors=[bridge])
        flow("does it work?")
        provider.shutdown()  # flushes the OTLP exporter
        for record in reversed(SqliteStore(db).logs()):
            parent = record.trace_parent_id[-8:] if record.trace_parent_id else "-"
            print(f"{record.log_id[-8:]} <- {parent}  {record.path} [{record.kind}]")
    promptrail.shutdown()


if __name__ == "__main__":
    main()
