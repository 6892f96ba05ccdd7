"""Receiver hardening (``promptrail serve``): size limits, 422s, keys, parameterised SQL, binding.

The receiver runs as ``promptrail serve`` builds it (the API plus the viewer mounted at ``/``),
served by uvicorn on 127.0.0.1; requests are real HTTP.
"""

from __future__ import annotations

import argparse
import hmac
import json
import sqlite3
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx2

from promptrail.cli._main import COMMANDS
from promptrail.exporters import SqliteStore
from promptrail.server import ServerThread, create_app
from promptrail.server._web import create_web_app

KEYS = ("first-key-0123456789", "second-key-abcdefghij", "third-key-ABCDEFGHIJ")
LIMIT = 4_096
POST_ENDPOINTS = ["/v5/prompts/log", "/v5/flows/log", "/v5/tools/log", "/v1/traces"]
KEYED_GETS = ["/v5/logs", "/v5/traces/t1", "/v5/openapi.json"]
INJECTIONS = [
    "' OR '1'='1",
    "x'; DROP TABLE logs; --",
    '" OR 1=1 --',
    "app') UNION SELECT body, body FROM logs --",
    "%",
    "_",
    "app/%",
    "\\",
]


@pytest.fixture(name="db")
def fixture_db(tmp_path: Path) -> Path:
    """The receiver's SQLite file."""
    return tmp_path / "hardened.db"


@pytest.fixture(name="url")
def fixture_url(db: Path) -> Iterator[str]:
    """The receiver with the viewer at / (as ``promptrail serve`` runs it), on 127.0.0.1."""
    app = create_app(db_path=db, api_keys=KEYS, max_body_bytes=LIMIT)
    app.mount("/", create_web_app(app.state.store))
    with ServerThread(app) as server:
        yield server.url


def log_body(log_id: str, **fields: Any) -> dict[str, Any]:
    """A complete log body under app/answer, its own trace."""
    return {"log_id": log_id, "path": "app/answer", "trace_id": log_id, **fields}


def post(url: str, path: str, **kwargs: Any) -> httpx2.Response:
    """POST with the first key (unless headers are given)."""
    kwargs.setdefault("headers", {"X-API-KEY": KEYS[0]})
    return httpx2.post(url + path, timeout=5, **kwargs)


def stored(db: Path) -> list[str]:
    """The log ids in the store."""
    return sorted(r.log_id for r in SqliteStore(db, create=False).logs(limit=1000))


class TestBodyLimit:
    @pytest.mark.parametrize("endpoint", POST_ENDPOINTS)
    def test_oversized_body_is_413_declared_or_chunked(
        self, url: str, db: Path, endpoint: str
    ) -> None:
        """A body over the limit gets 413 with Content-Length and when streamed without it."""
        data = json.dumps(log_body("big", output="x" * LIMIT)).encode()
        headers = {"X-API-KEY": KEYS[0], "Content-Type": "application/json"}
        declared = post(url, endpoint, content=data, headers=headers)

        def chunks() -> Iterator[bytes]:
            for i in range(0, len(data), 512):
                yield data[i : i + 512]

        chunked = post(url, endpoint, content=chunks(), headers=headers)
        assert chunked.request.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in chunked.request.headers
        assert (declared.status_code, chunked.status_code) == (413, 413)
        assert stored(db) == []
        assert post(url, "/v5/prompts/log", json=log_body("small")).status_code == 200


MARK = "ECHO-ME-7731"
BAD_BODIES = {
    "int": json.dumps(log_body("v1", prompt_tokens=MARK)),
    "nested": json.dumps(log_body("v2", prompt={"temperature": MARK})),
    "datetime": json.dumps(log_body("v3", start_time=MARK)),
    "missing-path": json.dumps({"output": MARK}),
    "bad-json": '{"path": "' + MARK + '", ',
    "list": json.dumps([MARK]),
    "string": json.dumps(MARK),
}


