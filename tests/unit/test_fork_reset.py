"""The reset a forked child runs, step by step, in this process (the real forks are in
tests/integration/test_fork.py): a failing step is recorded and the others still run, and SDK
data that could not be reset is not exported rather than exported twice."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk.metrics._internal._view_instrument_match import _ViewInstrumentMatch

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
