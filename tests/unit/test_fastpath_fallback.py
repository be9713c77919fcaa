"""Without the reader seam, otelkit's fast instruments record through SDK instruments: exact.

The SDK's reader API that the fast path feeds is private (``_sdk_compat``). When a release
renames it, every fast instrument forwards its measurements to an ordinary SDK instrument of
the same name, unit, description, scope and buckets; what readers export is then the SDK's own
aggregation, point for point what the plain SDK exports for the same measurements.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricReader,
    MetricsData,
)
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

import otelkit
from otelkit import _sdk_compat, testing
from otelkit.metrics._fastpath import REGISTRY, Registry, _HistogramSeries
from otelkit.metrics._fastpath._fallback import ForwardingHistogramSeries
from tests.fixtures.sdk_changes import rename

if TYPE_CHECKING:
    from collections.abc import Iterator

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SCOPE = InstrumentationScope("fast", "1.0")
RESOURCE = Resource({"service.name": "fallback"})
DELTA = {
    Counter: AggregationTemporality.DELTA,
    Histogram: AggregationTemporality.DELTA,
    UpDownCounter: AggregationTemporality.CUMULATIVE,
}
READER_INTERNALS = ["_collect", "_instrument_class_temporality"]


@pytest.fixture(params=READER_INTERNALS)
def renamed_reader_seam(request: pytest.FixtureRequest) -> Iterator[str]:
    """The installed SDK with one private attribute of ``MetricReader`` renamed."""
    with pytest.MonkeyPatch.context() as patch:
        rename(MetricReader, request.param, patch)
        _sdk_compat.probe_all()
        yield request.param
    _sdk_compat.probe_all()


def points(data: MetricsData | None) -> dict[tuple[str, Any], dict[str, Any]]:
    """Every data point by (metric, attributes), without timestamps or exemplars."""
    assert data is not None
    found: dict[tuple[str, Any], dict[str, Any]] = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    fields = {
                        k: v
                        for k, v in vars(point).items()
                        if k not in ("start_time_unix_nano", "time_unix_nano", "exemplars")
                    }
                    if "sum" in fields:
                        fields["sum"] = round(fields["sum"], 9)
                    fields["scope"] = (scope_metrics.scope.name, scope_metrics.scope.version)
                    fields["unit"], fields["description"] = metric.unit, metric.description
                    fields["temporality"] = getattr(metric.data, "aggregation_temporality", None)
                    key = (metric.name, tuple(sorted(point.attributes.items())))
                    found[key] = {
                        k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()
                    }
    return found


class PlainAndFallback:
    """The same measurements through the plain SDK and through fast instruments that forward."""

    def __init__(self, temporality: dict[type, AggregationTemporality] | None) -> None:
        self.sdk_reader = InMemoryMetricReader(preferred_temporality=temporality)
        self.fast_reader = InMemoryMetricReader(preferred_temporality=temporality)
        view = View(
            instrument_name="op.duration", aggregation=ExplicitBucketHistogramAggregation(BOUNDS)
        )
        self.sdk = MeterProvider([self.sdk_reader], RESOURCE, views=[view], shutdown_on_exit=False)
        self.fast = MeterProvider([self.fast_reader], RESOURCE, shutdown_on_exit=False)
        meter = self.sdk.get_meter("fast", "1.0")
        self.sdk_instruments = (
            meter.create_histogram("op.duration", unit="s", description="d"),
            meter.create_counter("op.calls", unit="{call}", description="c"),
            meter.create_up_down_counter("op.active", unit="{op}", description="a"),
        )
        self.registry = Registry()
        self.registry.attach([self.fast_reader], RESOURCE, self.fast)
        self.fast_instruments = (
            self.registry.histogram(
                "op.duration", unit="s", description="d", scope=SCOPE, boundaries=BOUNDS
            ),
            self.registry.sum(
                "op.calls", unit="{call}", description="c", scope=SCOPE, monotonic=True
            ),
            self.registry.sum(
                "op.active", unit="{op}", description="a", scope=SCOPE, monotonic=False
            ),
        )

    def workload(self, seed: int, n: int = 300) -> None:
        rng = random.Random(seed)
        sdk_histogram, sdk_counter, sdk_updown = self.sdk_instruments
        fast_histogram, fast_counter, fast_updown = self.fast_instruments
        for _ in range(n):
            attributes = {"route": rng.choice(["/a", "/b/{id}"]), "status": rng.choice("245")}
            key = tuple(sorted(attributes.items()))
            value = rng.choice([0.0, 0.005, 0.3, 1.0, 7.0, rng.random() * 3])
            step = -1 if value > 0.5 else 1
            sdk_histogram.record(value, attributes)
            fast_histogram.record(key, attributes, value)
            sdk_counter.add(1, attributes)
            fast_counter.add(key, attributes, 1)
            sdk_updown.add(step, attributes)
            fast_updown.series(key, attributes).add(step)

    def close(self) -> None:
        self.sdk.shutdown()
        self.fast.shutdown()


@pytest.mark.parametrize("temporality", [None, DELTA], ids=["cumulative", "delta"])
def test_fast_instruments_export_what_the_sdk_exports_without_the_reader_seam(
    renamed_reader_seam: str, temporality: dict[type, AggregationTemporality] | None
) -> None:
    pair = PlainAndFallback(temporality)
    try:
        assert pair.registry.forwarding
        for seed in (1, 2, 3):
            pair.workload(seed)
            assert points(pair.fast_reader.get_metrics_data()) == points(
                pair.sdk_reader.get_metrics_data()
            )
    finally:
        pair.close()


def test_sums_recorded_before_init_are_carried_over_into_the_sdk(renamed_reader_seam: str) -> None:
    registry = Registry()
    jobs = registry.sum("jobs", unit="{job}", description="", scope=SCOPE, monotonic=True)
    jobs.add(("a",), {"k": "a"}, 4)
    reader = InMemoryMetricReader()
    provider = MeterProvider([reader], RESOURCE, shutdown_on_exit=False)
    try:
        registry.attach([reader], RESOURCE, provider)
        jobs.add(("a",), {"k": "a"}, 1)
        (point,) = points(reader.get_metrics_data()).values()
        assert point["value"] == 5
    finally:
        provider.shutdown()


def test_the_hot_path_is_the_fast_series_when_the_seam_holds() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider([reader], RESOURCE, shutdown_on_exit=False)
    try:
        registry = Registry()
        registry.attach([reader], RESOURCE, provider)
        histogram = registry.histogram(
            "h", unit="s", description="", scope=SCOPE, boundaries=BOUNDS
        )
        assert not registry.forwarding
        assert type(histogram.series(("k",), {"k": "v"})) is _HistogramSeries
    finally:
        provider.shutdown()


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A Flask app instrumented by otelkit and a business function counted by it."""
    flask = pytest.importorskip("flask")
    monkeypatch.delenv("OTELKIT_HTTP_EXCLUDED_URLS", raising=False)
    app = flask.Flask("shop")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    return app


