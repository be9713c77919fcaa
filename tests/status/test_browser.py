"""The status page in a real browser, against a real app under traffic.

The shop (tests/status/apps) runs under uvicorn; headless Chromium opens ``/status`` on
otelkit's metrics port while requests flow, waits for the page to refresh from
``/status.json``, and reads back what it shows: the route table and the charts must hold the
figures the document reported, with no JavaScript error on the way. The same document's
figures must agree with a real Prometheus scraping the same process.

Set ``OTELKIT_STATUS_SCREENSHOT`` to a path to keep the screenshot (docs/images/status.png is
made that way).
"""

from __future__ import annotations

import decimal
import os
import shutil
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.fixtures.servers import wait_until

if TYPE_CHECKING:
    from tests.fixtures.prometheus import PrometheusServer
    from tests.status.conftest import Shop

pytestmark = pytest.mark.integration

JOB = "status-shop"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- what the page prints, as its script formats it ------------------------------------------


def _to_fixed(value: float, digits: int) -> str:
    """JavaScript's ``Number.prototype.toFixed``: the exact binary value, ties rounded up
    (Python's formatting rounds them to even: 21.25 is "21.2" there, "21.3" in the page)."""
    exact = decimal.Decimal(value)
    return str(exact.quantize(decimal.Decimal(1).scaleb(-digits), rounding=decimal.ROUND_HALF_UP))


