"""Exponential histograms in the Prometheus expositions: native in protobuf, classic in text.

The protobuf output is decoded with Google's protobuf runtime, from a descriptor of the
``io.prometheus.client`` messages declared here (field numbers from client_model's
``metrics.proto``): an independent decoder, not the encoder read backwards.
"""

from __future__ import annotations

import functools
import math
import operator
import random
from typing import TYPE_CHECKING, Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
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

import otelkit
from otelkit import ConfigError
from otelkit.exporters.prometheus._exposition import render
from otelkit.exporters.prometheus._negotiation import CLASSIC, PROTOBUF, negotiate
from otelkit.metrics._fastpath import Registry
from otelkit.metrics._fastpath._exponential import Buckets

if TYPE_CHECKING:
    from pathlib import Path

F = descriptor_pb2.FieldDescriptorProto
RESOURCE = Resource({"service.name": "native"})
tracer = TracerProvider().get_tracer("shop")
PROMETHEUS_2_ACCEPT = (
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;"
    "q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
)


def _messages() -> dict[str, Any]:
    """Message classes for the few ``io.prometheus.client`` messages the tests read."""
    proto = descriptor_pb2.FileDescriptorProto(name="native_test.proto", package="t")
    layout = {
        "LabelPair": [("name", 1, F.TYPE_STRING, ""), ("value", 2, F.TYPE_STRING, "")],
        "Timestamp": [("seconds", 1, F.TYPE_INT64, ""), ("nanos", 2, F.TYPE_INT32, "")],
        "Exemplar": [
            ("label", 1, F.TYPE_MESSAGE, ".t.LabelPair"),
            ("value", 2, F.TYPE_DOUBLE, ""),
            ("timestamp", 3, F.TYPE_MESSAGE, ".t.Timestamp"),
        ],
        "Gauge": [("value", 1, F.TYPE_DOUBLE, "")],
        "Counter": [
            ("value", 1, F.TYPE_DOUBLE, ""),
            ("exemplar", 2, F.TYPE_MESSAGE, ".t.Exemplar"),
        ],
        "Bucket": [
            ("cumulative_count", 1, F.TYPE_UINT64, ""),
            ("upper_bound", 2, F.TYPE_DOUBLE, ""),
            ("exemplar", 3, F.TYPE_MESSAGE, ".t.Exemplar"),
        ],
        "BucketSpan": [("offset", 1, F.TYPE_SINT32, ""), ("length", 2, F.TYPE_UINT32, "")],
        "Histogram": [
            ("sample_count", 1, F.TYPE_UINT64, ""),
            ("sample_sum", 2, F.TYPE_DOUBLE, ""),
            ("bucket", 3, F.TYPE_MESSAGE, ".t.Bucket"),
            ("schema", 5, F.TYPE_SINT32, ""),
            ("zero_threshold", 6, F.TYPE_DOUBLE, ""),
            ("zero_count", 7, F.TYPE_UINT64, ""),
            ("negative_span", 9, F.TYPE_MESSAGE, ".t.BucketSpan"),
            ("negative_delta", 10, F.TYPE_SINT64, ""),
            ("positive_span", 12, F.TYPE_MESSAGE, ".t.BucketSpan"),
            ("positive_delta", 13, F.TYPE_SINT64, ""),
            ("exemplars", 16, F.TYPE_MESSAGE, ".t.Exemplar"),
        ],
        "Metric": [
            ("label", 1, F.TYPE_MESSAGE, ".t.LabelPair"),
            ("gauge", 2, F.TYPE_MESSAGE, ".t.Gauge"),
            ("counter", 3, F.TYPE_MESSAGE, ".t.Counter"),
            ("histogram", 7, F.TYPE_MESSAGE, ".t.Histogram"),
        ],
        "MetricFamily": [
            ("name", 1, F.TYPE_STRING, ""),
            ("help", 2, F.TYPE_STRING, ""),
            ("type", 3, F.TYPE_INT32, ""),
            ("metric", 4, F.TYPE_MESSAGE, ".t.Metric"),
        ],
    }
    repeated = {"label", "bucket", "negative_span", "negative_delta", "positive_span"}
    repeated |= {"positive_delta", "metric", "exemplars"}
    for message, fields in layout.items():
        added = proto.message_type.add(name=message)
        for name, number, kind, type_name in fields:
            label = F.LABEL_REPEATED if name in repeated else F.LABEL_OPTIONAL
            field = added.field.add(name=name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = type_name
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"t.{name}"))
        for name in layout
    }


MESSAGES = _messages()


def varint(body: bytes, position: int) -> tuple[int, int]:
    """A base-128 varint at ``position``: its value and the position after it."""
    value = shift = 0
    while True:
        byte = body[position]
        value |= (byte & 0x7F) << shift
        position, shift = position + 1, shift + 7
        if byte < 0x80:
            return value, position


def families(body: bytes) -> dict[str, Any]:
    """The length-delimited ``MetricFamily`` messages of a protobuf exposition, by name."""
    found = {}
    position = 0
    while position < len(body):
        size, position = varint(body, position)
        family = MESSAGES["MetricFamily"].FromString(body[position : position + size])
        found[family.name] = family
        position += size
    return found


def exponential_data(values: list[float], name: str = "op.size", unit: str = "By") -> MetricsData:
    """Metric data holding one exponential point of ``values``, as the fast path builds it."""
    buckets = Buckets()
    for value in values:
        buckets.record(value)
    point = ExponentialHistogramDataPoint(
        attributes={"route": "/a"},
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


def test_native_histograms_refuse_a_pre_fork_shared_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shared directory adds up explicit buckets only: asked for native ones, init fails."""
    monkeypatch.setenv("OTELKIT_HISTOGRAM_AGGREGATION", "base2_exponential_bucket_histogram")
    with pytest.raises(ConfigError, match=r"OTELKIT_HISTOGRAM_AGGREGATION=.*pre-fork") as raised:
        otelkit.init_telemetry(
            service_name="prefork",
            instrument="none",
            prometheus_port=0,
            prometheus_multiprocess_dir=str(tmp_path),
        )
    assert "explicit_bucket_histogram" in str(raised.value)


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
    found = families(render(reader.get_metrics_data(), RESOURCE, PROTOBUF))
    provider.shutdown()

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
