"""Pre-fork servers: the cost of one scrape over 4 worker processes x 1,000 histogram series,
and of one measurement in a shared (memory-mapped) series against an in-process one.

Scrape variants, same data (1,000 HTTP-style histogram series per process, semconv buckets):

- ``otelkit, 1 process``: a single process holding 1,000 series (the single-process mode);
- ``otelkit, 4 workers``: four forked worker processes, alive, each holding 1,000 series in the
  shared directory; the scrape reads and adds up the four files (plus the parent's);
- ``prometheus_client, 4 workers``: prometheus_client's multiprocess mode with the same data,
  ``generate_latest`` over a ``MultiProcessCollector`` (run in a helper process: that mode is
  chosen at import).

Record variants: ``FastHistogram.record`` with its cells in a list (one process) and in the
process's memory-mapped file (pre-fork), µs per call.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from bench._harness import Result, Variant, measure
from otelkit.config._settings import SEMCONV_DURATION_BUCKETS
from otelkit.metrics._fastpath import FastHistogram

WORKERS = 4
SERIES = 1_000
RECORDS = 3
CALLS = 20_000


def _routes() -> list[tuple[str, float]]:
    rng = random.Random(11)
    return [(f"/route/{i}", rng.random()) for i in range(SERIES) for _ in range(RECORDS)]


def _otelkit_workers(directory: Path) -> tuple[Variant, Variant, list[int]]:
    import otelkit
    from otelkit.exporters.prometheus import _endpoint

    telemetry = otelkit.init_telemetry(
        service_name="bench-prefork",
        exporters="prometheus",
        instrument=[],
        prometheus_port=0,
        prometheus_multiprocess_dir=str(directory),
    )
    del telemetry
    histogram = _histogram()
    children = []
    for _ in range(WORKERS):
        ready_r, ready_w = os.pipe()
        child = os.fork()
        if child == 0:
            for route, value in _routes():
                histogram.record(route, {"http.route": route}, value)
            os.write(ready_w, b"x")
            signal.pause()  # alive, as a worker between requests, until the bench ends
            os._exit(0)
        os.read(ready_r, 1)
        os.close(ready_r)
        os.close(ready_w)
        children.append(child)
    exposition = _endpoint._current
    assert exposition is not None
    body = exposition.scrape()
    expected = WORKERS * SERIES * RECORDS
    assert f"{expected}\n".encode() in body or body.count(b"_count") >= SERIES, "wrong scrape"
    return Variant(f"otelkit, {WORKERS} workers", exposition.scrape), _single(), children


def _histogram() -> FastHistogram:
    from otelkit.metrics._fastpath import REGISTRY

    return REGISTRY.histogram(
        "bench.request.duration",
        unit="s",
        description="",
        scope=InstrumentationScope("bench"),
        boundaries=SEMCONV_DURATION_BUCKETS,
    )


def _single() -> Variant:
    """1,000 series in one process, rendered by the single-process path."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.resources import Resource

    from otelkit.exporters.prometheus import PrometheusReader
    from otelkit.metrics._fastpath import Registry

    registry = Registry()
    reader = PrometheusReader(Resource({"service.name": "bench"}), None)
    MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    registry.attach([reader], Resource({"service.name": "bench"}))
    histogram = registry.histogram(
        "bench.request.duration",
        unit="s",
        description="",
        scope=InstrumentationScope("bench"),
        boundaries=SEMCONV_DURATION_BUCKETS,
    )
    for route, value in _routes():
        histogram.record(route, {"http.route": route}, value)
    return Variant("otelkit, 1 process", reader.scrape)


PROMETHEUS_CLIENT = """
import os, random, signal, sys, time
from prometheus_client import CollectorRegistry, Histogram, generate_latest, multiprocess

buckets = [float(b) for b in sys.argv[1].split(",")]
histogram = Histogram("bench_request_duration_seconds", "", ["http_route"], buckets=buckets)
rng = random.Random(11)
values = [(f"/route/{i}", rng.random()) for i in range(%(series)d) for _ in range(%(records)d)]
children = []
for _ in range(%(workers)d):
    ready_r, ready_w = os.pipe()
    child = os.fork()
    if child == 0:
        for route, value in values:
            histogram.labels(route).observe(value)
        os.write(ready_w, b"x")
        signal.pause()
        os._exit(0)
    os.read(ready_r, 1)
    children.append(child)
registry = CollectorRegistry()
multiprocess.MultiProcessCollector(registry)
print("ready", flush=True)
try:
    for line in sys.stdin:
        generate_latest(registry)
        print("done", flush=True)
finally:
    for child in children:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
"""


def _prometheus_client_workers(directory: Path) -> tuple[Variant, subprocess.Popen[str]]:
    script = PROMETHEUS_CLIENT % {"series": SERIES, "records": RECORDS, "workers": WORKERS}
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(script),
            ",".join(map(str, SEMCONV_DURATION_BUCKETS)),
        ],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdin is not None
    assert process.stdout.readline().strip() == "ready"
    stdin, stdout = process.stdin, process.stdout

    def scrape() -> None:
        stdin.write("scrape\n")
        stdin.flush()
        stdout.readline()

    return Variant(f"prometheus_client, {WORKERS} workers", scrape), process


def _record_variants(directory: Path) -> list[Variant]:
    from otelkit.exporters.prometheus._multiprocess import ProcessFile

    scope = InstrumentationScope("bench")
    in_memory = FastHistogram("bench.a", "s", "", scope, SEMCONV_DURATION_BUCKETS)
    shared = FastHistogram("bench.b", "s", "", scope, SEMCONV_DURATION_BUCKETS)
    shared.store = ProcessFile(directory)
    attributes = {"http.route": "/items/{id}", "http.request.method": "GET"}
    key = ("/items/{id}", "GET")

    def loop(histogram: FastHistogram) -> Variant:
        def run() -> None:
            record = histogram.record
            for i in range(CALLS):
                record(key, attributes, (i % 100) / 100)

        return Variant(
            f"record, {'shared file' if histogram is shared else 'one process'}",
            run,
            per_call=CALLS,
        )

    return [loop(in_memory), loop(shared)]


def run(rounds: int) -> list[Result]:
    with tempfile.TemporaryDirectory() as ours, tempfile.TemporaryDirectory() as theirs:
        workers, single, children = _otelkit_workers(Path(ours))
        peer, process = _prometheus_client_workers(Path(theirs))
        try:
            scrape = measure(
                f"scrape of {WORKERS} workers x {SERIES:,} histogram series",
                [peer, single, workers],
                rounds=rounds,
                baseline=f"prometheus_client, {WORKERS} workers",
                unit="ms",
            )
        finally:
            for child in children:
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
            assert process.stdin is not None
            process.stdin.close()
            process.wait()
        record = measure(
            "one histogram measurement, in-process vs shared file",
            _record_variants(Path(ours)),
            rounds=rounds,
            baseline="record, one process",
            unit="us",
        )
    return [scrape, record]
