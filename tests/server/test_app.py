"""The receiver (``promptrail serve``): a real uvicorn server on 127.0.0.1, real HTTP requests."""

from __future__ import annotations

import io
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx2
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from promptrail._record.models import PromptKernel
from promptrail._record.versions import version_id
from promptrail.cli._main import main
from promptrail.exceptions import ConfigurationError
from promptrail.exporters import SqliteStore
from promptrail.server import ServerThread, create_app
from promptrail.server import _app as app_module

KEY = "test-key-0123456789"


def body(log_id: str, *, path: str = "app/answer", **fields: Any) -> dict[str, Any]:
    """Return a minimal complete log body."""
    return {
        "log_id": log_id,
        "path": path,
        "trace_id": fields.pop("trace_id", log_id),
        "start_time": "2026-01-01T00:00:00+00:00",
        "created_at": "2026-01-01T00:00:01+00:00",
        **fields,
    }


@pytest.fixture(name="db")
def fixture_db(tmp_path: Path) -> Path:
    """The receiver's SQLite file."""
    return tmp_path / "received.db"


@pytest.fixture(name="server")
def fixture_server(db: Path) -> Iterator[ServerThread]:
    """A receiver served by uvicorn on a free port of 127.0.0.1."""
    with ServerThread(create_app(db_path=db, api_keys=[KEY], max_body_bytes=10_000)) as server:
        yield server


@pytest.fixture(name="client")
def fixture_client(server: ServerThread) -> Iterator[httpx2.Client]:
    """An HTTP client for the receiver's API, with the key."""
    with httpx2.Client(base_url=server.url + "/v5/", headers={"X-API-KEY": KEY}) as client:
        yield client


