"""A scrape storm while the app serves: 50 concurrent scrapes a second against ``/metrics``.

A second process fires 50 scrapes at once, each on a new connection, every second for 10 s
(30 s in ``nox -s soak``), and parses every answer with prometheus_client's own text parser.
Meanwhile this process serves requests through an instrumented WSGI app, at a steady pace.
Every scrape must be answered 200 with a valid exposition, the app's p99 must stay within a
generous bound of its p99 without the storm (the listener renders on its own threads, which
share the interpreter), and the listener's threads stay within its documented cap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

import otelkit
from tests.fixtures.servers import call_wsgi, free_port
from tests.reliability._workload import (
    environ,
    hello,
    p99,
)

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.integration

SECONDS = 30 if os.environ.get("RELIABILITY_SOAK") == "1" else 10
CONCURRENT = 50
MAX_HANDLER_THREADS = 64  # the listener's documented cap
PACE_S = 0.002  # between two requests of the app

STORM = """
import json, sys, threading, time, urllib.request
from prometheus_client.parser import text_string_to_metric_families

url, concurrent, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
results = []
lock = threading.Lock()
start = time.monotonic() + 0.2

def scraper():
    for second in range(seconds):
        time.sleep(max(0.0, start + second - time.monotonic()))
        began = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                status, body = response.status, response.read().decode()
            families = list(text_string_to_metric_families(body))
            outcome = (status, len(families), None)
        except Exception as exc:
            outcome = (None, 0, repr(exc))
        with lock:
            results.append((*outcome, time.monotonic() - began))

threads = [threading.Thread(target=scraper) for _ in range(concurrent)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(results), flush=True)
"""


def _serve_paced(app: Any, until: Callable[[], bool]) -> list[int]:
    took = []
    while not until():
        start = time.perf_counter_ns()
        call_wsgi(app, environ())
        took.append(time.perf_counter_ns() - start)
        time.sleep(PACE_S)
    return took


def test_a_scrape_storm_is_answered_and_costs_the_app_little(
    record_property: Callable[[str, object], None],
) -> None:
    port = free_port()
    telemetry = otelkit.init_telemetry(
        service_name="shop", metrics_exporters="prometheus", prometheus_port=port
    )
    app = otelkit.instrument_app(hello)
    try:
        calm_until = time.monotonic() + 3
        healthy = _serve_paced(app, lambda: time.monotonic() > calm_until)
        baseline_threads = threading.active_count()

        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
        storm = subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(STORM),
                f"http://127.0.0.1:{port}/metrics",
                str(CONCURRENT),
                str(SECONDS),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        peak_threads = baseline_threads

        def storm_over() -> bool:
            nonlocal peak_threads
            peak_threads = max(peak_threads, threading.active_count())
            return storm.poll() is not None

        stormy = _serve_paced(app, storm_over)
        out, err = storm.communicate(timeout=60)
    finally:
        telemetry.shutdown(timeout=5)

    assert storm.returncode == 0, err[-3000:]
    results = json.loads(out)
    failed = [r for r in results if r[0] != 200 or r[1] == 0]
    slowest = max(r[3] for r in results)
    figures = {
        "scrapes": len(results),
        "failed": len(failed),
        "slowest_scrape_s": round(slowest, 3),
        "p99_healthy_ms": round(p99(healthy), 3),
        "p99_storm_ms": round(p99(stormy), 3),
        "requests_during_storm": len(stormy),
        "thread_growth": peak_threads - baseline_threads,
    }
    record_property("figures", figures)
    print(f"\nscrape storm: {figures}")
    assert len(results) == CONCURRENT * SECONDS
    assert not failed, failed[:5]
    p99_healthy, p99_storm = figures["p99_healthy_ms"], figures["p99_storm_ms"]
    assert p99_storm <= max(5 * p99_healthy, p99_healthy + 20.0), figures
    assert figures["thread_growth"] <= MAX_HANDLER_THREADS + 2, figures
