"""HTTP instrumentation under real load: uvicorn serving FastAPI, loaded by ``wrk``.

For each variant a uvicorn server (one worker, loopback, no access log) runs bench/apps/load.py
in its own process; after a warm-up, ``wrk -t1 -c16`` loads ``GET /items/42`` from another
process. All servers start first and the load runs in interleaved slices (bare, otelkit, …,
bare, otelkit, …). With two or more CPUs the server is pinned to CPU 0 and wrk to CPU 1.
Reported: requests per second, the ratio to bare, and the server time per request
(1 / throughput) with its overhead above bare. Afterwards each server says what its telemetry
counted, which must match the requests wrk completed.

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
from bench.apps.load import VARIANT_ENV, VARIANTS

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 16
SLICES = 2
"""The load per variant is split into this many interleaved slices."""
WARMUP_SECONDS = 1.0
PATH = "/items/42"


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


def _pin(cpu: int) -> list[str]:
    """A ``taskset`` prefix that keeps server and load generator on separate CPUs."""
    if (os.cpu_count() or 1) < 2 or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", str(cpu)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(variant: str) -> Server:
    port = _free_port()
    command = [
        *_pin(0),
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
        command, cwd=ROOT, env={**os.environ, VARIANT_ENV: variant}, stderr=subprocess.PIPE
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
        *_pin(1),
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


def check(server: Server, before: dict[str, float], after: dict[str, float]) -> tuple[str, bool]:
    """The server's telemetry must have counted what wrk completed (plus requests in flight
    when wrk stopped, and the first /bench/recorded)."""
    problems = list(server.errors)
    counted = after.get("requests", 0) - before.get("requests", 0)
    spans = after.get("spans", 0) - before.get("spans", 0)
    if server.variant != "bare" and not (
        server.requests <= counted <= server.requests + (SLICES + 1) * CONNECTIONS + 1
    ):
        problems.append(f"its metrics counted {counted:g} of {server.requests} requests")
    if ("spans" in server.variant) != (spans > 0):
        problems.append("spans expected" if "spans" in server.variant else "spans not expected")
    verdict = "ok" if not problems else "PROBLEM: " + "; ".join(problems)
    line = (
        f"check {server.variant}: {server.requests} requests completed, {counted:g} counted, "
        f"{spans:g} spans — {verdict}"
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
    try:
        for variant in VARIANTS:
            servers.append(start(variant))
        before = {}
        for server in servers:
            wrk(server, WARMUP_SECONDS)
            before[server.variant] = server.recorded()
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
        for server in servers:
            line, ok = check(server, before[server.variant], server.recorded())
            result.notes.append(line)
            result.ok = result.ok and ok
    finally:
        for server in servers:
            stop(server)
    return [result]
