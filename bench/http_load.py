"""HTTP instrumentation under real load: uvicorn serving FastAPI, loaded by ``wrk``, spans over
OTLP to a receiver in another process.

For each variant a uvicorn server (one worker, loopback, no access log) runs bench/apps/load.py
in its own process; after a warm-up, ``wrk -t1 -c16`` loads ``GET /items/42`` from another
process. All servers start first and the load runs in interleaved slices (bare, otelkit, …,
bare, otelkit, …). The tracing variants export over OTLP http/protobuf to one loopback receiver
(bench/apps/otlp_sink.py, its own process, counting spans by ``service.name``): otelkit with
every request sampled, otelkit with ``parentbased_traceidratio`` at 0.1, and the contrib
FastAPI instrumentation through the SDK's batch processor. With two or more CPUs the servers are
pinned to CPU 0, wrk and the receiver to CPU 1. Reported: requests per second, the ratio to
bare (otelkit's against its targets), and the server time per request (1 / throughput) with its
overhead above bare. Afterwards each server flushes and says what its telemetry counted, which
must match the requests wrk completed, and the receiver must have every sampled span: one per
request when all are sampled, 10 % within a binomial tolerance at 0.1, nothing dropped.

Needs the Debian ``wrk`` (``nox -s bench`` installs it); without it this benchmark is skipped
with a note, unless OTELKIT_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench._harness import Result
from bench._otlp import Sink, pin
from bench.apps.load import (
    OTELKIT_ALL,
    OTELKIT_RATIO,
    RATIO,
    SERVICES,
    SINK_ENV,
    VARIANT_ENV,
    VARIANTS,
)

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 16
SLICES = 2
"""The load per variant is split into this many interleaved slices."""
WARMUP_SECONDS = 1.0
PATH = "/items/42"
TARGETS = {OTELKIT_ALL: 0.90, OTELKIT_RATIO: 0.95}
"""Requests/s as a fraction of bare that otelkit's tracing variants should keep."""
SIGMAS = 4.0
"""The ratio sampler's span count may miss 10 % of the requests by this many standard
deviations of the binomial count (and one span) before the check fails."""


@dataclass
class Server:
    variant: str
    port: int
    process: subprocess.Popen[bytes]
    requests: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def recorded(self) -> dict[str, float]:
        with urllib.request.urlopen(f"{self.url}/bench/recorded", timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(variant: str, sink: Sink) -> Server:
    port = _free_port()
    command = [
        *pin(0),
        sys.executable,
        "-m",
        "uvicorn",
        "bench.apps.load:create",
        "--factory",
        "--host=127.0.0.1",
        f"--port={port}",
        "--no-access-log",
        "--log-level=warning",
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, VARIANT_ENV: variant, SINK_ENV: sink.endpoint},
        stderr=subprocess.PIPE,
    )
    server = Server(variant, port, process)
    deadline = time.monotonic() + 30
    while True:
        try:
            server.recorded()
            return server
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _, stderr = process.communicate()
                raise RuntimeError(
                    f"uvicorn for {variant!r} did not start:\n{stderr.decode(errors='replace')}"
                ) from None
            time.sleep(0.1)


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def wrk(server: Server, seconds: float) -> tuple[int, float, list[str]]:
    """Load the server; returns completed requests, elapsed seconds and any errors wrk saw."""
    command = [
        *pin(1),
        "wrk",
        "-t1",
        f"-c{CONNECTIONS}",
        f"-d{max(1, round(seconds))}s",
        f"{server.url}{PATH}",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    found = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)\b", output)
    if found is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    scale = {"ms": 1e-3, "s": 1.0, "m": 60.0}[found[3]]
    errors = [
        line.strip() for line in output.splitlines() if "Non-2xx" in line or "Socket errors" in line
    ]
    return int(found[1]), float(found[2]) * scale, errors


