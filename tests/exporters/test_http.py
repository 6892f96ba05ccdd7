"""HttpExporter with httpx2.MockTransport: requests, retries, backoff, spool, secrets."""

from __future__ import annotations

import email.utils
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

import promptrail
from promptrail import LogRecord
from promptrail._record.encode import dump_json
from promptrail._record.humanloop import humanloop_body
from promptrail.exceptions import ConfigurationError
from promptrail.exporters import ExportResult, HttpExporter
from promptrail.exporters._spool import Spool

KEY = "sk-live-SECRETSECRET-123"
T0 = datetime(2026, 1, 1, tzinfo=UTC)

Handler = Callable[[httpx2.Request], httpx2.Response]


def record(log_id: str, *, kind: str = "prompt", **fields: Any) -> LogRecord:
    """Return a finished record."""
    return LogRecord.model_validate(
        {
            "log_id": log_id,
            "path": f"app/{kind}",
            "kind": kind,
            "trace_id": fields.pop("trace_id", log_id),
            "start_time": T0,
            "created_at": T0,
            **fields,
        }
    )


class Recorder:
    """A MockTransport handler that answers from a script and records every request."""

    def __init__(self, *responses: int | httpx2.Response | Exception) -> None:
        self.script = list(responses)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        step = self.script.pop(0) if self.script else 200
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx2.Response):
            return step
        return httpx2.Response(step, json={"id": json.loads(request.content).get("log_id")})

    def ids(self) -> list[str]:
        """The log_id of each request, in order."""
        return [json.loads(r.content)["log_id"] for r in self.requests]


@pytest.fixture(name="sleeps")
def fixture_sleeps() -> list[float]:
    """Delays the exporter asked to sleep (it does not actually sleep)."""
    return []


@pytest.fixture(name="make")
def fixture_make(tmp_path: Path, sleeps: list[float]) -> Iterator[Callable[..., HttpExporter]]:
    """Build exporters over a MockTransport, with a spool in tmp_path and a recorded sleep."""
    made: list[HttpExporter] = []

    def make(handler: Handler, **options: Any) -> HttpExporter:
        options.setdefault("base_url", "http://test/v5")
        options.setdefault("api_key", KEY)
        options.setdefault("spool_path", tmp_path / "spool.jsonl")
        options.setdefault("sleep", sleeps.append)
        options.setdefault("batch", False)  # one request per record, in order: scripted answers
        options.setdefault("concurrency", 1)
        exporter = HttpExporter(transport=httpx2.MockTransport(handler), **options)
        made.append(exporter)
        return exporter

    yield make
    for exporter in made:
        exporter.shutdown()


