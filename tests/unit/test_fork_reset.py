"""The reset a forked child runs, step by step, in this process (the real forks are in
tests/integration/test_fork.py): a failing step is recorded and the others still run, and SDK
data that could not be reset is not exported rather than exported twice."""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk.metrics._internal._view_instrument_match import _ViewInstrumentMatch
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
)

import otelkit
from otelkit import _errors, _sdk_compat, testing
from otelkit.runtime import _fork
from tests.fixtures.sdk_changes import rename

if TYPE_CHECKING:
    from collections.abc import Iterator


@otelkit.counted("jobs.done")
def job() -> None:
    pass


@pytest.fixture
def telemetry() -> Iterator[otelkit.Telemetry]:
    handle = otelkit.init_telemetry("reset", exporters="memory", instrument="none")
    yield handle
    handle.shutdown()
    _sdk_compat.probe_all()


def recorded(telemetry: otelkit.Telemetry) -> Any:
    orders = telemetry.meter.create_counter("orders")  # an SDK instrument
    orders.add(5)
    for _ in range(5):
        job()
    return orders


def values(data: MetricsData | None, name: str) -> list[Any]:
    return [
        point.value
        for rm in (data.resource_metrics if data is not None else [])
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def instance_ids(telemetry: otelkit.Telemetry) -> set[str]:
    data = testing.metrics(telemetry)
    assert data is not None
    return {str(rm.resource.attributes["service.instance.id"]) for rm in data.resource_metrics}


def test_the_reset_starts_every_count_from_zero_under_a_new_instance_id(
    telemetry: otelkit.Telemetry,
) -> None:
    orders = recorded(telemetry)
    (parent_id,) = instance_ids(telemetry)
    _fork.reset_in_child(telemetry)
    orders.add(3)
    job()
    assert [p.value for p in testing.points(telemetry, "orders")] == [3]
    assert [p.value for p in testing.points(telemetry, "jobs.done")] == [1]
    assert parent_id not in instance_ids(telemetry)


def test_a_failing_step_is_recorded_and_the_sdk_metrics_stop_instead_of_repeating(
    telemetry: otelkit.Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK changed after the probe (the aggregates cannot be cleared half way): the step
    fails, the resource and the fast instruments are still reset, and the SDK's counter, which
    still holds the parent's 5, is no longer exported."""
    orders = recorded(telemetry)
    (parent_id,) = instance_ids(telemetry)
    rename(_ViewInstrumentMatch, "_lock", monkeypatch)  # not re-probed: usable() still says yes
    before = _errors.internal_error_count("after fork: SDK metrics")
    _fork.reset_in_child(telemetry)
    assert _errors.internal_error_count("after fork: SDK metrics") == before + 1
    orders.add(3)
    job()
    assert testing.points(telemetry, "orders") == []
    assert [p.value for p in testing.points(telemetry, "jobs.done")] == [1]
    assert parent_id not in instance_ids(telemetry)


def test_without_the_aggregates_seam_the_child_exports_only_the_fast_instruments(
    telemetry: otelkit.Telemetry, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    orders = recorded(telemetry)
    (parent_id,) = instance_ids(telemetry)
    rename(_ViewInstrumentMatch, "_attributes_aggregation", monkeypatch)
    _sdk_compat.probe_all()
    _fork.reset_in_child(telemetry)
    orders.add(3)
    job()
    assert testing.points(telemetry, "orders") == []
    assert [p.value for p in testing.points(telemetry, "jobs.done")] == [1]
    assert parent_id not in instance_ids(telemetry)
    assert any("exports no OpenTelemetry SDK metrics" in r.getMessage() for r in caplog.records)


class SlowCollector(MetricExporter):
    """An exporter whose first export hangs until released (a parent exporting at the fork)."""

    def __init__(self) -> None:
        super().__init__()
        self.exported: list[MetricsData] = []
        self.exporting = threading.Event()
        self.release = threading.Event()

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.exported.append(metrics_data)
        if len(self.exported) == 1:
            self.exporting.set()
            self.release.wait(10)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.release.set()


def test_a_reader_added_after_init_gets_its_export_lock_renewed(
    telemetry: otelkit.Telemetry,
) -> None:
    """A periodic reader added with ``add_metric_reader()``, forked while the parent exports
    through it: the child's own export does not wait for the parent's (which it never sees)."""
    assert telemetry._pipeline is not None
    collector = SlowCollector()
    late = PeriodicExportingMetricReader(collector, export_interval_millis=math.inf)
    telemetry._pipeline.meter_provider.add_metric_reader(late)
    recorded(telemetry)
    parent_export = threading.Thread(target=late.force_flush, daemon=True)
    parent_export.start()
    assert collector.exporting.wait(5)
    try:
        _fork.reset_in_child(telemetry)  # the parent's export holds the inherited lock
        job()
        child_export = threading.Thread(target=late.force_flush, daemon=True)
        child_export.start()
        child_export.join(5)
        waited = child_export.is_alive()
    finally:
        collector.release.set()
        parent_export.join(5)
    assert not waited
    assert values(collector.exported[1], "jobs.done") == [1]


@pytest.fixture
def old_sdk() -> Iterator[None]:
    """An SDK without the reader seam (otelkit's instruments record through SDK ones) nor the
    aggregates seam (a child cannot clear them)."""
    patch = pytest.MonkeyPatch()
    rename(MetricReader, "_collect", patch)
    rename(_ViewInstrumentMatch, "_attributes_aggregation", patch)
    _sdk_compat.probe_all()
    yield
    patch.undo()
    _sdk_compat.probe_all()


@pytest.fixture
def forwarding(old_sdk: None) -> Iterator[otelkit.Telemetry]:
    handle = otelkit.init_telemetry("reset", exporters="memory", instrument="none")
    yield handle
    handle.shutdown()


def test_without_the_seams_a_reader_added_after_init_stops_too(
    forwarding: otelkit.Telemetry,
) -> None:
    """Its SDK aggregates still hold the parent's totals: the child does not export them."""
    assert forwarding._pipeline is not None
    late = InMemoryMetricReader()
    forwarding._pipeline.meter_provider.add_metric_reader(late)
    orders = recorded(forwarding)
    assert values(late.get_metrics_data(), "orders") == [5]
    _fork.reset_in_child(forwarding)
    orders.add(3)
    job()
    data = late.get_metrics_data()
    assert values(data, "orders") == []
    assert values(data, "jobs.done") == []