@otelkit.counted("orders.placed")
def place_order() -> None:
    pass


def test_http_and_business_metrics_are_exact_through_init_telemetry_without_the_seam(
    renamed_reader_seam: str, shop: Any
) -> None:
    telemetry = otelkit.init_telemetry("fallback", exporters="memory", instrument="none")
    assert REGISTRY.forwarding
    app = otelkit.instrument_app(shop)
    client = app.test_client()
    for index in range(7):
        assert client.get(f"/items/{index}", buffered=True).status_code == 200
    for _ in range(3):
        place_order()
    (duration,) = testing.points(telemetry, "http.server.request.duration")
    assert duration.count == 7
    assert list(duration.explicit_bounds) == list(telemetry.settings.http_buckets)
    (orders,) = testing.points(telemetry, "orders.placed")
    assert orders.value == 3
    telemetry.shutdown()
    assert not REGISTRY.forwarding  # the next configuration decides anew


def test_forwarding_series_are_what_instrumentations_hold(renamed_reader_seam: str) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider([reader], RESOURCE, shutdown_on_exit=False)
    try:
        registry = Registry()
        registry.attach([reader], RESOURCE, provider)
        histogram = registry.histogram(
            "h", unit="s", description="", scope=SCOPE, boundaries=BOUNDS
        )
        series = histogram.series(("k",), {"k": "v"})
        assert isinstance(series, ForwardingHistogramSeries)
        series.record(0.2)
        (point,) = points(reader.get_metrics_data()).values()
        assert (point["count"], point["sum"], point["explicit_bounds"]) == (1, 0.2, list(BOUNDS))
    finally:
        provider.shutdown()


def test_the_prometheus_exposition_counts_exactly_without_the_seam(
    renamed_reader_seam: str,
) -> None:
    from otelkit.exporters.prometheus import _endpoint

    telemetry = otelkit.init_telemetry(
        "fallback", exporters="prometheus", prometheus_port=0, instrument="none"
    )
    for _ in range(4):
        place_order()
    assert _endpoint._current is not None
    body = _endpoint._current.scrape().decode()
    totals = [line for line in body.splitlines() if line.startswith("orders_placed_total")]
    assert [float(line.rsplit(" ", 1)[1]) for line in totals] == [4.0]
    telemetry.shutdown()
