"""otelkit's fast instruments export exactly what the plain OpenTelemetry SDK path exports."""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING

import pytest
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricsData,
)
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otelkit.metrics._fastpath import Registry

if TYPE_CHECKING:
    from collections.abc import Iterator

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SCOPE = InstrumentationScope("fast", "1.0")
DELTA = {
    Counter: AggregationTemporality.DELTA,
    Histogram: AggregationTemporality.DELTA,
    UpDownCounter: AggregationTemporality.CUMULATIVE,
}


class Pair:
    """The same measurements sent through the plain SDK and through the fast path."""

    def __init__(self, temporality: dict[type, AggregationTemporality] | None = None) -> None:
        self.sdk_reader = InMemoryMetricReader(preferred_temporality=temporality)
        self.fast_reader = InMemoryMetricReader(preferred_temporality=temporality)
        view = View(
            instrument_name="*.duration", aggregation=ExplicitBucketHistogramAggregation(BOUNDS)
        )
        resource = Resource({"service.name": "pair"})
        self.sdk = MeterProvider([self.sdk_reader], resource, views=[view], shutdown_on_exit=False)
        self.fast = MeterProvider([self.fast_reader], resource, shutdown_on_exit=False)
        self.registry = Registry()
        self.registry.attach([self.fast_reader], resource)
        meter = self.sdk.get_meter("fast", "1.0")
        self.sdk_histogram = meter.create_histogram("op.duration", unit="s", description="d")
        self.sdk_counter = meter.create_counter("op.calls", unit="{call}", description="c")
        self.sdk_updown = meter.create_up_down_counter("op.active", unit="{op}", description="a")
        self.fast_histogram = self.registry.histogram(
            "op.duration", unit="s", description="d", scope=SCOPE, boundaries=BOUNDS
        )
        self.fast_counter = self.registry.sum(
            "op.calls", unit="{call}", description="c", scope=SCOPE, monotonic=True
        )
        self.fast_updown = self.registry.sum(
            "op.active", unit="{op}", description="a", scope=SCOPE, monotonic=False
        )

    def record(self, value: float, attributes: dict[str, str]) -> None:
        key = tuple(sorted(attributes.items()))
        self.sdk_histogram.record(value, attributes)
        self.fast_histogram.record(key, attributes, value)
        self.sdk_counter.add(1, attributes)
        self.fast_counter.add(key, attributes, 1)
        self.sdk_updown.add(-1 if value > 0.5 else 1, attributes)
        self.fast_updown.add(key, attributes, -1 if value > 0.5 else 1)

    def close(self) -> None:
        self.sdk.shutdown()
        self.fast.shutdown()


def comparable(data: MetricsData | None) -> dict[tuple[str, object], dict[str, object]]:
    """Every data point by (metric, attributes), without the timestamps."""
    assert data is not None
    points: dict[tuple[str, object], dict[str, object]] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            assert (sm.scope.name, sm.scope.version) == ("fast", "1.0")
            for metric in sm.metrics:
                for point in metric.data.data_points:
                    fields = {
                        k: v
                        for k, v in vars(point).items()
                        if k not in ("start_time_unix_nano", "time_unix_nano", "exemplars")
                    }
                    if "sum" in fields:  # same values, other addition order: last-bit noise
                        fields["sum"] = round(fields["sum"], 9)
                    fields["unit"] = metric.unit
                    fields["description"] = metric.description
                    fields["temporality"] = getattr(metric.data, "aggregation_temporality", None)
                    fields["monotonic"] = getattr(metric.data, "is_monotonic", None)
                    key = (metric.name, tuple(sorted(point.attributes.items())))
                    points[key] = {
                        k: list(v) if isinstance(v, (list, tuple)) else v for k, v in fields.items()
                    }
    return points


@pytest.fixture
def pair() -> Iterator[Pair]:
    made = Pair()
    yield made
    made.close()


def workload(pair: Pair, seed: int, n: int = 500) -> None:
    rng = random.Random(seed)
    for _ in range(n):
        attributes = {"route": rng.choice(["/a", "/b/{id}", "/c"]), "status": rng.choice("245")}
        pair.record(rng.choice([0.0, 0.005, 0.3, 1.0, 7.0, rng.random() * 3]), attributes)


def test_cumulative_export_is_identical_to_the_sdk(pair: Pair) -> None:
    """Bucket counts (boundaries inclusive), sum, count, min, max, sums: all identical."""
    workload(pair, seed=1)
    assert comparable(pair.fast_reader.get_metrics_data()) == comparable(
        pair.sdk_reader.get_metrics_data()
    )
    workload(pair, seed=2)
    assert comparable(pair.fast_reader.get_metrics_data()) == comparable(
        pair.sdk_reader.get_metrics_data()
    )


def test_delta_export_is_identical_to_the_sdk() -> None:
    """With delta temporality each collection holds only its interval, min and max included."""
    pair = Pair(DELTA)
    try:
        for seed in (3, 4, 5):
            workload(pair, seed=seed, n=200 * seed)
            assert comparable(pair.fast_reader.get_metrics_data()) == comparable(
                pair.sdk_reader.get_metrics_data()
            )
        # An interval without measurements: the SDK exports no histogram or counter points.
        assert comparable(pair.fast_reader.get_metrics_data()) == comparable(
            pair.sdk_reader.get_metrics_data()
        )
    finally:
        pair.close()


def test_concurrent_recording_loses_nothing(pair: Pair) -> None:
    """Eight threads recording at once: every measurement is counted."""

    def hammer() -> None:
        for _ in range(2000):
            pair.fast_histogram.record(("k",), {"k": "v"}, 0.01)
            pair.fast_counter.add(("k",), {"k": "v"}, 1)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    points = comparable(pair.fast_reader.get_metrics_data())
    assert points[("op.duration", (("k", "v"),))]["count"] == 16000
    assert points[("op.calls", (("k", "v"),))]["value"] == 16000


def test_cardinality_limit_overflows_like_the_sdk() -> None:
    """Past the limit, new attribute sets go to one otel.metric.overflow=true series."""
    registry = Registry()
    histogram = registry.histogram(
        "h.duration", unit="s", description="", scope=SCOPE, boundaries=BOUNDS
    )
    histogram.limit = 5
    for index in range(10):
        histogram.record(index, {"i": str(index)}, 0.1)
    series = histogram.all_series()
    assert len(series) == 5
    overflow = [s for s in series if s.attributes == {"otel.metric.overflow": True}]
    assert overflow[0].count == 6


def test_same_name_same_definition_is_shared_and_a_conflict_is_refused() -> None:
    registry = Registry()
    first = registry.histogram("x", unit="s", description="", scope=SCOPE, boundaries=BOUNDS)
    assert (
        registry.histogram("x", unit="s", description="", scope=SCOPE, boundaries=BOUNDS) is first
    )
    with pytest.raises(ValueError, match="another definition"):
        registry.sum("x", unit="s", description="", scope=SCOPE, monotonic=True)
