"""Native histograms under a pre-fork server: one scrape, every worker's values, exactly.

A program configures otelkit with exponential histograms and a shared directory, records, and
forks workers that record too: nine end (four killed outright, so the scrape must merge their
files into an archive), one stays alive. The parent scrapes its own Prometheus endpoint in
protobuf, twice (before and after that merge), and in classic text. Whatever scale each worker
ended at, the native histogram must be exactly the one a single process holding every value
would expose.
"""

from __future__ import annotations

import base64
import math
from typing import TYPE_CHECKING

import pytest
from opentelemetry.sdk.metrics.export import Buckets as BucketsPoint
from opentelemetry.sdk.metrics.export import ExponentialHistogramDataPoint
from prometheus_client.parser import text_string_to_metric_families

from otelkit.exporters.prometheus._native import native
from otelkit.metrics._fastpath._exponential import Buckets
from tests.fixtures.prometheus_protobuf import families
from tests.fixtures.servers import free_port
from tests.integration.test_fork import run

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

WORKERS = 10
PROTOBUF = (
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
)

PROGRAM = """
import base64, json, os, random, sys, urllib.request
import otelkit
from otelkit.metrics._fastpath._exponential import Buckets

otelkit.init_telemetry(service_name="native-prefork", instrument="none")

def values(worker):
    rng = random.Random(worker)
    spread = 0.01 * 3 ** (worker % 6)  # each worker its own relative range: its own scale
    centre = rng.uniform(-5, 5)
    return [0.0] * (worker % 3) + [rng.lognormvariate(centre, spread) for _ in range(200)]

def record(worker):
    for value in values(worker):
        otelkit.record("payload.size", value, unit="By", route="/upload")

record(0)
alive = None
for worker in range(1, WORKERS + 1):
    up_read, up_write = os.pipe()  # the child says it has recorded
    down_read, down_write = os.pipe()  # the parent says it has scraped (or ended: EOF)
    child = os.fork()
    if child == 0:
        os.close(up_read); os.close(down_write)
        record(worker)
        if worker == WORKERS:  # stays alive until the parent has scraped
            os.write(up_write, b"x")
            os.read(down_read, 1)
        if worker % 2:
            os._exit(0)  # killed: no shutdown, its file stays as it was
        sys.exit(0)
    os.close(up_write); os.close(down_read)
    if worker == WORKERS:
        os.read(up_read, 1)
        alive = (child, down_write)
    else:
        os.waitpid(child, 0)
        os.close(down_write)

def scrape(accept):
    request = urllib.request.Request(
        f"http://127.0.0.1:{os.environ['OTEL_EXPORTER_PROMETHEUS_PORT']}/metrics",
        headers={"Accept": accept},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return base64.b64encode(answer.read()).decode()

scrapes = [scrape(sys.argv[1]), scrape(sys.argv[1]), scrape("text/plain;version=0.0.4")]
def scale(worker):
    buckets = Buckets()
    for value in values(worker):
        buckets.record(value)
    return buckets.scale

print(json.dumps({
    "values": [v for worker in range(WORKERS + 1) for v in values(worker)],
    "scales": [scale(worker) for worker in range(WORKERS + 1)],
    "protobuf": scrapes[:2],
    "text": scrapes[2],
    "files": sorted(os.listdir(os.environ["OTELKIT_PROMETHEUS_MULTIPROCESS_DIR"])),
}))
child, down_write = alive
os.write(down_write, b"x")
os.waitpid(child, 0)
"""


def expected_point(values: list[float]) -> ExponentialHistogramDataPoint:
    """What one process holding every value exposes."""
    buckets = Buckets()
    for value in values:
        buckets.record(value)
    return ExponentialHistogramDataPoint(
        attributes={},
        start_time_unix_nano=0,
        time_unix_nano=0,
        count=buckets.count,
        sum=buckets.sum,
        scale=buckets.reported_scale,
        zero_count=buckets.zero_count,
        positive=BucketsPoint(buckets.positive.offset, list(buckets.positive.counts)),
        negative=BucketsPoint(buckets.negative.offset, list(buckets.negative.counts)),
        flags=0,
        min=0,
        max=0,
    )


def test_one_scrape_sums_every_worker_native_histogram_exactly(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    env = {
        "OTELKIT_HISTOGRAM_AGGREGATION": "base2_exponential_bucket_histogram",
        "OTEL_EXPORTER_PROMETHEUS_PORT": str(free_port()),
        "OTELKIT_PROMETHEUS_MULTIPROCESS_DIR": str(directory),
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    program = f"WORKERS = {WORKERS}\n{PROGRAM}"
    (result,) = run(tmp_path, program, env, PROTOBUF)
    values = result["values"]
    want = native(expected_point(values))
    assert want is not None
    assert len(set(result["scales"])) > 2, result["scales"]  # the workers' scales differ

    assert any(name.startswith("archive-") for name in result["files"])  # ended workers merged
    for body in result["protobuf"]:  # before and after the merge into the archive
        (metric,) = families(base64.b64decode(body))["payload_size_bytes"].metric
        histogram = metric.histogram
        assert histogram.sample_count == len(values)
        assert math.isclose(histogram.sample_sum, math.fsum(values), rel_tol=1e-9)
        assert histogram.schema == want.schema
        assert histogram.zero_count == want.zero_count == sum(v == 0 for v in values)
        spans = [(span.offset, span.length) for span in histogram.positive_span]
        assert spans == list(want.positive_spans)
        assert list(histogram.positive_delta) == list(want.positive_deltas)

    # The text formats get classic buckets at the native bounds: the same counts.
    text = base64.b64decode(result["text"]).decode()
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "payload_size_bytes"]
    infinite = [
        s for s in family.samples if s.name.endswith("_bucket") and s.labels["le"] == "+Inf"
    ]
    assert [s.value for s in infinite] == [len(values)]
