"""Ship logs over HTTP to promptrail's own receiver, all in one process.

Needs the server extra (``pip install 'promptrail[server]'``). In real use the receiver runs on
its own (``PROMPTRAIL_SERVER_API_KEYS=dev-key promptrail serve``) and apps point
``PROMPTRAIL_BASE_URL`` / ``PROMPTRAIL_API_KEY`` at it; here it runs on a thread for the demo.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx2

import promptrail
from promptrail.exporters import HttpExporter
from promptrail.server import ServerThread, create_app


@promptrail.log_tool(path="demo/lookup")
def lookup(topic: str) -> str:
    return f"notes about {topic}"


@promptrail.log_prompt(path="demo/answer", model="gpt-4o-mini")
def answer(question: str, context: str) -> str:
    return f"Based on {context}: yes."


@promptrail.log_flow(path="demo/flow")
def flow(question: str) -> str:
    return answer(question, lookup("promptrail"))


def main() -> None:
    work = Path(tempfile.mkdtemp())
    app = create_app(db_path=work / "received.db", api_keys=["dev-key"])
    with ServerThread(app) as server:
        exporter = HttpExporter(
            base_url=server.url + "/v5", api_key="dev-key", spool_path=work / "spool.jsonl"
        )
        promptrail.configure(exporters=[exporter])
        flow("does it work?")
        promptrail.flush()
        trace_id = httpx2.get(
            server.url + "/v5/logs",
            params={"path": "demo/flow"},
            headers={"X-API-KEY": "dev-key"},
        ).json()["records"][0]["trace_id"]
        tree = httpx2.get(
            f"{server.url}/v5/traces/{trace_id}", headers={"X-API-KEY": "dev-key"}
        ).json()

        def show(node: dict[str, object], depth: int = 0) -> None:
            print(f"{'  ' * depth}{node['path']} [{node['kind']}]")
            for child in node["children"]:  # type: ignore[attr-defined]
                show(child, depth + 1)

        for root in tree["logs"]:
            show(root)
        print(exporter.stats())
        promptrail.shutdown()


if __name__ == "__main__":
    main()