class TestValidation:
    def test_422_names_the_problem_without_traceback_or_input(self, url: str, db: Path) -> None:
        """Invalid bodies get a JSON 422: no traceback, no file names, the input not echoed."""
        for name, content in BAD_BODIES.items():
            response = post(
                url,
                "/v5/prompts/log",
                content=content,
                headers={"X-API-KEY": KEYS[0], "Content-Type": "application/json"},
            )
            assert response.status_code == 422, name
            assert response.headers["content-type"] == "application/json", name
            assert isinstance(response.json()["detail"], list), name
            for leak in (MARK, "Traceback", 'File "', ".py", "pydantic"):
                assert leak not in response.text, (name, leak)
        assert stored(db) == []


BAD_HEADERS: list[dict[str, str]] = [
    {},
    {"X-API-KEY": ""},
    {"X-API-KEY": "wrong"},
    {"X-API-KEY": KEYS[0][:-1]},
    {"X-API-KEY": KEYS[0] + "x"},
    {"X-API-KEY": KEYS[0].upper()},
    {"X-API-KEY": ",".join(KEYS)},
    {"Authorization": f"Basic {KEYS[0]}"},
    {"Authorization": "Bearer wrong"},
]


class TestApiKeys:
    def test_missing_or_wrong_key_is_401_everywhere(self, url: str, db: Path) -> None:
        """Every keyed route refuses a missing or wrong key with 401 and stores nothing."""
        for headers in BAD_HEADERS:
            statuses = {
                path: post(url, path, json=log_body("k"), headers=headers).status_code
                for path in POST_ENDPOINTS
            }
            statuses |= {
                path: httpx2.get(url + path, headers=headers).status_code for path in KEYED_GETS
            }
            assert statuses == dict.fromkeys([*POST_ENDPOINTS, *KEYED_GETS], 401), headers
        assert stored(db) == []

    def test_each_key_is_accepted(self, url: str) -> None:
        """Every configured key works, in X-API-KEY or as a Bearer token."""
        for n, key in enumerate(KEYS):
            assert (
                post(
                    url, "/v5/prompts/log", json=log_body(f"a{n}"), headers={"X-API-KEY": key}
                ).status_code
                == 200
            )
            bearer = {"Authorization": f"Bearer {key}"}
            assert httpx2.get(url + "/v5/logs", headers=bearer).status_code == 200
        schema = httpx2.get(url + "/v5/openapi.json", headers={"X-API-KEY": KEYS[1]}).json()
        assert "/v5/prompts/log" in schema["paths"]

    def test_compared_in_constant_time_against_every_key(
        self, url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Each request is checked with hmac.compare_digest against all keys, matched or not."""
        calls: list[tuple[bytes, bytes]] = []
        real = hmac.compare_digest

        def counting(a: Any, b: Any) -> bool:
            calls.append((a, b))
            return real(a, b)

        monkeypatch.setattr(hmac, "compare_digest", counting)
        for given, status in [(KEYS[0], 200), (KEYS[2], 200), ("wrong", 401), (None, 401)]:
            calls.clear()
            headers = {"X-API-KEY": given} if given is not None else {}
            assert httpx2.get(url + "/v5/logs", headers=headers).status_code == status
            assert [b for _, b in calls] == [k.encode() for k in KEYS]
            assert {a for a, _ in calls} == {(given or "").encode()}


class TestParameterisedSql:
    @pytest.fixture(name="seeded")
    def fixture_seeded(self, url: str) -> str:
        """The receiver with two logs under app/answer and one under other."""
        for log_id in ("s1", "s2"):
            assert post(url, "/v5/prompts/log", json=log_body(log_id)).status_code == 200
        other = {**log_body("s3"), "path": "other"}
        assert post(url, "/v5/tools/log", json=other).status_code == 200
        return url

    def test_injection_looking_values_match_nothing(self, seeded: str, db: Path) -> None:
        """SQL and LIKE metacharacters in path/trace_id are plain values: empty results, 404s,
        and the table is intact afterwards (API and viewer routes)."""
        for value in INJECTIONS:
            self.check_matches_nothing(seeded, value)
        assert stored(db) == ["s1", "s2", "s3"]
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM logs").fetchone() == (3,)

    @staticmethod
    def check_matches_nothing(seeded: str, value: str) -> None:
        """Every read route, given ``value`` as path or trace id, finds nothing."""
        keyed = {"X-API-KEY": KEYS[0]}
        for params in ({"path": value}, {"trace_id": value}, {"path": value, "trace_id": value}):
            response = httpx2.get(seeded + "/v5/logs", params=params, headers=keyed)
            assert (response.status_code, response.json()["records"]) == (200, [])
        quoted = urllib.parse.quote(value, safe="")
        assert httpx2.get(seeded + "/v5/traces/" + quoted, headers=keyed).status_code == 404
        viewer = httpx2.get(seeded + "/ui/api/traces", params={"path": value}).json()
        assert viewer["traces"] == []
        assert httpx2.get(seeded + "/ui/api/traces/" + quoted).status_code == 404

    def test_real_values_still_match(self, seeded: str) -> None:
        """The same routes find stored logs by folder, path and trace (the control case)."""
        keyed = {"X-API-KEY": KEYS[0]}

        def ids(**params: str) -> list[str]:
            response = httpx2.get(seeded + "/v5/logs", params=params, headers=keyed)
            return sorted(r["log_id"] for r in response.json()["records"])

        assert ids(path="app") == ["s1", "s2"]
        assert ids(path="app/answer", trace_id="s2") == ["s2"]
        assert httpx2.get(seeded + "/v5/traces/s3", headers=keyed).status_code == 200
        viewer = httpx2.get(seeded + "/ui/api/traces", params={"path": "other"}).json()
        assert [t["trace_id"] for t in viewer["traces"]] == ["s3"]


class TestViewerReadOnly:
    def test_writes_are_405(self, url: str, db: Path) -> None:
        """The page, its assets and its JSON routes answer only GET: writes get 405."""
        assert post(url, "/v5/prompts/log", json=log_body("r1")).status_code == 200
        for path in [
            "/",
            "/ui/static/app.js",
            "/ui/api/cursor",
            "/ui/api/traces",
            "/ui/api/traces/r1",
        ]:
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                response = httpx2.request(method, url + path, json=log_body("w1"))
                assert response.status_code == 405, (method, path)
        assert stored(db) == ["r1"]
        assert httpx2.get(url + "/ui/api/traces/r1").status_code == 200


class TestLoopbackBinding:
    def test_defaults_bind_loopback(self) -> None:
        """The serve parser and ServerThread both default to 127.0.0.1."""
        parser = argparse.ArgumentParser()
        COMMANDS["serve"][1](parser)
        assert parser.parse_args([]).host == "127.0.0.1"
        assert ServerThread(object()).url.startswith("http://127.0.0.1:")

    def test_serve_listens_only_on_loopback(
        self, tmp_path: Path, serve_command: Callable[..., Any]
    ) -> None:
        """A started ``promptrail serve`` has listening sockets on 127.0.0.1 only."""
        tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
        if not tables[0].exists():
            pytest.skip("needs Linux /proc/net/tcp")
        served = serve_command("--db", str(tmp_path / "served.db"), keys=KEYS[0])
        listening = []
        for table in tables:
            for line in table.read_text().splitlines()[1:] if table.exists() else []:
                local, state = line.split()[1], line.split()[3]
                address, port = local.split(":")
                if state == "0A" and int(port, 16) == served.port:
                    listening.append(address)
        assert listening == ["0100007F"]  # 127.0.0.1, little-endian hex; nothing on 0.0.0.0/::
