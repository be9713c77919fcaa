"""The README's demo runs on embedded defaults and shows metrics a person can read."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.servers import free_port, wait_until

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo" / "app.py"


@pytest.mark.integration
def test_the_demo_serves_http_and_business_metrics() -> None:
    port, metrics_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    env["OTEL_EXPORTER_PROMETHEUS_PORT"] = str(metrics_port)
    demo = subprocess.Popen(
        [sys.executable, str(DEMO), "--port", str(port), "--duration", "30"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        exposition = ""

        def checkouts_recorded() -> bool:
            nonlocal exposition
            url = f"http://127.0.0.1:{metrics_port}/metrics"
            exposition = urllib.request.urlopen(url, timeout=2).read().decode()
            # the first checkouts may all fail (5 %): wait for a recorded basket too
            wanted = ('http_route="/checkout"', "shop_orders_total", "shop_basket_value_bucket")
            return all(part in exposition for part in wanted)

        wait_until(checkouts_recorded, timeout=20, what="the demo's traffic in /metrics")
        assert "http_server_request_duration_seconds_count{" in exposition
        assert "shop_checkout_duration_seconds_bucket" in exposition
        assert "shop_basket_value_bucket" in exposition
        in_app = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
        assert b"target_info" in in_app
    finally:
        demo.terminate()
        out, err = demo.communicate(timeout=10)
    assert "otelkit demo: service on" in out, err
