"""The trace viewer web page: its JSON routes, and the page itself in a real headless Chromium."""

from __future__ import annotations

import datetime
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from promptrail import LogRecord
from promptrail.exporters import SqliteExporter, SqliteStore

starlette = pytest.importorskip("starlette", reason="the web page needs starlette")
from starlette.testclient import TestClient  # noqa: E402

from promptrail.server._web import create_web_app  # noqa: E402

Factory = Callable[..., list[LogRecord]]
ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "promptrail" / "server" / "static"
DOCS = ROOT / "docs"
SHOWCASE = "0193a8c2-5e10-7d2a-9f3b-1c2d3e4f0000"


class TestWebRoutes:
    """The page, its assets and its read-only JSON routes (in-process)."""

    @pytest.fixture(name="client")
    def fixture_client(self, store: SqliteStore) -> Iterator[TestClient]:
        """A test client over the sample store."""
        with TestClient(create_web_app(store)) as client:
            yield client

    def test_page_and_assets_are_served_with_a_strict_policy(self, client: TestClient) -> None:
        """``/`` and its assets come with a CSP that forbids inline script and foreign origins."""
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        for name, media in [("app.js", "text/javascript"), ("app.css", "text/css")]:
            asset = client.get(f"/ui/static/{name}")
            assert asset.status_code == 200
            assert asset.headers["content-type"].startswith(media)
        assert client.get("/ui/static/favicon.svg").status_code == 200
        assert client.get("/ui/static/..%2f_web.py").status_code == 404
        assert client.get("/ui/static/nope.js").status_code == 404

    def test_read_only(self, client: TestClient) -> None:
        """Only GET (and HEAD) are answered."""
        assert client.post("/ui/api/traces", json={}).status_code == 405
        assert client.delete("/ui/api/traces/trace-new").status_code == 405

    def test_lists_trace_summaries(self, client: TestClient, store: SqliteStore) -> None:
        """The list route returns summaries, newest first, with the store cursor."""
        body = client.get("/ui/api/traces").json()
        assert body["cursor"] == store.cursor() == 8
        assert [t["trace_id"] for t in body["traces"]] == ["trace-new", "trace-err", "trace-old"]
        first = body["traces"][0]
        assert {k: first[k] for k in ("path", "kind", "logs", "errors", "complete")} == {
            "path": "support/answer",
            "kind": "flow",
            "logs": 3,
            "errors": 0,
            "complete": True,
        }
        assert client.get("/ui/api/traces").headers["cache-control"] == "no-store"

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ("path=billing", ["trace-err"]),
            ("errors=1", ["trace-err"]),
            ("since=1h", ["trace-new", "trace-err"]),
            ("limit=1", ["trace-new"]),
            ("limit=0", ["trace-new"]),
        ],
    )
    def test_list_filters(self, client: TestClient, query: str, expected: list[str]) -> None:
        """Path, errors, since and limit narrow the list."""
        traces = client.get(f"/ui/api/traces?{query}").json()["traces"]
        assert [t["trace_id"] for t in traces] == expected

    def test_bad_parameters_are_400(self, client: TestClient) -> None:
        """An unreadable since or limit is a 400 with a message."""
        response = client.get("/ui/api/traces?since=yesterday")
        assert response.status_code == 400
        assert "try 30m" in response.json()["error"]
        assert client.get("/ui/api/traces?limit=many").status_code == 400

    def test_one_trace_and_the_cursor(self, client: TestClient) -> None:
        """A trace's logs come as log bodies; an unknown trace is 404."""
        body = client.get("/ui/api/traces/trace-new").json()
        assert [log["log_id"] for log in body["logs"]] == [
            "trace-new",
            "trace-new-search",
            "trace-new-reply",
        ]
        assert body["logs"][2]["messages"][1]["content"].endswith('onerror="window.__pwned=2">')
        assert client.get("/ui/api/traces/nope").status_code == 404
        assert client.get("/ui/api/cursor").json() == {"cursor": 8}

    def test_page_inserts_log_content_only_as_text(self) -> None:
        """The page has no inline script and its code never parses strings as HTML."""
        html = (STATIC / "index.html").read_text()
        assert re.findall(r"<script[^>]*>", html) == ['<script src="ui/static/app.js" defer>']
        script = (STATIC / "app.js").read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in script
        assert "http://" not in html + script
        assert "https://" not in html + script


# -- the page in a real browser ----------------------------------------------------------------


