"""``otelkit demo``: the shop on embedded defaults answers, measures exactly, and stops cleanly.

The demo runs as a user runs it (the installed command, a subprocess), with free ports; while
it runs, its pages are fetched like a person would open them.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request

import pytest

from tests.cli.conftest import OTELKIT, clean_environment, run_otelkit
from tests.fixtures.servers import free_port

pytestmark = pytest.mark.integration


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{url} never answered")


def _start(*args: str) -> tuple[subprocess.Popen[str], str, str]:
    port, metrics_port = free_port(), free_port()
    assert OTELKIT is not None
    process = subprocess.Popen(
        [
            OTELKIT,
            "demo",
            "--no-ui",
            "--port",
            str(port),
            "--metrics-port",
            str(metrics_port),
            *args,
        ],
        env=clean_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}"


def test_the_demo_serves_its_pages_and_measures_every_request_it_sent() -> None:
    process, app, metrics = _start("--duration", "12", "--rps", "40", "-o", "json")
    try:
        _wait_for(f"{app}/healthz")
        status, home = _get(f"{app}/")  # the one request of this test that is measured
        assert status == 200
        assert f"{metrics}/metrics" in home  # where to look next
        assert "otelkit scrape" in home  # and what to run
        assert _get(f"{app}/healthz")[0] == 200
        ready, report = _get(f"{app}/readyz")
        assert ready == 200, report
        time.sleep(3)
        _, exposition = _get(f"{metrics}/metrics")
        for family in (
            "http_server_request_duration_seconds_bucket",
            "db_client_operation_duration_seconds_bucket",
            "celery_task_duration_seconds_bucket",
            "shop_orders_total",
            "shop_basket_value_sum",
        ):
            assert family in exposition, family
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["stopped_by"] == "duration"
    assert summary["requests_answered"] > 100
    # Exact RED: every answer the traffic got is one measured request, plus this test's GET /
    # (the health probes are not measured).
    assert summary["requests_measured"] == summary["requests_answered"] + 1
    assert {"200", "404", "500"} <= set(summary["statuses"])
    assert sum(summary["orders"].values()) > 0
    assert summary["flushed"] is True
    assert summary["urls"]["Prometheus metrics"] == f"{metrics}/metrics"


def test_sigterm_stops_the_demo_with_its_summary() -> None:
    process, app, _ = _start("-o", "json")
    try:
        _wait_for(f"{app}/healthz")
        time.sleep(2)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    summary = json.loads(stdout)
    assert summary["stopped_by"] == "SIGTERM"
    assert summary["requests_measured"] == summary["requests_answered"] > 0


def test_the_live_view_shows_red_per_route_pools_tasks_and_business_figures() -> None:
    port, metrics_port = free_port(), free_port()
    result = run_otelkit(
        "demo",
        "--duration",
        "9",
        "--rps",
        "40",
        "--port",
        str(port),
        "--metrics-port",
        str(metrics_port),
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    for heading in (
        "HTTP server (RED per route)",
        "/items/{item_id}",
        "Connection pools",
        "Celery tasks",
        "shop.send_receipt",
        "Business: shop.orders",
        "otelkit measured",
    ):
        assert heading in result.stdout, heading