def fixed(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else _to_fixed(value, digits)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{_to_fixed(value * 100, 2)} %"


def ms(value: float | None) -> str:
    return "—" if value is None else f"{_to_fixed(value * 1000, 1)} ms"


def count(value: float | None) -> str:
    return "—" if value is None else f"{round(value):,}"


# -- traffic and the page's state ------------------------------------------------------------


class Traffic:
    """Requests to the shop on a thread until the block ends: items, some slow, some 503."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                n = self.sent
                path = "/boom" if n % 20 == 0 else "/slow" if n % 10 == 5 else f"/items/{n}"
                session.get(self.url + path, timeout=5)
                self.sent += 1
                time.sleep(0.01)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def refreshes(browser: Any) -> int:
    return int(browser.execute_script("return window.otelkitStatus.refreshes"))


def wait_for_refreshes(browser: Any, at_least: int, timeout: float = 30) -> None:
    wait_until(
        lambda: refreshes(browser) >= at_least,
        timeout=timeout,
        what=f"the page to have refreshed {at_least} times",
    )


def table(browser: Any, selector: str) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    rows = browser.find_elements(By.CSS_SELECTOR, f"{selector} tbody tr")
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def severe(browser: Any) -> list[dict[str, Any]]:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


@pytest.fixture(scope="module")
def shop_env() -> dict[str, str]:
    """In-process alerting on, with a rule that fires as soon as 2 % of requests fail."""
    return {
        "OTELKIT_ALERTS": "on",
        "OTELKIT_ALERT_INTERVAL": "1s",
        "OTELKIT_ALERT_DEFAULT_RULES": "error_rate",
        "OTELKIT_ALERT_ERROR_RATE_THRESHOLD": "0.02",
        "OTELKIT_ALERT_ERROR_RATE_FOR": "0",
    }


@pytest.fixture(scope="module")
def shown(shop: Shop, browser: Any) -> dict[str, Any]:
    """The page opened, two refreshes under traffic, one after it: the document it shows."""
    browser.get(f"{shop.metrics}/status")
    wait_for_refreshes(browser, 1)
    with Traffic(shop.url) as traffic:
        wait_for_refreshes(browser, 3)
    assert traffic.sent > 50
    time.sleep(1.1)  # past the document cache: the next refresh is built after the traffic
    wait_for_refreshes(browser, refreshes(browser) + 1)
    document: dict[str, Any] = browser.execute_script("return window.otelkitStatus.last")
    return document


def test_the_route_table_shows_the_documents_figures(
    shop: Shop, browser: Any, shown: dict[str, Any]
) -> None:
    assert shown["version"] == 1
    routes = {row["route"]: row for row in shown["routes"]}
    assert {"/items/{item_id}", "/slow", "/boom"} <= set(routes)
    assert routes["/items/{item_id}"]["rps"] > 0
    assert routes["/boom"]["error_ratio"] == 1.0
    assert routes["/items/{item_id}"]["errors"] == 0
    assert routes["/slow"]["p50"] >= 0.025  # it sleeps 30 ms
    assert table(browser, "#routes") == [
        [
            row["route"],
            fixed(row["rps"]),
            percent(row["error_ratio"]),
            ms(row["p50"]),
            ms(row["p95"]),
            ms(row["p99"]),
            count(row["requests"]),
        ]
        for row in shown["routes"]
    ]
    # No request since: /status.json still reports the totals the page shows.
    reported = requests.get(f"{shop.metrics}/status.json", timeout=10).json()
    assert {r["route"]: (r["requests"], r["errors"]) for r in reported["routes"]} == {
        r["route"]: (r["requests"], r["errors"]) for r in shown["routes"]
    }


def test_the_charts_draw_the_documents_series(browser: Any, shown: dict[str, Any]) -> None:
    series = shown["series"]
    assert len(series["t"]) >= 2  # an interval per refresh after the first
    rps, latency = browser.execute_script(
        "var c = window.otelkitStatus.charts; return [c.rps.data, c.latency.data];"
    )
    assert rps == [series["t"], series["rps"]]
    in_ms = [
        [None if v is None else v * 1000 for v in series[key]] for key in ("p50", "p95", "p99")
    ]
    assert latency == [series["t"], *in_ms]
    caption = browser.find_element("id", "caption-rps").text
    assert f"latest {fixed(series['rps'][-1])} requests/s" in caption
    assert browser.find_elements("css selector", "#chart-rps canvas")  # uPlot drew it


def test_health_alerts_and_objectives_are_shown_in_words(
    browser: Any, shown: dict[str, Any]
) -> None:
    ((check, result, critical, took),) = table(browser, "#health")
    assert (check, result, critical) == ("inventory", "✓ pass", "yes")  # words, not colour only
    assert took.endswith(" ms")
    # One /boom in 20 requests is above the 2 % the module's rule allows: it fires at once,
    # and as a critical alert it makes the whole service unhealthy (still ready).
    firing = [a for a in shown["alerts"]["active"] if a["status"] == "firing"]
    assert [a["alertname"] for a in firing] == ["HighErrorRate"]
    alerts = browser.find_element("id", "alerts").text
    assert "✗ firing HighErrorRate (critical)" in alerts
    assert shown["health"]["status"] == "unhealthy"
    assert browser.find_element("id", "overall").text == "✗ unhealthy, ready"
    objective = shown["slos"][0]
    assert objective["name"] == "items-availability"
    assert objective["bad_ratio"] == 0.0
    assert table(browser, "#slos")[0][:4] == [
        "items-availability (/items/{item_id})",
        f"{objective['objective']:g} %",
        percent(objective["bad_ratio"]),
        percent(objective["budget_remaining"]),
    ]


def test_no_javascript_error_and_a_screenshot(
    browser: Any, shown: dict[str, Any], tmp_path: Any
) -> None:
    assert severe(browser) == []
    path = tmp_path / "status.png"
    assert browser.save_screenshot(str(path))
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 20_000  # a drawn page, not a blank one
    keep = os.environ.get("OTELKIT_STATUS_SCREENSHOT")
    if keep:
        shutil.copyfile(path, keep)


def test_keyboard_focus_is_visible(browser: Any, shown: dict[str, Any]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.execute_script("document.activeElement && document.activeElement.blur()")
    focused = []
    for _ in range(2):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        focused.append(
            browser.execute_script(
                "var e = document.activeElement, s = getComputedStyle(e);"
                "return [e.id || e.className, s.outlineStyle, parseFloat(s.outlineWidth)];"
            )
        )
    assert [name for name, _, _ in focused] == ["skip", "pause"]
    for _, style, width in focused:
        assert style == "solid"
        assert width >= 2
    ActionChains(browser).send_keys(Keys.ENTER).perform()  # the pause button, by keyboard
    assert browser.find_element("id", "pause").get_attribute("aria-pressed") == "true"
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    assert browser.find_element("id", "pause").get_attribute("aria-pressed") == "false"


def test_the_dark_theme_follows_the_system(browser: Any, shown: dict[str, Any]) -> None:
    def background() -> str:
        return str(browser.execute_script("return getComputedStyle(document.body).backgroundColor"))

    light = background()
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    try:
        assert background() != light
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    assert background() == light


def test_status_json_agrees_with_prometheus(shop: Shop, prometheus: PrometheusServer) -> None:
    """Requests of a route nothing else calls, after a first look: the window holds them all,
    so its quantiles are PromQL's over the same cumulative buckets."""
    requests.get(f"{shop.metrics}/status.json", timeout=10)  # the window's first reading
    prometheus.scrape(JOB, target=shop.metrics_target)
    try:
        with requests.Session() as session:
            for n in range(120):
                code = session.get(f"{shop.url}/agree/{n}", timeout=5).status_code
                assert code == 200
        selector = f'{{job="{JOB}",http_route="/agree/{{n}}"}}'
        prometheus.wait_for(f"sum(http_server_request_duration_seconds_count{selector})", 120)
        time.sleep(1.1)  # past the document cache
        row = next(
            r
            for r in requests.get(f"{shop.metrics}/status.json", timeout=10).json()["routes"]
            if r["route"] == "/agree/{n}"
        )
        assert row["requests"] == 120
        assert row["errors"] == 0
        for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            promql = (
                f"histogram_quantile({q}, sum by (le) "
                f"(http_server_request_duration_seconds_bucket{selector}))"
            )
            (sample,) = prometheus.query(promql)
            assert row[key] == pytest.approx(sample.value, abs=1e-9), key  # ns: the rounding
    finally:
        prometheus.remove(JOB)
