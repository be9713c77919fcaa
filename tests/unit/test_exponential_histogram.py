"""Fast-path exponential histograms agree with the SDK's own aggregation, bucket for bucket."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    InMemoryMetricReader,
)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otelkit.metrics._fastpath import Registry
from otelkit.metrics._fastpath._aggregation import forget_preferences, prefer_exponential
from otelkit.metrics._fastpath._exponential import MAX_SIZE, index_of

if TYPE_CHECKING:
    from collections.abc import Iterator

SCOPE = InstrumentationScope("fast", "1.0")
RESOURCE = Resource({"service.name": "expo"})
DELTA = {Histogram: AggregationTemporality.DELTA}


class Pair:
    """The same values through the SDK's exponential aggregation and through the fast path,
    whose reader prefers exponential buckets; a second fast reader keeps explicit ones."""

    def __init__(self, temporality: dict[type, AggregationTemporality] | None = None) -> None:
        self.sdk_reader = InMemoryMetricReader(preferred_temporality=temporality)
        self.fast_reader = InMemoryMetricReader(preferred_temporality=temporality)
        self.explicit_reader = InMemoryMetricReader()
        view = View(instrument_name="*", aggregation=ExponentialBucketHistogramAggregation())
        self.sdk = MeterProvider([self.sdk_reader], RESOURCE, views=[view], shutdown_on_exit=False)
        readers = [self.fast_reader, self.explicit_reader]
        self.fast = MeterProvider(readers, RESOURCE, shutdown_on_exit=False)
        prefer_exponential(self.fast_reader)
        self.registry = Registry()
        self.registry.attach(readers, RESOURCE)
        self.sdk_histogram = self.sdk.get_meter("fast", "1.0").create_histogram("op.size")
        self.fast_histogram = self.registry.histogram(
            "op.size", unit="", description="", scope=SCOPE, boundaries=(1.0, 10.0)
        )

    def record(self, values: list[float]) -> None:
        for value in values:
            self.sdk_histogram.record(value, {"k": "v"})
            self.fast_histogram.record("k", {"k": "v"}, value)

    def close(self) -> None:
        self.sdk.shutdown()
        self.fast.shutdown()
        forget_preferences()


@pytest.fixture
def pair() -> Iterator[Pair]:
    made = Pair()
    yield made
    made.close()


def _trimmed(offset: int, counts: list[int]) -> tuple[int, list[int]] | None:
    """Buckets without the empty ones at either end (the SDK grows its arrays in steps)."""
    counts = list(counts)
    while counts and counts[-1] == 0:
        counts.pop()
    start = 0
    while start < len(counts) and counts[start] == 0:
        start += 1
    return (offset + start, counts[start:]) if counts[start:] else None


def exponential_point(reader: InMemoryMetricReader) -> dict[str, Any] | None:
    data = reader.get_metrics_data()
    points = [
        point
        for rm in (data.resource_metrics if data else [])
        for sm in rm.scope_metrics
        for metric in sm.metrics
        for point in metric.data.data_points
    ]
    if not points:
        return None
    (point,) = points
    assert isinstance(point, ExponentialHistogramDataPoint)
    return {
        "count": point.count,
        "sum": float(f"{point.sum:.12g}"),  # the SDK adds interval sums: last-bit noise
        "scale": point.scale,
        "zero_count": point.zero_count,
        "positive": _trimmed(point.positive.offset, list(point.positive.bucket_counts)),
        "negative": _trimmed(point.negative.offset, list(point.negative.bucket_counts)),
        "min": point.min,
        "max": point.max,
    }


# Values across the whole double range, exact powers of two and subnormals included (the SDK's
# histograms take no negative values: the negative side is checked against the positive one).
finite = st.floats(min_value=0.0, allow_infinity=False)
powers_of_two = st.integers(-1074, 1023).map(lambda e: math.ldexp(1.0, e))
narrow = st.floats(min_value=0.001, max_value=100.0)
values = st.lists(st.one_of(finite, powers_of_two, narrow, st.just(0.0)), min_size=1, max_size=300)


@settings(max_examples=150, deadline=None)
@given(values)
@example([1.188182228934475e-212, 1.1125369292536007e-308])  # a subnormal at scale 0
@example([1e-320, 1e300, 5e-324])  # subnormals at the lowest scales
def test_same_scale_offsets_and_counts_as_the_sdk(recorded: list[float]) -> None:
    pair = Pair()
    try:
        pair.record(recorded)
        assert exponential_point(pair.fast_reader) == exponential_point(pair.sdk_reader)
    finally:
        pair.close()


@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=1, max_size=3))
def test_cumulative_collections_stay_identical(batches: list[list[float]]) -> None:
    """Collect after each batch: the scale only goes down, the totals keep growing.

    One difference is left out on purpose: once an interval held only zeros, the SDK merges
    its cumulative point at scale 0 for good; the fast path keeps the scale its values need.
    """
    assume(all(any(batch) for batch in batches))
    pair = Pair()
    try:
        for batch in batches:
            pair.record(batch)
            assert exponential_point(pair.fast_reader) == exponential_point(pair.sdk_reader)
    finally:
        pair.close()


@settings(max_examples=50, deadline=None)
@given(values)
def test_negative_values_mirror_the_positive_buckets(recorded: list[float]) -> None:
    positive, negative = Pair(), Pair()
    try:
        positive.record(recorded)
        for value in recorded:
            negative.fast_histogram.record("k", {"k": "v"}, -value)
        mirrored = exponential_point(negative.fast_reader)
        expected = exponential_point(positive.fast_reader)
        assert mirrored is not None
        assert expected is not None
        assert (mirrored["negative"], mirrored["positive"]) == (expected["positive"], None)
        assert (mirrored["scale"], mirrored["zero_count"]) == (
            expected["scale"],
            expected["zero_count"],
        )
    finally:
        positive.close()
        negative.close()


def test_a_delta_reader_gets_each_interval_once() -> None:
    pair = Pair(DELTA)
    try:
        pair.record([0.5, 1.5, 3.0, 0.0])
        first = exponential_point(pair.fast_reader)
        assert first == exponential_point(pair.sdk_reader)
        pair.record([2.0, 2.0])
        pair.fast_histogram.record("k", {"k": "v"}, -4.0)
        second = exponential_point(pair.fast_reader)
        assert second is not None
        assert (second["count"], second["sum"], second["zero_count"]) == (3, 0.0, 0)
        assert second["min"] == -4.0
        assert second["max"] == 2.0
        assert sum(second["positive"][1]) == 2
        assert sum(second["negative"][1]) == 1
        assert exponential_point(pair.fast_reader) is None  # nothing recorded since
    finally:
        pair.close()


def test_a_wide_range_downscales_to_fit_the_maximum_size(pair: Pair) -> None:
    pair.record([1e-9 * 1.5**i for i in range(200)])
    point = exponential_point(pair.fast_reader)
    assert point is not None
    _offset, counts = point["positive"]
    assert len(counts) <= MAX_SIZE
    assert sum(counts) == 200
    assert point["scale"] < 20
    assert point == exponential_point(pair.sdk_reader)


def test_other_readers_keep_their_explicit_buckets(pair: Pair) -> None:
    pair.record([0.5, 5.0, 50.0])
    data = pair.explicit_reader.get_metrics_data()
    assert data is not None
    (point,) = data.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    assert isinstance(point, HistogramDataPoint)
    assert list(point.bucket_counts) == [1, 1, 1]


@given(st.floats(min_value=1e-300, max_value=1e300), st.integers(-10, 20))
def test_a_value_lies_in_its_bucket(value: float, scale: int) -> None:
    """Bucket ``i`` holds ``(base**i, base**(i+1)]``; checked in logarithms, within rounding."""
    index = index_of(value, scale)
    position = math.log2(value) * 2.0**scale
    assert index - 1e-6 <= position <= index + 1 + 1e-6


def test_a_delta_reader_added_later_gets_only_what_comes_after(pair: Pair) -> None:
    pair.record([1.0, 2.0, 3.0])
    late = InMemoryMetricReader(preferred_temporality=DELTA)
    prefer_exponential(late)
    pair.registry.attach_reader(late, from_now=True)
    pair.record([5.0])
    point = exponential_point(late)
    assert point is not None
    assert (point["count"], point["sum"], point["min"], point["max"]) == (1, 5.0, 5.0, 5.0)