class TestHttpExporterConfig:
    def test_importing_promptrail_does_not_import_httpx2(self) -> None:
        """httpx2 is imported only when HttpExporter is first used."""
        code = (
            "import sys, promptrail, promptrail.exporters, promptrail.cli._main;"
            "assert 'httpx2' not in sys.modules;"
            "assert 'fastapi' not in sys.modules;"
            "promptrail.exporters.HttpExporter;"
            "assert 'httpx2' in sys.modules"
        )
        subprocess.run([sys.executable, "-c", code], check=True)

    def test_url_and_key_are_required(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without an argument or environment variable, construction says which one is missing."""
        monkeypatch.delenv("PROMPTRAIL_BASE_URL", raising=False)
        monkeypatch.delenv("PROMPTRAIL_API_KEY", raising=False)
        with pytest.raises(ConfigurationError, match="PROMPTRAIL_BASE_URL"):
            HttpExporter(api_key=KEY)
        with pytest.raises(ConfigurationError, match="PROMPTRAIL_API_KEY"):
            HttpExporter(base_url="http://x/v5")
        with pytest.raises(ConfigurationError, match="http"):
            HttpExporter(base_url="ftp://x", api_key=KEY)

    def test_environment_configures_it(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """PROMPTRAIL_BASE_URL and PROMPTRAIL_API_KEY are used when no argument is given."""
        monkeypatch.setenv("PROMPTRAIL_BASE_URL", "http://env-host/v5/")
        monkeypatch.setenv("PROMPTRAIL_API_KEY", KEY)
        handler = Recorder()
        exporter = HttpExporter(
            transport=httpx2.MockTransport(handler), spool_path=tmp_path / "s.jsonl"
        )
        assert exporter.export([record("a")]) is ExportResult.SUCCESS
        assert str(handler.requests[-1].url) == "http://env-host/v5/prompts/log"
        assert handler.requests[0].headers["X-API-KEY"] == KEY
        exporter.shutdown()

    @pytest.mark.parametrize("bad", ["two words", "line\nbreak", "ünïcode"])
    def test_unusable_key_is_refused_without_showing_it(self, bad: str) -> None:
        """A key that cannot be an HTTP header value fails at construction; the message hides it."""
        with pytest.raises(ConfigurationError) as info:
            HttpExporter(base_url="http://x/v5", api_key=bad)
        assert bad not in str(info.value)

    def test_bad_numbers_are_refused(self) -> None:
        """Non-positive timeout or a max_backoff below backoff is a configuration error."""
        for options in ({"timeout": 0}, {"max_retries": -1}, {"backoff": 2, "max_backoff": 1}):
            with pytest.raises(ConfigurationError):
                HttpExporter(base_url="http://x/v5", api_key=KEY, **options)

    @pytest.mark.parametrize("size", [0, -1, 1.5, True, "1MB"])
    def test_bad_spool_limit_is_refused(self, size: Any) -> None:
        """spool_max_bytes is a positive int (or None for no limit)."""
        with pytest.raises(ConfigurationError, match="spool_max_bytes"):
            HttpExporter(base_url="http://x/v5", api_key=KEY, spool_max_bytes=size)
        HttpExporter(base_url="http://x/v5", api_key=KEY, spool_max_bytes=None).shutdown()

    def test_default_spool_is_per_server_in_the_cache(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """The default spool lives under $XDG_CACHE_HOME/promptrail, one file per base URL."""
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        one = HttpExporter(base_url="http://a/v5", api_key=KEY)
        same = HttpExporter(base_url="http://a/v5/", api_key=KEY)
        other = HttpExporter(base_url="http://b/v5", api_key=KEY)
        assert one.spool_path.parent == tmp_path / "promptrail"
        assert one.spool_path == same.spool_path != other.spool_path
        assert "a/v5" not in str(one.spool_path)


class TestHttpExporterRequests:
    def test_requests_are_hidden_from_opentelemetry(
        self, make: Callable[..., HttpExporter]
    ) -> None:
        """Each POST runs with OpenTelemetry's suppress-instrumentation flag set."""
        otel_context = pytest.importorskip("opentelemetry.context")
        seen: list[object] = []

        def handler(request: httpx2.Request) -> httpx2.Response:
            seen.append(otel_context.get_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY))
            return httpx2.Response(200, json={"id": "p"})

        assert make(handler).export([record("p")]) is ExportResult.SUCCESS
        assert seen == [True]
        assert otel_context.get_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY) is None

    def test_each_kind_goes_to_its_endpoint(self, make: Callable[..., HttpExporter]) -> None:
        """prompt, flow and tool records are POSTed to prompts/log, flows/log and tools/log."""
        handler = Recorder()
        exporter = make(handler)
        records = [record("p", kind="prompt"), record("f", kind="flow"), record("t", kind="tool")]
        assert exporter.export(records) is ExportResult.SUCCESS
        assert [(r.method, r.url.path) for r in handler.requests] == [
            ("POST", "/v5/prompts/log"),
            ("POST", "/v5/flows/log"),
            ("POST", "/v5/tools/log"),
        ]

    def test_body_is_the_record_and_query_has_version_and_environment(
        self, make: Callable[..., HttpExporter]
    ) -> None:
        """The body is Humanloop's shape of the record; version_id and environment in the query."""
        handler = Recorder()
        rec = record("p", version_id="v1", environment="prod", output="hi")
        make(handler).export([rec])
        (request,) = handler.requests
        assert json.loads(request.content) == humanloop_body(rec)
        assert dict(request.url.params) == {"version_id": "v1", "environment": "prod"}

    def test_a_derived_version_id_is_not_sent_as_the_version_to_log_to(
        self, make: Callable[..., HttpExporter]
    ) -> None:
        """promptrail's own pv_ version id travels in metadata, never in the query."""
        handler = Recorder()
        rec = record("p", version_id="pv_0123456789abcdef", environment="prod")
        make(handler).export([rec])
        (request,) = handler.requests
        assert dict(request.url.params) == {"environment": "prod"}
        body = json.loads(request.content)
        assert body["metadata"]["promptrail"]["version_id"] == "pv_0123456789abcdef"
        assert request.headers["X-API-KEY"] == KEY
        assert request.headers["Content-Type"] == "application/json"

    @pytest.mark.parametrize("concurrency", [1, 4])
    def test_parents_are_sent_before_their_children(
        self, make: Callable[..., HttpExporter], sleeps: list[float], concurrency: int
    ) -> None:
        """Children finish (so are exported) first; each parent is posted before them, in a pass."""
        handler = Recorder()
        tree = [
            record("leaf", trace_id="root", trace_parent_id="mid"),
            record("mid", kind="flow", trace_id="root", trace_parent_id="root"),
            record("other", trace_id="x"),
            record("root", kind="flow", trace_id="root"),
        ]
        make(handler, concurrency=concurrency).export(tree)
        sent = handler.ids()
        assert sorted(sent) == ["leaf", "mid", "other", "root"]
        assert sent.index("root") < sent.index("mid") < sent.index("leaf")
        assert sleeps == []  # one pass, no retry wait

    def test_a_child_waits_for_a_parent_that_failed(
        self, make: Callable[..., HttpExporter]
    ) -> None:
        """A child is not posted in a pass whose post of its parent failed; both go later."""
        handler = Recorder(503)
        exporter = make(handler, max_retries=1)
        exporter.export([record("child", trace_parent_id="parent"), record("parent")])
        assert handler.ids() == ["parent", "parent", "child"]

    def test_one_client_is_reused(self, make: Callable[..., HttpExporter]) -> None:
        """All exports share one httpx2.Client (connection reuse)."""
        exporter = make(Recorder())
        exporter.export([record("a")])
        client = exporter._sender._http
        exporter.export([record("b")])
        assert client is not None
        assert exporter._sender._http is client


