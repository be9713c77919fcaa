"""Steady load from a second process while the collector is down.

The instrumented app is served here (wsgiref on 127.0.0.1, spans and metrics over OTLP/HTTP);
a client process sends it requests at a fixed rate and times each one. The same load runs
against a healthy collector, then with the collector down (nothing listening on its port).
With the collector down:

* the client's p99 stays within noise of the healthy run's;
* RSS grows no more than ``RSS_GROWTH_MB`` and no thread is added;
* the ``otelkit`` and ``opentelemetry`` loggers stay quiet: the first failure of each exporter
  is one WARNING, later ones at most one summary a minute.

6 s per phase here (1,200 requests); ``nox -s soak`` runs 150 s per phase, long enough
for the once-a-minute summaries.
"""

from __future__ import annotations

import json
import logging
import math
import os
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from typing import TYPE_CHECKING

import psutil
import pytest

import otelkit
from tests.reliability._faults import refused
from tests.reliability._loopback import wsgi_server
from tests.reliability.test_faults import (
    RSS_GROWTH_MB,
    _hello,
    _no_otel_variables,  # noqa: F401 (an autouse fixture: OTEL_* of the shell unset)
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.fixtures.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

SECONDS = 150 if os.environ.get("RELIABILITY_SOAK") == "1" else 6
RATE = 200  # requests a second
EXPORTERS = 2  # traces/otlp and metrics/otlp: each may say its first failure once

CLIENT = """
import http.client, json, sys, time

port, rate, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
took, errors = [], 0
start = time.monotonic()
for n in range(int(rate * seconds)):
    time.sleep(max(0.0, start + n / rate - time.monotonic()))
    began = time.perf_counter_ns()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/orders")
        response = connection.getresponse()
        response.read()
        connection.close()
        ok = response.status == 200
    except OSError:
        ok = False
    took.append(time.perf_counter_ns() - began)
    errors += not ok
print(json.dumps({"took": took, "errors": errors}), flush=True)
"""


def _load(port: int) -> dict[str, float]:
    """The client's run against ``port``, with this process's RSS and threads around it."""
    rss, threads = psutil.Process().memory_info().rss, threading.active_count()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CLIENT), str(port), str(RATE), str(SECONDS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=SECONDS + 60,
        check=True,
    )
    result = json.loads(done.stdout)
    return {
        "requests": len(result["took"]),
        "errors": result["errors"],
        "p99_ms": statistics.quantiles(result["took"], n=100)[98] / 1e6,
        "rss_growth_mb": (psutil.Process().memory_info().rss - rss) / 2**20,
        "thread_growth": threading.active_count() - threads,
    }


def _configure(endpoint: str) -> otelkit.Telemetry:
    return otelkit.init_telemetry(
        service_name="shop",
        metrics_exporters="otlp",
        traces_exporters="otlp",
        otlp_protocol="http/protobuf",
        otlp_endpoint=endpoint,
        otlp_timeout=500,
        metric_export_interval_ms=1000,
    )


@pytest.mark.timeout(2 * SECONDS + 120)  # two phases, each SECONDS long
def test_steady_load_from_another_process_while_the_collector_is_down(
    otlp_http: OtlpReceiver,
    caplog: pytest.LogCaptureFixture,
    record_property: Callable[[str, object], None],
) -> None:
    server = wsgi_server(otelkit.instrument_app(_hello))
    port = next(server)
    try:
        telemetry = _configure(otlp_http.endpoint)
        healthy = _load(port)
        telemetry.shutdown(timeout=5)

        with refused("http/protobuf") as endpoint:
            telemetry = _configure(endpoint)
            started = time.monotonic()
            caplog.clear()
            caplog.set_level(logging.INFO)
            down = _load(port)
            minutes = (time.monotonic() - started) / 60
            told = [
                r
                for r in caplog.records
                if r.levelno >= logging.WARNING and r.name.startswith(("otelkit", "opentelemetry"))
            ]
            telemetry.shutdown(timeout=2)
    finally:
        next(server, None)

    down["log_lines_per_minute"] = len(told) / minutes
    figures = {"healthy": healthy, "collector_down": down, "log_lines": len(told)}
    record_property("figures", figures)
    print(f"\nsteady load, collector down: {figures}")
    assert healthy["errors"] == down["errors"] == 0, figures
    assert healthy["requests"] == down["requests"] == RATE * SECONDS
    assert down["p99_ms"] <= max(3 * healthy["p99_ms"], healthy["p99_ms"] + 10.0), figures
    assert down["rss_growth_mb"] < RSS_GROWTH_MB, figures
    assert down["thread_growth"] <= 2, figures
    assert len(told) >= 1, "the failure was not told at all"
    allowed = EXPORTERS * (1 + math.ceil(minutes))  # a first WARNING, then one a minute
    assert len(told) <= allowed, [r.getMessage() for r in told]