def check(
    server: Server, before: dict[str, float], after: dict[str, float], spans: int
) -> tuple[str, bool]:
    """The server's telemetry must have counted what wrk completed (plus requests in flight
    when wrk stopped, and the first /bench/recorded); the receiver must have had ``spans``
    (since ``before``) for every sampled one, and otelkit must have dropped nothing."""
    problems = list(server.errors)
    counted = after.get("requests", 0) - before.get("requests", 0)
    if server.variant != "bare" and not (
        server.requests <= counted <= server.requests + (SLICES + 1) * CONNECTIONS + 1
    ):
        problems.append(f"its metrics counted {counted:g} of {server.requests} requests")
    if after.get("flushed", 1) != 1:
        problems.append("its last flush did not deliver everything")
    for loss in ("dropped", "export_failures"):
        if after.get(loss, 0) - before.get(loss, 0):
            problems.append(f"otelkit counted {after[loss] - before[loss]:g} {loss}")
    tracing = server.variant in SERVICES
    if server.variant == OTELKIT_ALL and spans != counted:
        problems.append(f"the receiver got {spans} spans for {counted:g} sampled requests")
    elif server.variant == OTELKIT_RATIO:
        expected = RATIO * counted
        tolerance = SIGMAS * (counted * RATIO * (1 - RATIO)) ** 0.5 + 1
        if abs(spans - expected) > tolerance:
            problems.append(
                f"the receiver got {spans} spans, {expected:.0f} ± {tolerance:.0f} expected"
            )
    elif tracing and spans < counted:
        problems.append(f"the receiver got {spans} spans for {counted:g} requests")
    elif not tracing and spans:
        problems.append("spans not expected")
    verdict = "ok" if not problems else "PROBLEM: " + "; ".join(problems)
    share = f" ({spans / counted:.3f} per request)" if tracing and counted else ""
    line = (
        f"check {server.variant}: {server.requests} requests completed, {counted:g} counted, "
        f"{spans} spans received{share} — {verdict}"
    )
    return line, not problems


def run(rounds: int, duration: float = 10.0) -> list[Result]:
    """``rounds`` is not used: the load is split into ``SLICES`` interleaved slices."""
    if shutil.which("wrk") is None:
        message = "wrk is not installed (apt-get install wrk, or nox -s bench)"
        if os.environ.get("OTELKIT_REQUIRE_SERVERS") == "1":
            raise RuntimeError(f"http_load: {message}")
        print(f"note: http_load skipped: {message}")
        return []
    servers: list[Server] = []
    sink = Sink.start(pin(1))
    try:
        for variant in VARIANTS:
            servers.append(start(variant, sink))
        before = {}
        spans_before = {}
        for server in servers:
            wrk(server, WARMUP_SECONDS)
            before[server.variant] = server.recorded()
            spans_before[server.variant] = _received(sink, server.variant)
        for _ in range(SLICES):
            for server in servers:
                requests, seconds, errors = wrk(server, duration / SLICES)
                server.requests += requests
                server.seconds += seconds
                server.errors.extend(errors)
        rates = {s.variant: s.requests / s.seconds for s in servers}
        result = Result(
            f"uvicorn + FastAPI under wrk -t1 -c{CONNECTIONS}, requests/s "
            f"({SLICES} interleaved slices of {max(1, round(duration / SLICES))} s per variant)",
            unit="req/s",
            baseline="bare",
            medians=rates,
        )
        bare_us = 1e6 / rates["bare"]
        result.columns = {
            "us_per_request": {name: 1e6 / rate for name, rate in rates.items()},
            "overhead_us": {name: 1e6 / rate - bare_us for name, rate in rates.items()},
        }
        for variant, target in TARGETS.items():
            ratio = result.ratio(variant)
            result.notes.append(
                f"{variant} ÷ bare: {ratio:.2f}x (target ≥ {target:.2f}x: "
                f"{'met' if ratio >= target else 'missed'})"
            )
        for server in servers:
            after = server.recorded()
            spans = _received(sink, server.variant) - spans_before[server.variant]
            line, ok = check(server, before[server.variant], after, spans)
            result.notes.append(line)
            result.ok = result.ok and ok
    finally:
        for server in servers:
            stop(server)
        sink.stop()
    return [result]


def _received(sink: Sink, variant: str) -> int:
    service = SERVICES.get(variant)
    return sink.spans(service) if service is not None else 0
