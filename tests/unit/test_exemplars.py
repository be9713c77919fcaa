"""Exemplars on the fast path: which measurements keep one, how many, and where they show.

The filter is the SDK's ``OTEL_METRICS_EXEMPLAR_FILTER``; a histogram keeps the last exemplar
of each bucket, a counter its last one, an up-down counter none.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from prometheus_client.openmetrics.parser import text_string_to_metric_families

import otelkit
from otelkit.metrics._fastpath import Registry, use_filter

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from opentelemetry.trace import Span

SCOPE = InstrumentationScope("shop", "1.0")
BOUNDS = (0.1, 1.0)
OPENMETRICS = {"HTTP_ACCEPT": "application/openmetrics-text; version=1.0.0"}
tracer = TracerProvider().get_tracer("shop")
unsampled_tracer = TracerProvider(sampler=ALWAYS_OFF).get_tracer("shop")


@pytest.fixture(autouse=True)
def _default_filter() -> Iterator[None]:
    yield
    use_filter("trace_based")


class Shop:
    """A fast histogram, counter and up-down counter, read by an in-memory reader."""

    def __init__(self, temporality: dict[type, AggregationTemporality] | None = None) -> None:
        self.reader = InMemoryMetricReader(preferred_temporality=temporality)
        self.provider = MeterProvider([self.reader], Resource({}), shutdown_on_exit=False)
        self.registry = Registry()
        self.registry.attach([self.reader], Resource({}))
        self.latency = self.registry.histogram(
            "checkout.duration", unit="s", description="", scope=SCOPE, boundaries=BOUNDS
        )
        self.orders = self.registry.sum(
            "orders", unit="{order}", description="", scope=SCOPE, monotonic=True
        )
        self.active = self.registry.sum(
            "active", unit="{order}", description="", scope=SCOPE, monotonic=False
        )

    def record(self, seconds: float) -> None:
        self.latency.record("k", {"channel": "web"}, seconds)
        self.orders.add("k", {"channel": "web"}, 1)
        self.active.add("k", {"channel": "web"}, 1)

    def exemplars(self) -> dict[str, list[Any]]:
        data = self.reader.get_metrics_data()
        assert data is not None
        return {
            metric.name: [e for point in metric.data.data_points for e in point.exemplars]
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
        }


def ids(span: Span) -> tuple[int, int]:
    context = span.get_span_context()
    return context.trace_id, context.span_id


def test_by_default_a_measurement_inside_a_sampled_span_keeps_its_trace() -> None:
    shop = Shop()
    shop.record(0.05)  # no span: no exemplar
    with tracer.start_as_current_span("checkout") as span:
        shop.record(0.5)
    found = shop.exemplars()
    (slow,) = found["checkout.duration"]
    assert (slow.trace_id, slow.span_id, slow.value) == (*ids(span), 0.5)
    (order,) = found["orders"]
    assert (order.trace_id, order.span_id) == ids(span)
    assert found["active"] == []  # an up-down counter is a gauge to Prometheus: none


def test_a_span_that_is_not_sampled_leaves_no_exemplar() -> None:
    shop = Shop()
    with unsampled_tracer.start_as_current_span("checkout"):
        shop.record(0.5)
    assert shop.exemplars() == {"checkout.duration": [], "orders": [], "active": []}


def test_always_on_keeps_measurements_without_a_span_and_always_off_keeps_none() -> None:
    use_filter("always_on")
    shop = Shop()
    shop.record(0.05)
    (fast,) = shop.exemplars()["checkout.duration"]
    assert (fast.trace_id, fast.span_id, fast.value) == (None, None, 0.05)

    use_filter("always_off")
    quiet = Shop()
    with tracer.start_as_current_span("checkout"):
        quiet.record(0.5)
    assert quiet.exemplars()["checkout.duration"] == []


def test_a_histogram_keeps_the_last_exemplar_of_each_bucket_a_counter_its_last() -> None:
    shop = Shop()
    spans = []
    for seconds in (0.05, 0.5, 0.7, 3.0, 0.06):
        with tracer.start_as_current_span("checkout") as span:
            shop.record(seconds)
            spans.append(span)
    found = shop.exemplars()
    by_value = {e.value: e.span_id for e in found["checkout.duration"]}
    assert by_value == {0.06: ids(spans[4])[1], 0.7: ids(spans[2])[1], 3.0: ids(spans[3])[1]}
    assert [e.span_id for e in found["orders"]] == [ids(spans[4])[1]]


def test_a_delta_reader_gets_the_exemplars_of_its_interval_only() -> None:
    shop = Shop({Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA})
    with tracer.start_as_current_span("checkout"):
        shop.record(0.5)
    assert len(shop.exemplars()["checkout.duration"]) == 1
    time.sleep(0.001)
    shop.record(0.5)  # counted, no span: the next interval has no exemplar
    assert shop.exemplars()["checkout.duration"] == []


def test_the_filter_variable_is_checked_at_init(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_METRICS_EXEMPLAR_FILTER", "sometimes")
    with pytest.raises(otelkit.ConfigError, match=r"OTEL_METRICS_EXEMPLAR_FILTER.*always_off"):
        otelkit.init_telemetry(service_name="shop", instrument="none")


def test_init_telemetry_applies_the_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_METRICS_EXEMPLAR_FILTER", "always_off")
    telemetry = otelkit.init_telemetry(service_name="shop", instrument="none", prometheus_port=0)
    shop = Shop()
    with tracer.start_as_current_span("checkout"):
        shop.record(0.5)
    assert shop.exemplars()["checkout.duration"] == []
    telemetry.shutdown()


def scrape(app: Any) -> dict[str, Any]:
    body = b"".join(app(OPENMETRICS, lambda status, headers: None)).decode()
    return {f.name: f for f in text_string_to_metric_families(body)}


def bucket_exemplars(family: Any) -> dict[str, Any]:
    return {s.labels["le"]: s.exemplar for s in family.samples if s.exemplar is not None}


def test_pre_fork_workers_exemplars_meet_in_one_scrape_the_latest_per_bucket(
    tmp_path: Path,
) -> None:
    telemetry = otelkit.init_telemetry(
        service_name="prefork",
        instrument="none",
        prometheus_port=0,
        prometheus_multiprocess_dir=str(tmp_path),
    )
    packing = otelkit.timed("parcel.packing", buckets=BOUNDS)(lambda: None)
    with tracer.start_as_current_span("parent-fast") as parent_span:
        packing()  # lands in the first bucket
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # a worker: a newer exemplar in the first bucket, published for the others
        try:
            with tracer.start_as_current_span("worker") as span:
                packing()
            otelkit.metrics_wsgi()(OPENMETRICS, lambda status, headers: None)  # publishes
            os.write(write, f"{ids(span)[0]:032x}\n".encode())
            time.sleep(30)
        finally:
            os._exit(0)
    try:
        worker_trace = os.read(read, 64).decode().strip()
        family = scrape(otelkit.metrics_wsgi())["parcel_packing_seconds"]
        first = bucket_exemplars(family)["0.1"]
        assert first.labels["trace_id"] == worker_trace  # newer than the parent's
        assert worker_trace != f"{ids(parent_span)[0]:032x}"
        count = next(s for s in family.samples if s.name == "parcel_packing_seconds_count")
        assert count.value == 2
    finally:
        os.kill(child, 9)
        os.waitpid(child, 0)
        telemetry.shutdown()


@pytest.mark.parametrize(("chosen", "kept"), [("trace_based", True), ("always_off", False)])
def test_the_users_own_sdk_instruments_follow_the_same_filter(chosen: str, kept: bool) -> None:
    telemetry = otelkit.init_telemetry(
        service_name="shop", instrument="none", prometheus_port=0, metrics_exemplar_filter=chosen
    )
    refunds = telemetry.meter.create_counter("refunds")
    with tracer.start_as_current_span("refund"):
        refunds.add(1)
    (sample,) = (
        s for s in scrape(otelkit.metrics_wsgi())["refunds"].samples if s.name == "refunds_total"
    )
    assert (sample.exemplar is not None) is kept
    telemetry.shutdown()


def test_a_database_operation_inside_a_request_keeps_the_requests_trace() -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    telemetry = otelkit.init_telemetry(service_name="shop", instrument="none", prometheus_port=0)
    engine = sqlalchemy.create_engine("sqlite://")
    otelkit.instrument_sqlalchemy(engine)
    with tracer.start_as_current_span("GET /orders") as span, engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT 1"))
    family = scrape(otelkit.metrics_wsgi())["db_client_operation_duration_seconds"]
    (exemplar,) = bucket_exemplars(family).values()
    assert exemplar.labels["trace_id"] == f"{ids(span)[0]:032x}"
    telemetry.shutdown()