class TestHttpExporterRetries:
    def test_5xx_is_retried_with_growing_jittered_backoff(
        self, make: Callable[..., HttpExporter], sleeps: list[float]
    ) -> None:
        """503s are retried; delays double from `backoff` (times a jitter in [0.5, 1])."""
        handler = Recorder(503, 500, 502, 200)
        exporter = make(handler, backoff=1.0, max_backoff=100.0)
        assert exporter.export([record("a")]) is ExportResult.SUCCESS
        assert handler.ids() == ["a"] * 4
        assert len(sleeps) == 3
        for delay, base in zip(sleeps, [1.0, 2.0, 4.0], strict=True):
            assert base * 0.5 <= delay <= base
        assert exporter.stats()["pending"] == 0

    def test_backoff_is_capped(
        self, make: Callable[..., HttpExporter], sleeps: list[float]
    ) -> None:
        """No delay exceeds max_backoff."""
        exporter = make(Recorder(*[500] * 6), backoff=1.0, max_backoff=2.0, max_retries=6)
        assert exporter.export([record("a")]) is ExportResult.SUCCESS
        assert max(sleeps) <= 2.0

    def test_connection_errors_and_timeouts_are_retried(
        self, make: Callable[..., HttpExporter]
    ) -> None:
        """ConnectError, ReadTimeout and a dropped connection are retried like 5xx."""
        handler = Recorder(
            httpx2.ConnectError("refused"),
            httpx2.ReadTimeout("slow"),
            httpx2.RemoteProtocolError("dropped"),
            200,
        )
        assert make(handler).export([record("a")]) is ExportResult.SUCCESS
        assert len(handler.requests) == 4

    def test_retry_after_seconds_is_honoured(
        self, make: Callable[..., HttpExporter], sleeps: list[float]
    ) -> None:
        """A 429 with Retry-After: 3 waits at least 3 seconds before the retry."""
        handler = Recorder(httpx2.Response(429, headers={"Retry-After": "3"}), 200)
        assert make(handler, backoff=0.1).export([record("a")]) is ExportResult.SUCCESS
        assert sleeps == [3.0]

    def test_retry_after_http_date_is_honoured(
        self, make: Callable[..., HttpExporter], sleeps: list[float]
    ) -> None:
        """Retry-After may be an HTTP date; the wait is the time until then."""
        when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=4), True)
        handler = Recorder(httpx2.Response(503, headers={"Retry-After": when}), 200)
        assert make(handler, backoff=0.1).export([record("a")]) is ExportResult.SUCCESS
        assert len(sleeps) == 1
        assert 2.0 <= sleeps[0] <= 4.0

    def test_long_retry_after_spools_and_waits_without_sleeping(
        self, make: Callable[..., HttpExporter], sleeps: list[float]
    ) -> None:
        """A Retry-After beyond max_backoff is not slept through: records wait in the spool."""
        handler = Recorder(httpx2.Response(429, headers={"Retry-After": "120"}))
        exporter = make(handler, max_backoff=5.0)
        assert exporter.export([record("a")]) is ExportResult.SUCCESS  # kept in the spool
        assert exporter.export([record("b")]) is ExportResult.SUCCESS  # still inside Retry-After
        assert exporter.force_flush(1.0) is False  # flush honours Retry-After too
        assert sleeps == []
        assert len(handler.requests) == 1  # nothing is sent before the Retry-After has passed
        assert [r.log_id for r in Spool(exporter.spool_path).read()] == ["a", "b"]

    @pytest.mark.parametrize("status", [400, 404, 409, 413, 422])
    def test_other_4xx_is_not_retried_and_logged_once(
        self,
        make: Callable[..., HttpExporter],
        status: int,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A 4xx is final: one request per record, the server's message logged once, no spool."""
        response = httpx2.Response(
            status, json={"detail": [{"loc": ["body", "path"], "msg": "Field required"}]}
        )
        handler = Recorder(response, response)
        exporter = make(handler)
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            assert exporter.export([record("a"), record("b"), record("c")]) is ExportResult.FAILURE
        assert handler.ids() == ["a", "b", "c"]
        messages = [r.getMessage() for r in caplog.records if f"HTTP {status}" in r.getMessage()]
        assert len(messages) == 1
        assert "path: Field required" in messages[0]
        assert "include the API's version" not in messages[0]  # base_url has its /v5
        assert exporter.stats() == {
            "delivered": 1,
            "rejected": 2,
            "spooled": 0,
            "resent": 0,
            "spool_dropped": 0,
            "dead_lettered": 0,
            "pending": 0,
        }

    @pytest.mark.parametrize("status", [404, 405])
    def test_404_without_a_version_prefix_says_so(
        self,
        make: Callable[..., HttpExporter],
        status: int,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A 404/405 from a base_url with no /vN part asks whether the prefix is missing."""
        exporter = make(Recorder(status), base_url="http://test")
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            exporter.export([record("a")])
        assert "include the API's version, e.g. /v5?" in caplog.text

    def test_401_stops_the_batch_and_is_not_retried(
        self, make: Callable[..., HttpExporter], caplog: pytest.LogCaptureFixture
    ) -> None:
        """A refused key stops the batch after one request; the records wait for a good key."""
        handler = Recorder(httpx2.Response(401, json={"detail": "missing or invalid API key"}))
        exporter = make(handler)
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            exporter.export([record("a"), record("b")])
            exporter.export([record("c")])  # in the cool-down: no request
        assert len(handler.requests) == 1
        assert "HTTP 401" in caplog.text
        assert "invalid API key" in caplog.text
        assert "refused the API key" in caplog.text
        stats = exporter.stats()
        assert (stats["rejected"], stats["pending"]) == (0, 3)


class TestHttpExporterSpool:
    def test_unreachable_server_spools_then_resends_in_order(
        self, make: Callable[..., HttpExporter]
    ) -> None:
        """Past the retries the batch is spooled; later exports send the backlog first."""
        down = [httpx2.ConnectError("refused")] * 3
        handler = Recorder(*down)
        exporter = make(handler, max_retries=2)
        assert exporter.export([record("a"), record("b")]) is ExportResult.SUCCESS  # spooled
        assert exporter.stats()["pending"] == 2
        exporter._probe_after = 0.0  # the cool-down has passed
        assert exporter.export([record("c")]) is ExportResult.SUCCESS
        assert handler.ids()[3:] == ["a", "b", "c"]
        assert exporter.stats() == {
            "delivered": 3,
            "rejected": 0,
            "spooled": 2,  # "c" was delivered with them, never left waiting
            "resent": 2,
            "spool_dropped": 0,
            "dead_lettered": 0,
            "pending": 0,
        }
        assert not exporter.spool_path.exists()

    def test_full_spool_drops_the_oldest_counted_and_reported(
        self, make: Callable[..., HttpExporter], caplog: pytest.LogCaptureFixture
    ) -> None:
        """A long outage cannot fill the disk: past spool_max_bytes the oldest records go."""
        line = len(dump_json(record("r0"))) + 1
        handler = Recorder(*[httpx2.ConnectError("refused")] * 2)
        exporter = make(handler, max_retries=1, spool_max_bytes=3 * line)
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            # The first finds the server down; the rest wait in the spool; one that makes room
            # by dropping the oldest reports a failure.
            results = [exporter.export([record(f"r{i}")]) for i in range(5)]
        assert results[:3] == [ExportResult.SUCCESS] * 3
        assert ExportResult.FAILURE in results[3:]
        assert exporter.spool_path.stat().st_size <= 3 * line
        stats = exporter.stats()
        assert (stats["spooled"], stats["spool_dropped"], stats["pending"]) == (5, 2, 3)
        assert "reached its limit" in caplog.text
        assert KEY not in caplog.text
        assert promptrail.stats().errors["http:spool_full"] >= 1
        sent = len(handler.requests)
        assert exporter.force_flush(5.0) is True  # the server is back
        assert handler.ids()[sent:] == ["r2", "r3", "r4"]

    def test_resend_drops_unreadable_lines_and_rewrites_once(
        self,
        make: Callable[..., HttpExporter],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A re-send drops lines that are not records and rewrites the spool once per pass."""
        spool = Spool(tmp_path / "spool.jsonl")
        spool.append([record(f"s{i}") for i in range(120)])
        with spool.path.open("a") as f:
            f.write('{"log_id":"junk","path":1}\n')
        spool.append([record("last")])
        removed: list[int] = []
        remove = Spool.remove

        def counting(self: Spool, log_ids: Any, lines: Any = ()) -> None:
            removed.append(len(log_ids))
            remove(self, log_ids, lines)

        monkeypatch.setattr(Spool, "remove", counting)
        handler = Recorder()
        assert make(handler).force_flush(5.0) is True
        assert handler.ids() == [*(f"s{i}" for i in range(120)), "last"]
        assert removed == [121]
        assert not spool.path.exists()  # the unreadable line went with the last removal

    def test_cooldown_queues_without_network(self, make: Callable[..., HttpExporter]) -> None:
        """Right after the server was found down, new records go to the spool with no request."""
        handler = Recorder(*[httpx2.ConnectError("refused")] * 2)
        exporter = make(handler, max_retries=1)
        exporter.export([record("a")])
        sent = len(handler.requests)
        assert exporter.export([record("b")]) is ExportResult.SUCCESS  # kept in the spool
        assert len(handler.requests) == sent
        assert exporter.force_flush(5.0) is True  # flush ignores the cool-down
        assert handler.ids()[sent:] == ["a", "b"]

    def test_resend_after_a_failure_probes_once(self, make: Callable[..., HttpExporter]) -> None:
        """While the server stays down, each re-send costs one request, not a retry sequence."""
        handler = Recorder(*[httpx2.ConnectError("refused")] * 10)
        exporter = make(handler, max_retries=3)
        exporter.export([record("a")])
        first = len(handler.requests)
        assert exporter.force_flush(5.0) is False
        assert len(handler.requests) == first + 1

    def test_next_start_resends_the_spool_first(
        self, make: Callable[..., HttpExporter], tmp_path: Path
    ) -> None:
        """A new exporter on the same spool sends what an earlier run left, before its own."""
        Spool(tmp_path / "spool.jsonl").append([record("old1"), record("old2")])
        handler = Recorder()
        assert make(handler).export([record("new")]) is ExportResult.SUCCESS
        assert handler.ids() == ["old1", "old2", "new"]

    def test_rejected_spooled_record_is_dropped_from_the_spool(
        self, make: Callable[..., HttpExporter], tmp_path: Path
    ) -> None:
        """A spooled record the server rejects (422) is not re-sent forever."""
        Spool(tmp_path / "spool.jsonl").append([record("bad"), record("good")])
        handler = Recorder(422, 200)
        exporter = make(handler)
        assert exporter.force_flush(5.0) is True
        assert handler.ids() == ["bad", "good"]
        assert exporter.stats()["rejected"] == 1

    def test_refused_key_keeps_the_spool(
        self,
        make: Callable[..., HttpExporter],
        tmp_path: Path,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """With a refused key, spooled records stay for a run with the right key."""
        Spool(tmp_path / "spool.jsonl").append([record("a")])
        exporter = make(Recorder(401))
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            assert exporter.force_flush(5.0) is False
        assert exporter.stats()["pending"] == 1
        assert "refused the API key (HTTP 401)" in caplog.text
        assert "unavailable" not in caplog.text
        assert KEY not in caplog.text

    def test_key_refused_after_a_retry_keeps_the_batch_and_says_why(
        self, make: Callable[..., HttpExporter], caplog: pytest.LogCaptureFixture
    ) -> None:
        """A 503 spools the batch (write-ahead); a 401 on the retry keeps it for a good key."""
        exporter = make(Recorder(503, 401), max_retries=1)
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            assert exporter.export([record("a"), record("b")]) is ExportResult.SUCCESS
        assert exporter.stats()["pending"] == 2
        assert "refused the API key (HTTP 401)" in caplog.text
        assert KEY not in caplog.text

    def test_force_flush_respects_its_timeout(self, tmp_path: Path) -> None:
        """force_flush returns within its timeout even when every request hangs."""

        def slow(request: httpx2.Request) -> httpx2.Response:
            time.sleep(0.2)
            raise httpx2.ReadTimeout("slow", request=request)

        Spool(tmp_path / "spool.jsonl").append([record(f"r{i}") for i in range(50)])
        exporter = HttpExporter(
            base_url="http://test/v5",
            api_key=KEY,
            spool_path=tmp_path / "spool.jsonl",
            transport=httpx2.MockTransport(slow),
            backoff=0.1,
        )
        started = time.monotonic()
        assert exporter.force_flush(0.5) is False
        assert time.monotonic() - started < 1.5
        exporter.shutdown()

    def test_shutdown_cuts_a_retry_wait_short(self, tmp_path: Path) -> None:
        """An export waiting to retry returns soon after shutdown(), its records in the spool."""
        exporter = HttpExporter(
            base_url="http://test/v5",
            api_key=KEY,
            spool_path=tmp_path / "spool.jsonl",
            transport=httpx2.MockTransport(Recorder(*[500] * 10)),
            backoff=5.0,
            max_backoff=5.0,
        )
        results: list[ExportResult] = []
        thread = threading.Thread(target=lambda: results.append(exporter.export([record("a")])))
        thread.start()
        time.sleep(0.2)
        started = time.monotonic()
        exporter.shutdown()
        thread.join(5)
        assert time.monotonic() - started < 2
        assert results == [ExportResult.SUCCESS]  # handed over: kept in the spool
        assert [r.log_id for r in Spool(tmp_path / "spool.jsonl").read()] == ["a"]
        assert exporter.export([record("b")]) is ExportResult.FAILURE


class TestHttpExporterFork:
    @pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
    def test_forked_child_exports_even_if_the_lock_was_held(self, tmp_path: Path) -> None:
        """A child forked while the parent's export held the locks can still export and spool."""
        handler = Recorder()
        exporter = HttpExporter(
            base_url="http://test/v5",
            api_key=KEY,
            spool_path=tmp_path / "spool.jsonl",
            transport=httpx2.MockTransport(handler),
        )
        exporter.export([record("parent")])
        spool = Spool(tmp_path / "spool.jsonl")
        held, release = threading.Event(), threading.Event()

        def hold() -> None:
            with exporter._lock, spool._locked():
                held.set()
                release.wait(5)

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait(5)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code
            ok = exporter.export([record("child")]) is ExportResult.SUCCESS
            spool.append([record("spooled-in-child")])
            os._exit(0 if ok and exporter._sender._http is not None else 1)
        release.set()
        holder.join()
        deadline = time.monotonic() + 5
        while not (ended := os.waitpid(pid, os.WNOHANG))[0] and time.monotonic() < deadline:
            time.sleep(0.02)
        if not ended[0]:  # pragma: no cover - a deadlocked child
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child deadlocked")
        assert os.waitstatus_to_exitcode(ended[1]) == 0
        assert [r.log_id for r in spool.read()] == ["spooled-in-child"]
        exporter.shutdown()


class TestHttpExporterSecrets:
    def test_key_never_in_logs_errors_records_or_spool(
        self,
        make: Callable[..., HttpExporter],
        caplog: pytest.LogCaptureFixture,
        tmp_path: Path,
    ) -> None:
        """Even when the server and the network echo the key, no log line or file holds it."""
        handler = Recorder(
            httpx2.Response(400, json={"detail": f"bad key {KEY}"}),
            httpx2.ConnectError(f"cannot connect with {KEY}"),
            httpx2.ConnectError(f"cannot connect with {KEY}"),
            httpx2.UnsupportedProtocol(f"odd {KEY}"),
        )
        exporter = make(handler, max_retries=1)
        with caplog.at_level(logging.DEBUG):
            exporter.export([record("a"), record("b")])
            exporter.force_flush(1.0)
        assert caplog.records
        assert all(KEY not in r.getMessage() for r in caplog.records)
        assert KEY not in repr(exporter)
        assert KEY not in str(vars(exporter))
        spool = tmp_path / "spool.jsonl"
        assert not spool.exists() or KEY not in spool.read_text()

    def test_url_credentials_are_not_shown(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A user:password in base_url is left out of repr and of the outage warning."""
        exporter = HttpExporter(
            base_url="http://user:hunter2@test/v5",
            api_key=KEY,
            spool_path=tmp_path / "spool.jsonl",
            transport=httpx2.MockTransport(Recorder(httpx2.ConnectError("refused"))),
            max_retries=0,
        )
        assert repr(exporter) == "HttpExporter(base_url='http://test/v5')"
        with caplog.at_level(logging.WARNING, logger="promptrail"):
            exporter.export([record("a")])
        exporter.shutdown()
        assert "http://test/v5 is unavailable" in caplog.text
        assert "hunter2" not in caplog.text


class TestHttpExporterParsing:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            (None, None),
            ("", None),
            ("2.5", 2.5),
            ("-3", 0.0),
            ("99999", 300.0),
            ("nan", None),
            ("soon", None),
            ("Thu, 01 Jan 2026 00:00:10 GMT", 10.0),
            ("Thu, 01 Jan 2026 00:00:10", 10.0),
        ],
    )
    def test_retry_after_forms(self, header: str | None, expected: float | None) -> None:
        """Retry-After is delta seconds or an HTTP date, clamped to [0, 300]; junk is ignored."""
        from promptrail.exporters._delivery import parse_retry_after as _parse_retry_after

        assert _parse_retry_after(header, T0.timestamp()) == expected

    @pytest.mark.parametrize(
        ("response", "expected"),
        [
            (httpx2.Response(400, text="plain words"), "plain words"),
            (httpx2.Response(400, json={"detail": "bad thing"}), "bad thing"),
            (httpx2.Response(400, json={"message": "odd"}), "{'message': 'odd'}"),
            (httpx2.Response(400, json=["x", {"msg": "y"}]), "x; y"),
        ],
    )
    def test_server_message_forms(self, response: httpx2.Response, expected: str) -> None:
        """The logged message is the JSON detail (FastAPI style) or the body text."""
        from promptrail.exporters._delivery import server_message as _server_message

        assert _server_message(response) == expected
