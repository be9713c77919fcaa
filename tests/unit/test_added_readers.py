"""A reader added after ``init_telemetry()`` through the SDK's public ``add_metric_reader()``
sees every metric, otelkit's fast-path ones (HTTP, business) included, in its own temporality."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk.metrics import Counter, Histogram
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricReader,
    MetricsData,
)

import otelkit
from otelkit import _sdk_compat
from tests.fixtures.sdk_changes import rename

if TYPE_CHECKING:
    from collections.abc import Iterator

DURATION = "http.server.request.duration"


@otelkit.counted("invoices.sent")
def send_invoice() -> None:
    pass


def values(reader: InMemoryMetricReader, name: str) -> list[Any]:
    """The points of metric ``name`` in one collection of ``reader``."""
    return points(reader.get_metrics_data(), name)


def points(data: MetricsData | None, name: str) -> list[Any]:
    """The points of metric ``name`` in ``data``."""
    return [
        point
        for resource_metrics in (data.resource_metrics if data is not None else [])
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


@pytest.fixture(params=["fast path", "without the reader seam"])
def mode(request: pytest.FixtureRequest) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        if request.param != "fast path":
            rename(MetricReader, "_collect", patch)
        yield request.param
    _sdk_compat.probe_all()


@pytest.fixture
def telemetry(mode: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[otelkit.Telemetry]:
    monkeypatch.delenv("OTELKIT_HTTP_EXCLUDED_URLS", raising=False)
    handle = otelkit.init_telemetry("late-readers", exporters="none", instrument="none")
    yield handle
    handle.shutdown()


def shop() -> Any:
    flask = pytest.importorskip("flask")
    app = flask.Flask("shop")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    return otelkit.instrument_app(app)


def test_a_reader_added_after_init_sees_http_and_business_metrics(
    telemetry: otelkit.Telemetry,
) -> None:
    assert telemetry._pipeline is not None
    late = InMemoryMetricReader()
    telemetry._pipeline.meter_provider.add_metric_reader(late)
    client = shop().test_client()
    for index in range(4):
        assert client.get(f"/items/{index}", buffered=True).status_code == 200
    send_invoice()
    send_invoice()
    (duration,) = values(late, DURATION)
    assert duration.count == 4
    (invoices,) = values(late, "invoices.sent")
    assert invoices.value == 2


def test_a_delta_reader_added_after_init_gets_deltas(telemetry: otelkit.Telemetry) -> None:
    assert telemetry._pipeline is not None
    delta = AggregationTemporality.DELTA
    late = InMemoryMetricReader(preferred_temporality={Counter: delta, Histogram: delta})
    telemetry._pipeline.meter_provider.add_metric_reader(late)
    send_invoice()
    assert [p.value for p in values(late, "invoices.sent")] == [1]
    send_invoice()
    send_invoice()
    assert [p.value for p in values(late, "invoices.sent")] == [2]


def test_a_removed_reader_is_forgotten(telemetry: otelkit.Telemetry) -> None:
    assert telemetry._pipeline is not None
    provider = telemetry._pipeline.meter_provider
    late = InMemoryMetricReader()
    provider.add_metric_reader(late)
    provider.remove_metric_reader(late)
    again = InMemoryMetricReader()
    provider.add_metric_reader(again)
    send_invoice()
    assert [p.value for p in values(again, "invoices.sent")] == [1]


def histogram_points(data: MetricsData | None, name: str) -> list[tuple[Any, ...]]:
    return [
        (p.count, p.sum, p.min, p.max, list(p.bucket_counts), list(p.explicit_bounds))
        for p in points(data, name)
    ]


def test_a_delta_reader_added_after_init_starts_from_nothing_as_with_sdk_instruments(
    telemetry: otelkit.Telemetry,
) -> None:
    """What was recorded before ``add_metric_reader()`` is not the new reader's: no point
    until something is recorded, then only that, min and max included (never inf)."""
    assert telemetry._pipeline is not None
    plain_histogram = telemetry.meter.create_histogram("plain.size")  # SDK instruments
    plain_counter = telemetry.meter.create_counter("plain.invoices")
    for value in (3.0, 700.0):
        otelkit.record("late.size", value)
        plain_histogram.record(value)
    send_invoice()
    plain_counter.add(1)
    delta = AggregationTemporality.DELTA
    late = InMemoryMetricReader(preferred_temporality={Counter: delta, Histogram: delta})
    telemetry._pipeline.meter_provider.add_metric_reader(late)

    first = late.get_metrics_data()
    assert histogram_points(first, "plain.size") == []
    assert histogram_points(first, "late.size") == []
    assert points(first, "plain.invoices") == []
    assert points(first, "invoices.sent") == []

    otelkit.record("late.size", 40.0)
    plain_histogram.record(40.0)
    send_invoice()
    plain_counter.add(1)
    second = late.get_metrics_data()
    (expected,) = histogram_points(second, "plain.size")
    assert expected[:4] == (1, 40.0, 40.0, 40.0)
    assert histogram_points(second, "late.size") == [expected]
    assert [p.value for p in points(second, "plain.invoices")] == [1]
    assert [p.value for p in points(second, "invoices.sent")] == [1]
