"""A real Prometheus with native histograms on scrapes otelkit's exponential histograms.

Prometheus 2.42 started with ``--enable-feature=native-histograms`` asks for the protobuf
exposition first; an app with ``histogram_aggregation="base2_exponential_bucket_histogram"``
answers with native buckets. ``histogram_count()`` then counts every observation, and
``histogram_quantile()`` lands within one bucket's relative error of the quantile of the raw
observations.
"""

from __future__ import annotations

import math
import os
import random
from typing import TYPE_CHECKING

import pytest
import requests

import otelkit
from otelkit.exporters.prometheus._native import MAX_SCHEMA
from otelkit.metrics._fastpath._exponential import Buckets
from otelkit.ops._native import native_expr
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from tests.fixtures.otlp_receiver import OtlpReceiver
    from tests.fixtures.prometheus import PrometheusServer

pytestmark = pytest.mark.integration

EXPONENTIAL = "base2_exponential_bucket_histogram"
PROTOBUF = "application/vnd.google.protobuf"
ACCEPT = f"{PROTOBUF};proto=io.prometheus.client.MetricFamily;encoding=delimited"


@pytest.fixture(autouse=True)
def _no_configuration_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")) and name != "OTELKIT_REQUIRE_SERVERS":
            monkeypatch.delenv(name)


def exact_quantile(values: list[float], q: float) -> float:
    """The observation of rank ``q * n`` (the one a cumulative bucket count first reaches)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def exposed_schema(values: list[float]) -> int:
    """The scale these values end at, as exposed (Prometheus takes schemas up to 8)."""
    buckets = Buckets()
    for value in values:
        buckets.record(value)
    return min(buckets.scale, MAX_SCHEMA)


def test_histogram_count_and_quantiles_from_native_buckets(
    prometheus_native: PrometheusServer,
) -> None:
    port = free_port()
    telemetry = otelkit.init_telemetry(
        service_name="native",
        prometheus_port=port,
        instrument="none",
        histogram_aggregation=EXPONENTIAL,
    )
    rng = random.Random(17)
    observations = [rng.lognormvariate(math.log(0.12), 0.8) for _ in range(1000)]
    for value in observations:
        otelkit.record("checkout.latency", value, unit="s")

    metrics = requests.get(
        f"http://127.0.0.1:{port}/metrics",
        headers={"Accept": ACCEPT},
        timeout=5,
    )
    assert metrics.headers["Content-Type"].startswith(PROTOBUF)

    prometheus_native.scrape("native-app", target=f"127.0.0.1:{port}")
    series = 'checkout_latency_seconds{job="native-app"}'
    prometheus_native.wait_for(f"histogram_count({series})", len(observations))
    (total,) = prometheus_native.query(f"histogram_sum({series})")
    assert total.value == pytest.approx(sum(observations))

    relative_error = 2 ** (2 ** -exposed_schema(observations)) - 1
    for q in (0.5, 0.95):
        (answer,) = prometheus_native.query(f"histogram_quantile({q}, {series})")
        exact = exact_quantile(observations, q)
        assert abs(answer.value - exact) <= exact * relative_error, (q, answer.value, exact)

    # The generated rules' classic query, rewritten for native series, gives the same answer.
    classic = (
        'histogram_quantile(0.95, sum by (le) (checkout_latency_seconds_bucket{job="native-app"}))'
    )
    rewritten = native_expr(classic, ["checkout_latency_seconds"])
    assert "_bucket" not in rewritten
    (by_rule,) = prometheus_native.query(rewritten)
    (direct,) = prometheus_native.query(f"histogram_quantile(0.95, {series})")
    assert by_rule.value == pytest.approx(direct.value)
    telemetry.shutdown()


@pytest.mark.parametrize("otlp_receiver", ["http/protobuf"], indirect=True)
def test_the_standard_otlp_variable_sends_exponential_histograms_over_otlp(
    otlp_receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`` reaches otelkit's own
    histograms too; the Prometheus scrape of the same process keeps its classic buckets."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", EXPONENTIAL)
    port = free_port()
    telemetry = otelkit.init_telemetry(
        service_name="native-otlp",
        instrument="none",
        prometheus_port=port,
        exporters={"metrics": "otlp,prometheus", "traces": "none"},
        otlp_endpoint=otlp_receiver.endpoint,
        otlp_protocol=otlp_receiver.protocol,
    )
    for value in (0.01, 0.2, 0.2, 3.0):
        otelkit.record("parcel.weight", value, unit="kg")
    assert telemetry.force_flush()

    (point,) = otlp_receiver.metrics("parcel.weight")
    assert (point["kind"], point["count"]) == ("exponential_histogram", 4)
    scrape = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'parcel_weight_kg_bucket{le="5.0"' in scrape  # the default explicit bounds
    telemetry.shutdown()
