"""Exponential histograms in the Prometheus expositions: native in protobuf, classic in text.

The protobuf output is decoded with Google's protobuf runtime, from a descriptor of the
``io.prometheus.client`` messages (``tests/fixtures/prometheus_protobuf.py``): an independent
decoder, not the encoder read backwards. Summing them across pre-fork workers:
``tests/integration/test_native_prefork.py``.
"""

from __future__ import annotations

import functools
import math
import operator
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    InMemoryMetricReader,
    Metric,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.metrics.export import Buckets as BucketsPoint
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from prometheus_client.parser import text_string_to_metric_families

from otelkit.exporters.prometheus._exposition import render
from otelkit.exporters.prometheus._negotiation import CLASSIC, PROTOBUF, negotiate
from otelkit.metrics._fastpath import Registry
from otelkit.metrics._fastpath._exponential import Buckets
from tests.fixtures.prometheus_protobuf import families

RESOURCE = Resource({"service.name": "native"})
tracer = TracerProvider().get_tracer("shop")
PROMETHEUS_2_ACCEPT = (
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;"
    "q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)


def exponential_data(
    values: list[float],
    name: str = "op.size",
    unit: str = "By",
    attributes: dict[str, str] | None = None,
) -> MetricsData:
    """Metric data holding one exponential point of ``values``, as the fast path builds it."""
    buckets = Buckets()
    for value in values:
        buckets.record(value)
    point = ExponentialHistogramDataPoint(
        attributes=attributes or {"route": "/a"},
        start_time_unix_nano=1,
        time_unix_nano=2,
        count=buckets.count,
        sum=buckets.sum,
        scale=buckets.reported_scale,
        zero_count=buckets.zero_count,
        positive=BucketsPoint(buckets.positive.offset, list(buckets.positive.counts)),
        negative=BucketsPoint(buckets.negative.offset, list(buckets.negative.counts)),
        flags=0,
        min=min(values),
        max=max(values),
    )
    data = ExponentialHistogram([point], AggregationTemporality.CUMULATIVE)
    metric = Metric(name=name, description="sizes", unit=unit, data=data)
    scope = ScopeMetrics(InstrumentationScope("shop", "1.0"), [metric], "")
    return MetricsData([ResourceMetrics(RESOURCE, [scope], "")])


def test_prometheus_with_native_histograms_gets_protobuf_and_others_do_not() -> None:
    assert negotiate(PROMETHEUS_2_ACCEPT) == PROTOBUF
    assert PROTOBUF.content_type.startswith("application/vnd.google.protobuf; proto=")
    assert negotiate("application/vnd.google.protobuf;q=0.9,text/plain;q=0.5") == CLASSIC
    assert negotiate("application/vnd.google.protobuf;proto=other;encoding=delimited") == CLASSIC
    assert negotiate("*/*") == CLASSIC


def _native_counts(spans: Any, deltas: Any) -> dict[int, int]:
    """Prometheus bucket index -> count, from spans and deltas."""
    counts: dict[int, int] = {}
    index, count, position = 0, 0, 0
    for number, span in enumerate(spans):
        index += span.offset if number == 0 else span.offset + 1
        for step in range(span.length):
            count += deltas[position]
            position += 1
            counts[index + step] = count
        index += span.length - 1
    return counts


values = st.lists(
    st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.just(0.0)),
    min_size=1,
    max_size=200,
)


@settings(max_examples=100, deadline=None)
@given(values)
def test_every_value_is_counted_in_the_native_bucket_that_holds_it(recorded: list[float]) -> None:
    (metric,) = families(render(exponential_data(recorded), RESOURCE, PROTOBUF))[
        "op_size_bytes"
    ].metric
    histogram = metric.histogram
    assert histogram.sample_count == len(recorded)
    # Added one by one in the order recorded (sum() compensates its rounding since Python 3.12).
    assert histogram.sample_sum == functools.reduce(operator.add, recorded, 0.0)
    assert histogram.schema <= 8
    assert histogram.zero_count == recorded.count(0.0)
    expected: dict[tuple[int, int], int] = {}
    recorded_in = Buckets()  # where the values were put (checked against the SDK elsewhere)
    for value in recorded:
        recorded_in.record(value)
    shift = (
        recorded_in.scale - histogram.schema if recorded_in.count > recorded_in.zero_count else 0
    )
    for sign, side in ((1, recorded_in.positive), (-1, recorded_in.negative)):
        for position, count in enumerate(side.counts):
            # OpenTelemetry bucket i holds (base**i, base**(i+1)]; Prometheus bucket i+1 does
            key = (sign, ((side.offset + position) >> shift) + 1)
            expected[key] = expected.get(key, 0) + count
    expected = {key: count for key, count in expected.items() if count}
    got = {
        (1, i): c
        for i, c in _native_counts(histogram.positive_span, histogram.positive_delta).items()
    }
    got |= {
        (-1, i): c
        for i, c in _native_counts(histogram.negative_span, histogram.negative_delta).items()
    }
    assert got == expected
    labels = {pair.name: pair.value for pair in metric.label}
    assert labels == {"route": "/a", "otel_scope_name": "shop", "otel_scope_version": "1.0"}