class TestReceiverAuth:
    def test_healthz_needs_no_key(self, server: ServerThread) -> None:
        """The health check answers without a key."""
        response = httpx2.get(server.url + "/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    @pytest.mark.parametrize("headers", [{}, {"X-API-KEY": "wrong"}, {"X-API-KEY": KEY + "x"}])
    def test_missing_or_wrong_key_is_401(
        self, server: ServerThread, headers: dict[str, str]
    ) -> None:
        """Every /v5 endpoint refuses a request without the right key, and stores nothing."""
        for method, path in [("POST", "/v5/prompts/log"), ("GET", "/v5/logs")]:
            response = httpx2.request(
                method,
                server.url + path,
                headers=headers,
                json=body("a") if method == "POST" else None,
            )
            assert response.status_code == 401
            assert "API key" in response.json()["detail"]

    def test_keys_come_from_the_environment(
        self, db: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """PROMPTRAIL_SERVER_API_KEYS holds comma-separated keys; each one works."""
        monkeypatch.setenv("PROMPTRAIL_SERVER_API_KEYS", "one, two")
        with ServerThread(create_app(db_path=db)) as server:
            for key, status in [("one", 200), ("two", 200), ("one, two", 401)]:
                response = httpx2.get(server.url + "/v5/logs", headers={"X-API-KEY": key})
                assert response.status_code == status

    def test_no_key_configured_is_a_configuration_error(
        self, db: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A receiver without any key refuses to start rather than accept anyone."""
        monkeypatch.delenv("PROMPTRAIL_SERVER_API_KEYS", raising=False)
        with pytest.raises(ConfigurationError, match="PROMPTRAIL_SERVER_API_KEYS"):
            create_app(db_path=db)


class TestReceiverWrites:
    def test_stores_in_the_sqlite_schema(self, client: httpx2.Client, db: Path) -> None:
        """A posted log lands in the same store SqliteExporter writes, with the stable ids."""
        response = client.post("prompts/log", json=body("p1", prompt={"model": "m"}))
        assert response.status_code == 200
        data = response.json()
        assert data["id"] == "p1"
        assert data["prompt_id"].startswith("pr_")
        assert data["version_id"].startswith("pv_")
        # the id a promptrail client computes for the same details
        assert data["version_id"] == version_id(PromptKernel(model="m"))
        again = client.post("prompts/log", json=body("p2", prompt={"model": "m"})).json()
        assert (again["prompt_id"], again["version_id"]) == (data["prompt_id"], data["version_id"])
        stored = SqliteStore(db, create=False).logs()
        assert [r.log_id for r in stored] == ["p2", "p1"]
        assert stored[0].prompt is not None
        assert stored[0].prompt.model == "m"

    def test_endpoint_decides_the_kind(self, client: httpx2.Client, db: Path) -> None:
        """flows/log and tools/log store flow and tool logs, and answer with flow_id/tool_id."""
        flow = client.post("flows/log", json=body("f1", kind="prompt")).json()
        tool = client.post("tools/log", json=body("t1")).json()
        assert flow["flow_id"].startswith("fl_")
        assert tool["tool_id"].startswith("tl_")
        store = SqliteStore(db, create=False)
        assert {r.log_id: r.kind for r in store.logs()} == {"f1": "flow", "t1": "tool"}

    def test_version_and_environment_from_query(self, client: httpx2.Client, db: Path) -> None:
        """version_id and environment query parameters fill the record when the body lacks them."""
        response = client.post(
            "prompts/log", json=body("q1"), params={"version_id": "v9", "environment": "prod"}
        )
        assert response.json()["version_id"] == "v9"
        record = SqliteStore(db, create=False).logs()[0]
        assert (record.version_id, record.environment) == ("v9", "prod")

    def test_retried_post_is_idempotent(self, client: httpx2.Client, db: Path) -> None:
        """Posting the same log_id twice stores it once and answers the same id."""
        first = client.post("prompts/log", json=body("dup", output="first"))
        second = client.post("prompts/log", json=body("dup", output="first"))
        assert first.json()["id"] == second.json()["id"] == "dup"
        assert SqliteStore(db, create=False).count() == 1

    def test_humanloop_style_body_gets_ids_filled(self, client: httpx2.Client) -> None:
        """A body with only path (and a parent) gets log_id, trace_id and times from the server."""
        parent = client.post("flows/log", json={"path": "flow"}).json()["id"]
        child = client.post(
            "prompts/log", json={"path": "step", "trace_parent_id": parent, "output": "x"}
        ).json()
        assert child["id"] != parent
        assert child["trace_id"] == parent
        tree = client.get(f"traces/{parent}").json()
        assert [n["log_id"] for n in tree["logs"]] == [parent]
        assert [n["log_id"] for n in tree["logs"][0]["children"]] == [child["id"]]

    def test_bad_body_is_422_naming_the_field(self, client: httpx2.Client) -> None:
        """A wrong field type gets 422 whose detail names the field and has no traceback."""
        response = client.post("prompts/log", json=body("b1", prompt_tokens="many"))
        assert response.status_code == 422
        detail = response.json()["detail"]
        assert detail[0]["loc"] == ["body", "prompt_tokens"]
        assert "Traceback" not in response.text
        assert "many" not in response.text  # the input is not echoed
        missing = client.post("prompts/log", json={"output": "no path"})
        assert missing.status_code == 422
        assert ["body", "path"] in [d["loc"] for d in missing.json()["detail"]]

    @pytest.mark.parametrize("content", [b"{not json", b"[1, 2]"])
    def test_non_object_json_is_422(self, client: httpx2.Client, content: bytes) -> None:
        """Invalid JSON, or JSON that is not an object, is a 422 too."""
        response = client.post(
            "prompts/log", content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422

    @pytest.mark.parametrize("method", ["insert", "get"])  # get: a child's trace is looked up
    def test_busy_store_is_503_with_retry_after(self, db: Path, method: str) -> None:
        """A store locked past its busy timeout answers 503 and Retry-After: the client retries."""
        app = create_app(db_path=db, api_keys=[KEY])

        def locked(*args: Any) -> None:
            raise sqlite3.OperationalError("database is locked")

        setattr(app.state.store, method, locked)
        with (
            ServerThread(app) as server,
            httpx2.Client(base_url=server.url + "/v5/", headers={"X-API-KEY": KEY}) as client,
        ):
            child = {**body("busy"), "trace_parent_id": "parent"}
            del child["trace_id"]
            response = client.post("prompts/log", json=child)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"

    def test_parsing_happens_off_the_event_loop(
        self, db: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Bodies are parsed, validated and stored in a worker thread, never on the loop."""
        threads: list[str] = []

        class RecordingJson:
            """The json module as the receiver sees it, noting the thread of each loads()."""

            @staticmethod
            def loads(raw: Any) -> Any:
                threads.append(threading.current_thread().name)
                return json.loads(raw)

        app = create_app(db_path=db, api_keys=[KEY])
        with (
            ServerThread(app) as server,
            httpx2.Client(base_url=server.url + "/v5/", headers={"X-API-KEY": KEY}) as client,
        ):
            monkeypatch.setattr(app_module, "json", RecordingJson)
            assert client.post("prompts/log", json=body("off-loop")).status_code == 200
        assert threads
        assert "promptrail-server" not in threads  # the event loop's thread (ServerThread)

    def test_body_over_the_limit_is_413(self, client: httpx2.Client, db: Path) -> None:
        """A body larger than max_body_bytes gets 413, by Content-Length and when streamed."""
        big = body("big", output="x" * 20_000)
        assert client.post("prompts/log", json=big).status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
            data = json.dumps(big).encode()
            for i in range(0, len(data), 1000):
                yield data[i : i + 1000]

        response = client.post(
            "prompts/log", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert SqliteStore(db, create=False).count() == 0


SECRET = "sk-proj-Zq8XaB3kLmN0pQrStUvWxYz123456"


def secret_body(log_id: str) -> dict[str, Any]:
    """A log as a client that does not redact sends it: secrets in every content field."""
    return body(
        log_id,
        inputs={"api_key": SECRET, "question": "the capital of France?"},
        messages=[{"role": "user", "content": f"my key is {SECRET}, password: hunter2hunter2"}],
        output=f"used {SECRET}",
        metadata={"client_secret": "shh-not-a-format-1", "team": "support"},
        provider_request={"headers": {"Authorization": f"Bearer {SECRET}"}},
        prompt={"model": "m", "other": {"token": "abcdefabcdef"}},
    )


class TestReceiverRedaction:
    def assert_masked(self, db: Path, log_id: str) -> None:
        stored = SqliteStore(db, create=False).get(log_id)
        assert stored is not None
        text = stored.model_dump_json()
        for secret in (SECRET, "hunter2hunter2", "shh-not-a-format-1", "abcdefabcdef"):
            assert secret not in text
        assert stored.inputs == {"api_key": "[REDACTED]", "question": "the capital of France?"}
        assert stored.metadata["team"] == "support"
        assert stored.prompt is not None
        assert stored.prompt.model == "m"

    def test_a_posted_log_is_stored_with_its_secrets_masked(
        self, client: httpx2.Client, db: Path
    ) -> None:
        """Secrets in a posted log's fields are masked as in promptrail's own records."""
        response = client.post("prompts/log", json=secret_body("s1"))
        assert response.status_code == 200
        assert SECRET not in response.text
        self.assert_masked(db, "s1")
        assert SECRET not in client.get("logs/s1").text

    def test_a_batch_and_an_update_are_masked_too(self, client: httpx2.Client, db: Path) -> None:
        """The batch route and the update route mask secrets like a single post."""
        batch = client.post("logs/batch", json={"logs": [secret_body("b1")]})
        assert batch.status_code == 200
        self.assert_masked(db, "b1")
        client.post("prompts/log", json=body("u1"))
        update = secret_body("u1")
        for name in ("log_id", "path", "trace_id", "start_time", "created_at"):
            del update[name]
        response = client.patch("prompts/pr_any/log/u1", json=update)
        assert response.status_code == 200
        self.assert_masked(db, "u1")


class TestReceiverReads:
    def test_trace_tree_accepts_child_before_parent(self, client: httpx2.Client) -> None:
        """Children posted before their parent still nest under it, in start order."""
        client.post(
            "tools/log",
            json=body(
                "c2", trace_id="root", trace_parent_id="root", start_time="2026-01-01T00:00:02Z"
            ),
        )
        client.post(
            "prompts/log",
            json=body(
                "c1", trace_id="root", trace_parent_id="root", start_time="2026-01-01T00:00:01Z"
            ),
        )
        client.post("prompts/log", json=body("g1", trace_id="root", trace_parent_id="c1"))
        client.post("flows/log", json=body("root"))
        tree = client.get("traces/root").json()
        assert tree["trace_id"] == "root"
        (root,) = tree["logs"]
        assert root["log_id"] == "root"
        assert root["kind"] == "flow"
        assert [c["log_id"] for c in root["children"]] == ["c1", "c2"]
        assert [g["log_id"] for g in root["children"][0]["children"]] == ["g1"]

    def test_unknown_trace_is_404(self, client: httpx2.Client) -> None:
        """Asking for a trace that is not stored gets 404."""
        assert client.get("traces/nope").status_code == 404

    def test_logs_filter_by_path_trace_and_limit(self, client: httpx2.Client) -> None:
        """GET /v5/logs filters by path (folder prefix) and trace, newest first, up to limit."""
        for i, path in enumerate(["a/x", "a/y", "b/z"]):
            start = f"2026-01-01T00:00:0{i}Z"
            client.post("prompts/log", json=body(f"l{i}", path=path, start_time=start))

        def ids(**params: Any) -> list[str]:
            return [r["log_id"] for r in client.get("logs", params=params).json()["records"]]

        assert ids() == ["l2", "l1", "l0"]
        assert ids(path="a") == ["l1", "l0"]
        assert ids(trace_id="l2") == ["l2"]
        assert ids(limit=1) == ["l2"]
        assert client.get("logs", params={"limit": 0}).status_code == 422


class TestReceiverRoot:
    def test_root_is_free_for_a_mounted_app(self, db: Path) -> None:
        """An app mounted at / serves everything the API does not, and the API keeps its paths."""

        async def page(request: Any) -> PlainTextResponse:
            return PlainTextResponse("viewer")

        viewer = Mount("/", routes=[Route("/", page), Route("/other", page)])
        app = create_app(db_path=db, api_keys=[KEY], routes=[viewer])
        with ServerThread(app) as server:
            assert httpx2.get(server.url + "/").text == "viewer"
            assert httpx2.get(server.url + "/other").text == "viewer"
            assert httpx2.get(server.url + "/healthz").json() == {"status": "ok"}
            assert httpx2.get(server.url + "/v5/logs").status_code == 401


class TestServeCommand:
    def test_serve_runs_the_receiver(
        self, tmp_path: Path, serve_command: Callable[..., Any]
    ) -> None:
        """`promptrail serve` binds 127.0.0.1, takes keys from the environment, writes --db."""
        db = tmp_path / "served.db"
        served = serve_command("--db", str(db), keys=KEY)
        response = httpx2.post(
            served.url + "/v5/prompts/log", json=body("s1"), headers={"X-API-KEY": KEY}
        )
        assert response.status_code == 200
        page = httpx2.get(served.url + "/")  # the viewer, same process
        assert page.status_code == 200
        assert "text/html" in page.headers["content-type"]
        traces = httpx2.get(served.url + "/ui/api/traces").json()
        assert "s1" in str(traces)
        output = served.stop()
        assert [r.log_id for r in SqliteStore(db, create=False).logs()] == ["s1"]
        assert KEY not in output

    def test_serve_without_keys_exits_with_a_message(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without PROMPTRAIL_SERVER_API_KEYS the command says so and exits 2."""
        monkeypatch.delenv("PROMPTRAIL_SERVER_API_KEYS", raising=False)
        assert main(["serve", "--port", "1"]) == 2
        err = capsys.readouterr().err
        assert "PROMPTRAIL_SERVER_API_KEYS" in err
        assert "api_keys=" not in err  # a Python argument means nothing on the command line

    def test_serve_on_a_port_in_use_is_a_message(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        busy_port: int,
    ) -> None:
        """A port in use exits 2 with a message, announces nothing and creates no store."""
        monkeypatch.setenv("PROMPTRAIL_SERVER_API_KEYS", KEY)
        db = tmp_path / "never.db"
        out = io.StringIO()
        assert main(["serve", "--db", str(db), "--port", str(busy_port)], out=out) == 2
        assert f"cannot listen on 127.0.0.1:{busy_port}" in capsys.readouterr().err
        assert out.getvalue() == ""
        assert not db.exists()

    def test_serve_help_names_the_key_variable(self, capsys: pytest.CaptureFixture[str]) -> None:
        """``promptrail serve --help`` says where the API keys come from."""
        with pytest.raises(SystemExit):
            main(["serve", "--help"])
        assert "PROMPTRAIL_SERVER_API_KEYS" in capsys.readouterr().out


class TestServerPackage:
    def test_public_surface(self) -> None:
        """promptrail.server exports documented create_app and ServerThread, nothing else."""
        import promptrail.server

        assert promptrail.server.__all__ == ["ServerThread", "create_app"]
        assert promptrail.server.create_app.__doc__
        assert promptrail.server.ServerThread.__doc__
        with pytest.raises(AttributeError):
            promptrail.server.nothing  # noqa: B018