def _browser() -> tuple[str, str] | None:
    """The Chromium binary and its chromedriver, or None."""
    binary = next(
        (
            shutil.which(n)
            for n in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(n)
        ),
        None,
    )
    driver = shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None


@pytest.fixture(name="server", scope="module")
def fixture_server(
    tmp_path_factory: pytest.TempPathFactory,
    support_trace: Factory,
    failing_trace: Factory,
    showcase_trace: Factory,
) -> Iterator[tuple[str, Path]]:
    """The web app over a sample store, served by uvicorn on a free 127.0.0.1 port."""
    pytest.importorskip("uvicorn", reason="serving the page needs uvicorn")
    from promptrail.server import ServerThread

    db = tmp_path_factory.mktemp("web") / "web.db"
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    exporter = SqliteExporter(db)
    exporter.export(support_trace("trace-old", base=now - datetime.timedelta(hours=3)))
    exporter.export(failing_trace("trace-err", base=now - datetime.timedelta(minutes=20)))
    exporter.export(support_trace("trace-new", base=now - datetime.timedelta(minutes=5)))
    exporter.export(showcase_trace(SHOWCASE, base=now - datetime.timedelta(minutes=1)))
    exporter.shutdown()
    with ServerThread(create_web_app(SqliteStore(db, create=False))) as server:
        yield server.url, db


@pytest.fixture(name="browser", scope="module")
def fixture_browser() -> Iterator[Any]:
    """Headless Chromium driven by selenium, with a fresh profile and no background traffic."""
    found = _browser()
    if found is None:
        pytest.skip(
            "no Chromium/chromedriver on PATH (apt-get install -y chromium chromium-driver)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = found
    profile = tempfile.mkdtemp(prefix="promptrail-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,900",
    ):
        options.add_argument(arg)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SE_OFFLINE", "true")  # never let selenium fetch drivers
        try:
            driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        except Exception as exc:  # pragma: no cover - a broken browser install
            shutil.rmtree(profile, ignore_errors=True)
            pytest.skip(f"Chromium did not start: {exc}")
    driver.set_page_load_timeout(10)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait(driver: Any, condition: Callable[[Any], Any], timeout: float = 15.0) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def _rows(driver: Any) -> list[str]:
    """The listed trace ids, read in one script call (the table is replaced as it refreshes)."""
    ids: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('tr.trace-row')].map(r => r.dataset.traceId)"
    )
    return ids


