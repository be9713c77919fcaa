"""The generated rule file evaluated in-process agrees with a real Prometheus on real traffic.

One FastAPI app, instrumented by otelkit, serves requests in this process: one in ten
``/checkout`` calls answers 500, every ``/slow`` call takes 120 ms. otelkit evaluates the file
``otelkit rules`` generates for the service (window 10 s and ``for: 0`` through the thresholds,
p95 threshold 50 ms) every 0.5 s, while the session's Prometheus scrapes the same process's
``/metrics`` every second. The error-ratio, p95-latency and no-traffic alerts must fire
in-process, and their values agree with what Prometheus computes from the same expressions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import time
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

import otelkit
from otelkit.ops.catalog import load_catalog
from otelkit.ops.rules import Thresholds, generate, render_yaml
from tests.fixtures.servers import free_port, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from otelkit.alerting._alert import Alert
    from tests.fixtures.prometheus import PrometheusServer

pytestmark = pytest.mark.integration

JOB = "promql-agreement"
SLOW = 0.12
COUNT = "http_server_request_duration_seconds_count"
BUCKET = "http_server_request_duration_seconds_bucket"
ERROR_RATIO = (
    f'sum by (job) (rate({COUNT}{{job="{JOB}", http_response_status_code=~"5.."}}[10s]))'
    f' / sum by (job) (rate({COUNT}{{job="{JOB}"}}[10s]))'
)
SLOW_P95 = (
    f"histogram_quantile(0.95, sum by (job, http_route, le) "
    f'(rate({BUCKET}{{job="{JOB}", http_route="/slow"}}[10s])))'
)
NO_TRAFFIC = f'sum by (job) (rate({COUNT}{{job="{JOB}"}}[10s])) == 0'


@pytest.fixture(autouse=True)
def _no_alert_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("OTELKIT_ALERT", "OTEL_EXPORTER_PROMETHEUS")):
            monkeypatch.delenv(name)


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    thresholds = dataclasses.replace(
        Thresholds(),
        window_s=10.0,
        error_rate_for_s=0.0,
        latency_for_s=0.0,
        latency_p95_s=0.05,
        no_traffic_for_s=0.0,
    )
    path = tmp_path / "prometheus-rules.yaml"
    path.write_text(
        render_yaml(generate(load_catalog(), service=JOB, slos=[], thresholds=thresholds))
    )
    return path


@pytest.fixture
def telemetry(rules_file: Path) -> Iterator[tuple[otelkit.Telemetry, int]]:
    port = free_port()
    handle = otelkit.init_telemetry(
        JOB,
        exporters="prometheus",
        prometheus_port=port,
        instrument="none",
        system_metrics=False,
        alerts=True,
        alert_rules_file=str(rules_file),
        alert_interval=0.5,
        alert_default_rules="none",
    )
    yield handle, port
    handle.shutdown()


def _app() -> FastAPI:
    app = FastAPI()
    calls = {"checkout": 0}

    @app.get("/checkout")
    async def checkout() -> JSONResponse:
        calls["checkout"] += 1
        if calls["checkout"] % 10 == 0:
            return JSONResponse({"error": "payment backend down"}, status_code=500)
        return JSONResponse({"ok": True})

    @app.get("/slow")
    async def slow() -> JSONResponse:
        await asyncio.sleep(SLOW)
        return JSONResponse({"ok": True})

    otelkit.instrument_app(app)
    return app


def _traffic(app: FastAPI, stop: threading.Event) -> None:
    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop.test") as client:
            while not stop.is_set():
                for _ in range(10):
                    await client.get("/checkout")
                await client.get("/slow")
                await asyncio.sleep(0.05)

    asyncio.run(run())


def _firing(collected: list[Alert], name: str) -> list[Alert]:
    return [a for a in collected if a.name == name and a.state == "firing"]


def _current(telemetry: otelkit.Telemetry, name: str, **labels: str) -> float:
    assert telemetry.alerts is not None
    for alert in telemetry.alerts.alerts():
        if alert.name == name and all(alert.labels.get(k) == v for k, v in labels.items()):
            assert alert.value is not None
            return alert.value
    raise AssertionError(f"no {name} alert {labels} in {telemetry.alerts.alerts()}")


def test_generated_rules_fire_in_process_and_agree_with_prometheus(
    telemetry: tuple[otelkit.Telemetry, int],
    prometheus: PrometheusServer,
    collected: list[Alert],
) -> None:
    handle, port = telemetry
    assert handle.alerts is not None
    evaluated = {rule.name for rule in handle.alerts.prometheus_rules}
    assert {"HighErrorRate", "HighLatency", "NoTraffic"} <= evaluated
    prometheus.scrape(JOB, target=f"127.0.0.1:{port}")
    prometheus.wait_for(f'up{{job="{JOB}"}}', 1)

    app, stop = _app(), threading.Event()
    worker = threading.Thread(target=_traffic, args=(app, stop), daemon=True)
    worker.start()
    try:
        wait_until(lambda: bool(_firing(collected, "HighErrorRate")), 30, "HighErrorRate fires")
        wait_until(lambda: bool(_firing(collected, "HighLatency")), 30, "HighLatency fires")
        time.sleep(11)  # both windows full of steady traffic
        ours = _current(handle, "HighErrorRate")
        (theirs,) = prometheus.query(ERROR_RATIO)
        assert ours == pytest.approx(theirs.value, abs=0.03)
        assert 0.05 < ours < 0.15  # one in ten /checkout calls, one /slow call in eleven
        ours_p95 = _current(handle, "HighLatency", http_route="/slow")
        (theirs_p95,) = prometheus.query(SLOW_P95)
        assert ours_p95 == pytest.approx(theirs_p95.value, rel=0.1)
        assert 0.1 < ours_p95 <= 0.25  # in the (0.1, 0.25] bucket, as the requests took 120 ms
    finally:
        stop.set()
        worker.join(10)

    assert not _firing(collected, "NoTraffic")
    wait_until(lambda: bool(_firing(collected, "NoTraffic")), 30, "NoTraffic fires")
    prometheus.wait_for(NO_TRAFFIC, 0)
    (latency,) = _firing(collected, "HighLatency")
    assert latency.labels["http_route"] == "/slow"
    assert latency.labels["job"] == JOB
    assert latency.to_dict()["annotations"]["runbook_url"].endswith("#highlatency")
