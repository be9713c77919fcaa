"""Outgoing HTTP calls: per-call cost of the client instrumentations against a loopback server.

The server is a separate process (``http.server``, HTTP/1.1 keep-alive, a 2-byte body), so it
takes no GIL from the client; each client keeps its connection, so a call is one request and
response on an open socket. Clients: an ``httpx.Client`` and a ``requests.Session``. Variants:

- ``bare``: no instrumentation.
- ``contrib metrics+spans``: opentelemetry-instrumentation-httpx / -requests, instrumented with
  their own SDK providers (an in-memory metric reader, spans batched to a discarding exporter),
  on the stable conventions (``OTEL_SEMCONV_STABILITY_OPT_IN=http``).
- ``otelkit metrics``: ``init_telemetry()`` without traces (``traces: none``).
- ``otelkit metrics+spans``: ``init_telemetry()`` with spans to a discarding exporter.

The figure is the CPU time of the calling thread per call (``time.thread_time()``): the
instrumentation's cost is CPU work in that thread, while the wait for the server, and the time
the thread is not scheduled on a busy machine, are not; the wall time per call is beside it,
for scale. The instrumentations all wrap the libraries' classes, so only one can be on at a
time: each variant is switched on before its batch and off after it, outside the timed part;
the variants take turns within each round, as everywhere in bench/.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")

import otelkit
from bench._harness import Result
from bench._http import DiscardPlugin, Providers, plugin_installed

if TYPE_CHECKING:
    from collections.abc import Callable

BATCH = 100
"""Calls per measured batch."""
DURATION = "http.client.request.duration"

_SERVER = """
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # the response in one write: no delayed-ACK wait between headers and body
    disable_nagle_algorithm = True
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class Server:
    """The loopback server process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVER], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{port}/items?id=1"
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(self.url, timeout=1).read()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@dataclass
class Mode:
    """One variant: how to switch it on and off, and what it counted so far."""

    name: str
    on: Callable[[], None]
    off: Callable[[], None]
    counted: Callable[[], tuple[float, float]]
    """(calls in its duration histogram, spans exported) so far, while on."""


def _bare() -> Mode:
    return Mode("bare", lambda: None, lambda: None, lambda: (0.0, 0.0))


def _contrib(library: str) -> Mode:
    providers = Providers.create(spans=True)
    if library == "httpx":
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        instrumentor: Any = HTTPXClientInstrumentor()
    else:
        from opentelemetry.instrumentation.requests import RequestsInstrumentor

        instrumentor = RequestsInstrumentor()

    def on() -> None:
        instrumentor.instrument(
            tracer_provider=providers.tracer_provider, meter_provider=providers.meter_provider
        )

    def counted() -> tuple[float, float]:
        return _count(providers.reader.get_metrics_data()), providers.spans()

    return Mode("contrib metrics+spans", on, instrumentor.uninstrument, counted)


def _count(data: Any) -> float:
    total = 0.0
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == DURATION:
                    total += sum(p.count for p in metric.data.data_points)
    return total


def _otelkit(*, spans: bool) -> Mode:
    running: list[otelkit.Telemetry] = []

    def on() -> None:
        with plugin_installed():
            running.append(
                otelkit.init_telemetry(
                    service_name="bench",
                    prometheus_port=0,
                    exporters={
                        "metrics": "prometheus",
                        "traces": "bench-discard" if spans else "none",
                    },
                    instrument="httpx,requests",
                )
            )

    def off() -> None:
        running.pop().shutdown(timeout=5)

    def counted() -> tuple[float, float]:
        running[-1].force_flush()
        out: list[bytes] = []
        body = otelkit.metrics_wsgi()({}, lambda status, headers: out.append(b""))
        total = 0.0
        for line in b"".join(body).decode().splitlines():
            if line.startswith("http_client_request_duration_seconds_count"):
                total += float(line.rsplit(" ", 1)[1])
        exporter = DiscardPlugin.exporter
        return total, float(exporter.spans if spans and exporter is not None else 0)

    name = "otelkit metrics+spans" if spans else "otelkit metrics"
    return Mode(name, on, off, counted)


def _client(library: str, url: str) -> Callable[[int], None]:
    if library == "httpx":
        import httpx

        session: Any = httpx.Client()
    else:
        import requests

        session = requests.Session()

    def calls(n: int) -> None:
        for _ in range(n):
            response = session.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"bad response {response.status_code}")

    return calls


def _measure(library: str, url: str, rounds: int) -> Result:
    calls = _client(library, url)
    modes = [_bare(), _contrib(library), _otelkit(spans=False), _otelkit(spans=True)]
    samples: dict[str, list[float]] = {m.name: [] for m in modes}
    walls: dict[str, list[float]] = {m.name: [] for m in modes}
    for index in range(rounds + 1):  # the first round warms up
        for mode in modes:
            mode.on()
            try:
                started, wall = time.thread_time(), time.perf_counter()
                calls(BATCH)
                cpu = (time.thread_time() - started) / BATCH * 1e6
                wall = (time.perf_counter() - wall) / BATCH * 1e6
            finally:
                mode.off()
            if index:
                samples[mode.name].append(cpu)
                walls[mode.name].append(wall)
    result = Result(
        f"{library} calls to a loopback server, client CPU µs per call",
        "us",
        "bare",
        {name: statistics.median(values) for name, values in samples.items()},
        rounds,
        references=("otelkit metrics", "otelkit metrics+spans"),
    )
    result.columns = {"wall_us": {n: statistics.median(v) for n, v in walls.items()}}
    for mode in modes:
        line, ok = _check(mode, calls)
        result.notes.append(line)
        result.ok = result.ok and ok
    return result


def _check(mode: Mode, calls: Callable[[int], None], n: int = 50) -> tuple[str, bool]:
    """Each call counted once (spans: one per call) by the instrumented variants."""
    mode.on()
    try:
        before = mode.counted()
        calls(n)
        after = mode.counted()
    finally:
        mode.off()
    counted, spans = ((a - b) / n for a, b in zip(after, before, strict=True))
    wanted = (0.0, 0.0) if mode.name == "bare" else (1.0, 1.0 if "spans" in mode.name else 0.0)
    ok = (counted, spans) == wanted
    verdict = "ok" if ok else f"PROBLEM: expected {wanted}"
    return f"check {mode.name}: {counted:g} call(s), {spans:g} span(s) per call — {verdict}", ok


def _recording_alone(rounds: int) -> Result:
    """otelkit's part of a call without the call: ``begin()``, the trace headers, ``end()``,
    CPU µs of the calling thread (what the loopback figures hold above, without the noise of
    the network and of the span pipeline's export thread)."""
    from otelkit.instrumentation.http_client._record import begin

    def one_call() -> None:
        call = begin("GET", "http", "127.0.0.1", 8000, "/items?id=1")
        if call is not None:
            call.inject({})
            call.end(200, None)

    modes = [_bare(), _otelkit(spans=False), _otelkit(spans=True)]
    samples: dict[str, list[float]] = {m.name: [] for m in modes}
    for index in range(rounds + 1):
        for mode in modes:
            mode.on()
            try:
                started = time.thread_time()
                for _ in range(BATCH * 10):
                    one_call()
                elapsed = (time.thread_time() - started) / (BATCH * 10) * 1e6
            finally:
                mode.off()
            if index:
                samples[mode.name].append(elapsed)
    return Result(
        "otelkit's recording of one call alone, CPU µs",
        "us",
        "bare",
        {name: statistics.median(values) for name, values in samples.items()},
        rounds,
        references=("otelkit metrics", "otelkit metrics+spans"),
    )


def run(rounds: int) -> list[Result]:
    server = Server()
    try:
        results = [_measure(library, server.url, rounds) for library in ("httpx", "requests")]
    finally:
        server.stop()
    return [*results, _recording_alone(rounds)]
