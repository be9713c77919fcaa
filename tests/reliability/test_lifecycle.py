"""Repeated ``init_telemetry()`` / ``shutdown()`` leaves nothing behind: no thread, no fd.

A fresh interpreter (so that what this test process already runs does not count) configures
otelkit with every in-process component that owns a thread or a socket (the Prometheus
listener, the OTLP exporters and their batch processors, the periodic metric reader), shuts it
down, and does that 100 times over (300 in ``nox -s soak``). It reports its thread count and
open file descriptors after cycle 10 (everything lazily created exists by then) and after the
last: they must be equal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
CYCLES = 300 if os.environ.get("RELIABILITY_SOAK") == "1" else 100

CYCLER = """
import json, os, sys, threading, time
import otelkit
from tests.fixtures.otlp_receiver import HttpReceiver
from tests.fixtures.servers import free_port

receiver = HttpReceiver()
counted = {}
for cycle in range(1, int(sys.argv[1]) + 1):
    telemetry = otelkit.init_telemetry(
        service_name="cycles",
        metrics_exporters="otlp,prometheus",
        traces_exporters="otlp",
        otlp_protocol="http/protobuf",
        otlp_endpoint=receiver.endpoint,
        prometheus_port=free_port(),
    )
    with telemetry.tracer.start_as_current_span("cycle"):
        otelkit.record("cycles.done", 1)
    assert telemetry.shutdown(timeout=5), cycle
    if cycle in (10, int(sys.argv[1])):
        # The receiver lives in this process too: let its connection threads end first.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
            "process_request" in thread.name for thread in threading.enumerate()
        ):
            time.sleep(0.01)
        counted[cycle] = {
            "threads": sorted(thread.name for thread in threading.enumerate()),
            "fds": len(os.listdir("/proc/self/fd")),
        }
receiver.close()
print(json.dumps(counted), flush=True)
"""


def test_init_and_shutdown_cycles_leave_threads_and_fds_unchanged() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CYCLER), str(CYCLES)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    counted = {int(k): v for k, v in json.loads(done.stdout.splitlines()[-1]).items()}
    print(f"\ninit/shutdown cycles: {counted}")
    assert counted[CYCLES] == counted[10], counted