class TestWebPage:
    """The page in headless Chromium against a real server on 127.0.0.1."""

    def test_lists_recent_traces_and_filters(self, server: tuple[str, Path], browser: Any) -> None:
        """The list shows the recent traces; the errors filter narrows it without a reload."""
        url, _ = server
        browser.get(url + "/?poll=300#/")
        _wait(browser, lambda d: _rows(d) == [SHOWCASE, "trace-new", "trace-err", "trace-old"])
        error_row = browser.find_element("css selector", 'tr[data-trace-id="trace-err"]')
        assert "has-error" in error_row.get_attribute("class")
        assert "2 errors" in error_row.text
        assert "billing/refund" in error_row.text
        browser.find_element("id", "filter-errors").click()
        _wait(browser, lambda d: _rows(d) == ["trace-err"])
        assert "errors=1" in browser.current_url
        browser.find_element("id", "filter-errors").click()
        _wait(browser, lambda d: len(_rows(d)) == 4)

    def test_trace_page_tree_timeline_and_inert_html(
        self, server: tuple[str, Path], browser: Any
    ) -> None:
        """Opening a trace shows the tree as a waterfall; injected HTML stays text."""
        url, _ = server
        browser.get(url + "/?poll=300#/")
        link = _wait(
            browser,
            lambda d: d.find_element("css selector", 'tr[data-trace-id="trace-new"] a.trace-link'),
        )
        link.click()
        _wait(browser, lambda d: len(d.find_elements("css selector", ".wf-row[data-log-id]")) == 3)
        rows = browser.find_elements("css selector", ".wf-row[data-log-id]")
        assert [(r.get_attribute("data-log-id"), r.get_attribute("data-depth")) for r in rows] == [
            ("trace-new", "0"),
            ("trace-new-search", "1"),
            ("trace-new-reply", "1"),
        ]
        bars = browser.find_elements("css selector", ".wf-bar")
        lefts = [float(b.value_of_css_property("left").removesuffix("px")) for b in bars]
        widths = [b.size["width"] for b in bars]
        assert lefts[0] == 0 < lefts[1] < lefts[2]  # placed by start time
        assert widths[0] > widths[2] > widths[1]  # sized by duration
        rows[2].click()
        detail = _wait(
            browser, lambda d: d.find_element("css selector", "#detail .chat .role-user")
        )
        assert detail.text.endswith(
            '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
        )
        panel = browser.find_element("id", "detail").text
        for expected in ("gpt-4o-mini (openai)", "420 → 38", "$0.000086", "search_docs()", "stop"):
            assert expected in panel
        assert browser.execute_script("return window.__pwned") is None
        assert browser.find_elements("css selector", "#main img, #main script") == []
        assert "log=trace-new-reply" in browser.current_url

    def test_screenshot_of_a_deep_trace(
        self, server: tuple[str, Path], browser: Any, tmp_path: Path
    ) -> None:
        """A three-level trace is drawn in tree order; its screenshot is docs/trace-page.png.

        The screenshot is written to docs/ only with PROMPTRAIL_WRITE_DOCS=1 (it carries the
        time of the run, so writing it on every run would dirty the checkout).
        """
        url, _ = server
        browser.get(url + f"/?poll=300#/trace/{SHOWCASE}?log=0193a8c2-5e10-7d2a-9f3b-1c2d3e4f0a03")
        _wait(browser, lambda d: d.find_element("css selector", "#detail .chat .reply"))
        depths = browser.execute_script(
            "return [...document.querySelectorAll('.wf-row[data-log-id]')].map(r =>"
            " r.querySelector('.badge').textContent + ' ' +"
            " r.querySelector('.wf-path').textContent + ':' + r.dataset.depth)"
        )
        assert depths == [
            "flow support/handle-ticket:0",
            "prompt support/classify-intent:1",
            "tool support/fetch-order:1",
            "prompt support/draft-reply:1",
            "tool support/create-replacement:2",
        ]
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(browser).move_to_element(browser.find_element("css selector", "h1")).perform()
        browser.set_window_size(1400, 1040)
        target = DOCS if os.environ.get("PROMPTRAIL_WRITE_DOCS") == "1" else tmp_path
        target.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(target / "trace-page.png"))
        assert (target / "trace-page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        browser.set_window_size(1400, 900)

    def test_error_shown_in_the_detail_panel(self, server: tuple[str, Path], browser: Any) -> None:
        """A failed log's detail panel starts with its error."""
        url, _ = server
        browser.get(url + "/?poll=300#/trace/trace-err?log=trace-err-llm")
        box = _wait(browser, lambda d: d.find_element("css selector", "#detail .error-box"))
        assert "RateLimitError: slow down\nretry after 3s" in box.text
        row = browser.find_element("css selector", '.wf-row[data-log-id="trace-err-llm"]')
        assert "selected" in row.get_attribute("class")
        assert "has-error" in row.get_attribute("class")

    def test_new_traces_appear_without_reload(
        self, server: tuple[str, Path], browser: Any, support_trace: Factory
    ) -> None:
        """A trace stored while the list is open shows up by polling, marked new."""
        url, db = server
        browser.get(url + "/?poll=200#/")
        _wait(browser, lambda d: len(_rows(d)) >= 4)
        browser.execute_script("window.__sameDocument = true")
        # Started now: newer than every trace of the fixture (the conftest's NOW is import time,
        # which a long session leaves minutes behind).
        now = datetime.datetime.now(datetime.UTC)
        SqliteStore(db).write(support_trace("trace-live", base=now))
        _wait(browser, lambda d: _rows(d)[:1] == ["trace-live"])
        classes = browser.execute_script(
            "return document.querySelector('tr[data-trace-id=\"trace-live\"]').className"
        )
        assert "new" in classes.split()
        assert browser.execute_script("return window.__sameDocument") is True

    def test_unknown_trace_says_so(self, server: tuple[str, Path], browser: Any) -> None:
        """A link to a trace that is not stored shows a message, not a blank page."""
        url, _ = server
        browser.get(url + "/?poll=300#/trace/" + "%3Cb%3Enope%3C%2Fb%3E")
        box = _wait(browser, lambda d: d.find_element("css selector", ".problem"))
        assert "Could not load trace <b>nope</b>: no trace <b>nope</b>" in box.text
        assert browser.find_elements("css selector", "#main b") == []