def test_an_empty_native_histogram_carries_the_no_op_span() -> None:
    (metric,) = families(render(exponential_data([0.0]), RESOURCE, PROTOBUF))[
        "op_size_bytes"
    ].metric
    spans = [(s.offset, s.length) for s in metric.histogram.positive_span]
    assert spans == [(0, 0)]
    assert metric.histogram.zero_count == 1


def test_text_formats_get_classic_buckets_at_the_native_bounds() -> None:
    rng = random.Random(3)
    recorded = [rng.uniform(-5, 50) for _ in range(300)] + [0.0, 0.0]
    text = render(exponential_data(recorded), RESOURCE, CLASSIC).decode()
    (family,) = [f for f in text_string_to_metric_families(text) if f.name == "op_size_bytes"]
    buckets = [
        (float(s.labels["le"]), s.value) for s in family.samples if s.name.endswith("_bucket")
    ]
    assert buckets[-1] == (math.inf, len(recorded))
    for bound, cumulative in buckets:  # every le counts exactly the values at or below it
        assert cumulative == sum(1 for v in recorded if v <= bound * (1 + 1e-12))


def test_classic_histograms_counters_and_their_exemplars_in_protobuf() -> None:
    """An explicit-bucket scrape in protobuf: what the text formats say, exemplars included."""
    reader = InMemoryMetricReader()
    provider = MeterProvider([reader], RESOURCE, shutdown_on_exit=False)
    registry = Registry()
    registry.attach([reader], RESOURCE)
    scope = InstrumentationScope("shop", "1.0")
    latency = registry.histogram(
        "checkout.duration", unit="s", description="d", scope=scope, boundaries=(0.1, 1.0)
    )
    orders = registry.sum("orders", unit="{order}", description="", scope=scope, monotonic=True)
    with tracer.start_as_current_span("checkout") as span:
        latency.record("k", {"channel": "web"}, 0.5)
        orders.add("k", {"channel": "web"}, 1)
    latency.record("k", {"channel": "web"}, 0.05)
    data = reader.get_metrics_data()
    found = families(render(data, RESOURCE, PROTOBUF))
    provider.shutdown()
    starts = {
        metric.name: metric.data.data_points[0].start_time_unix_nano
        for metric in data.resource_metrics[0].scope_metrics[0].metrics
    }

    trace_id = f"{span.get_span_context().trace_id:032x}"
    assert found["target_info"].metric[0].gauge.value == 1
    histogram = found["checkout_duration_seconds"].metric[0].histogram
    assert found["checkout_duration_seconds"].type == 4
    buckets = [(b.upper_bound, b.cumulative_count) for b in histogram.bucket]
    assert buckets == [(0.1, 1), (1.0, 2), (math.inf, 2)]
    assert (histogram.sample_count, histogram.sample_sum) == (2, 0.55)
    assert not histogram.positive_span  # a classic histogram: no native fields
    exemplar = histogram.bucket[1].exemplar
    assert {pair.name: pair.value for pair in exemplar.label}["trace_id"] == trace_id
    assert exemplar.value == 0.5
    counter = found["orders_total"].metric[0].counter
    assert counter.value == 1
    assert {pair.name: pair.value for pair in counter.exemplar.label}["trace_id"] == trace_id
    # The series' start, which OpenMetrics writes as ``_created``.
    for created, name in (
        (histogram.created_timestamp, "checkout.duration"),
        (counter.created_timestamp, "orders"),
    ):
        assert created.seconds * 10**9 + created.nanos == starts[name] > 0


def test_a_scraper_that_takes_utf8_names_gets_them_unescaped_in_protobuf_too() -> None:
    """Prometheus 3 adds ``escaping=allow-utf-8``: OpenTelemetry's names, dots and all."""
    accept = PROMETHEUS_2_ACCEPT.replace("delimited;", "delimited;escaping=allow-utf-8;", 1)
    fmt = negotiate(accept)
    assert fmt.protobuf
    assert fmt.utf8
    assert fmt.content_type.endswith("encoding=delimited; escaping=allow-utf-8")
    data = exponential_data(
        [0.5, 2.0], "http.server.request.body.size", "By", {"http.route": '/a "b"'}
    )
    found = families(render(data, RESOURCE, fmt))
    (metric,) = found["http.server.request.body.size_bytes"].metric
    assert {pair.name: pair.value for pair in metric.label}["http.route"] == '/a "b"'
    assert metric.histogram.sample_count == 2
    escaped = families(render(data, RESOURCE, PROTOBUF))
    assert "http_server_request_body_size_bytes" in escaped
    assert negotiate(PROMETHEUS_2_ACCEPT).utf8 is False
