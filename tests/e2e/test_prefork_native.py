"""Native histograms under a real pre-fork server: four workers, one exact native histogram.

gunicorn runs four sync workers with ``OTELKIT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_
histogram``; a Prometheus with native histograms on scrapes the shared ``/metrics`` port, which
any worker answers in protobuf. The requests spread over several workers must come back as one
native series per route whose ``histogram_count()`` is the number of requests sent, and every
direct scrape, whichever worker answers it, must carry that same count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests

from tests.e2e.test_prefork import DURATION, PAUSE, REQUESTS, ROUTE, PreforkServer, get_pids
from tests.fixtures.prometheus_protobuf import families

if TYPE_CHECKING:
    from pathlib import Path

    from tests.fixtures.prometheus import PrometheusServer

pytestmark = pytest.mark.integration

EXPONENTIAL = "base2_exponential_bucket_histogram"
ACCEPT = (
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
)
SCRAPES = 12


def protobuf_count(server: PreforkServer) -> int:
    """The native histogram's count of ROUTE in one direct scrape (any worker answers)."""
    answer = requests.get(server.metrics_url, headers={"Accept": ACCEPT}, timeout=10)
    answer.raise_for_status()
    counts = [
        metric.histogram.sample_count
        for metric in families(answer.content)[DURATION].metric
        if {pair.name: pair.value for pair in metric.label}.get("http_route") == ROUTE
    ]
    assert all(
        metric.histogram.positive_span for metric in families(answer.content)[DURATION].metric
    )
    return sum(counts)


def test_the_workers_native_histograms_are_one_exact_series(
    prometheus_native: PrometheusServer, tmp_path: Path
) -> None:
    server = PreforkServer(
        "gunicorn-sync", tmp_path, environment={"OTELKIT_HISTOGRAM_AGGREGATION": EXPONENTIAL}
    )
    try:
        prometheus_native.scrape(server.job, target=server.metrics_target)
        prometheus_native.wait_for(f'up{{job="{server.job}"}}', 1)
        pids = set(get_pids(server, REQUESTS))
        assert len(pids) >= 2, f"all {REQUESTS} requests went to {pids}: nothing to sum"

        assert {protobuf_count(server) for _ in range(SCRAPES)} == {REQUESTS}
        selector = f'{{job="{server.job}",http_route="{ROUTE}"}}'
        prometheus_native.wait_for(f"sum(histogram_count({DURATION}{selector}))", REQUESTS)
        (seconds,) = prometheus_native.query(f"sum(histogram_sum({DURATION}{selector}))")
        assert REQUESTS * PAUSE <= seconds.value <= REQUESTS * 1.0
        (median,) = prometheus_native.query(f"histogram_quantile(0.5, sum({DURATION}{selector}))")
        assert PAUSE * 0.97 <= median.value <= 1.0  # every request waits PAUSE: within a bucket
        assert not prometheus_native.query(f"{DURATION}_bucket{selector}")  # native only
        server.assert_no_errors()
    finally:
        server.stop()
