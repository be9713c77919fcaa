"""Health as metrics: how long each check took, and the overall status as one series."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import pytest

import otelkit
from otelkit import testing
from otelkit.health._registry import HEALTH, add_health_check, register_status_source
from otelkit.ops.catalog import everything

if TYPE_CHECKING:
    from collections.abc import Iterator

DURATION = "otelkit.health.check.duration"
OVERALL = "otelkit.health.overall.status"


@pytest.fixture(autouse=True)
def _no_checks_left(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")) and name != "OTELKIT_REQUIRE_SERVERS":
            monkeypatch.delenv(name)
    monkeypatch.setattr(HEALTH, "cache_seconds", HEALTH.cache_seconds)  # restored after
    HEALTH.clear()
    yield
    HEALTH.clear()


@pytest.fixture
def telemetry() -> Iterator[otelkit.Telemetry]:
    handle = otelkit.init_telemetry("health-metrics", exporters="memory", instrument="none")
    yield handle
    handle.shutdown()


def durations(telemetry: otelkit.Telemetry) -> dict[str, Any]:
    return {p.attributes["otelkit.health.check"]: p for p in testing.points(telemetry, DURATION)}


def overall(telemetry: otelkit.Telemetry) -> list[float]:
    HEALTH.cache_seconds = 0  # every collection runs the checks again
    return [p.value for p in testing.points(telemetry, OVERALL)]


def test_each_check_latency_is_recorded_per_run(telemetry: otelkit.Telemetry) -> None:
    def slow() -> bool:
        time.sleep(0.05)
        return True

    add_health_check("slow", slow)
    add_health_check("quick", lambda: True)
    HEALTH.check()

    # The histogram is process-wide: checks of earlier tests may have their series too.
    points = {name: p for name, p in durations(telemetry).items() if name in {"slow", "quick"}}
    assert set(points) == {"slow", "quick"}
    assert points["slow"].count == 1
    assert 0.05 <= points["slow"].sum < 1.0
    assert points["quick"].sum < points["slow"].sum
    assert "error.type" not in points["slow"].attributes


@pytest.mark.parametrize(
    ("check", "timeout", "error"),
    [
        (lambda: False, 1.0, "_OTHER"),
        (lambda: 1 / 0, 1.0, "ZeroDivisionError"),
        (lambda: time.sleep(0.5), 0.05, "timeout"),
    ],
)
def test_a_failed_check_carries_why_in_error_type(
    telemetry: otelkit.Telemetry, check: Any, timeout: float, error: str
) -> None:
    add_health_check("flaky", check, timeout=timeout)
    HEALTH.check()

    (point,) = testing.points(telemetry, DURATION)
    assert dict(point.attributes) == {"otelkit.health.check": "flaky", "error.type": error}
    if error == "timeout":
        assert timeout <= point.sum < 0.5


def test_overall_status_is_one_series_0_healthy_1_degraded_2_unhealthy(
    telemetry: otelkit.Telemetry,
) -> None:
    state = {"cache": True, "db": True}
    add_health_check("cache", lambda: state["cache"], critical=False)
    add_health_check("db", lambda: state["db"])

    assert overall(telemetry) == [0]
    state["cache"] = False
    assert overall(telemetry) == [1]
    state["db"] = False
    assert overall(telemetry) == [2]
    state.update(cache=True, db=True)
    assert overall(telemetry) == [0]


def test_a_status_source_raises_the_overall_status(telemetry: otelkit.Telemetry) -> None:
    remove = register_status_source("alerts", lambda: "degraded")
    try:
        assert overall(telemetry) == [1]
    finally:
        remove()


def test_both_are_in_the_catalog_as_emitted(telemetry: otelkit.Telemetry) -> None:
    add_health_check("db", lambda: True)
    HEALTH.check()
    catalog = everything()

    for name in (DURATION, OVERALL):
        spec = catalog.get(name)
        assert spec is not None
        assert spec.integration == "health"
        assert testing.points(telemetry, name)
    duration = catalog.get(DURATION)
    assert duration is not None
    assert (duration.instrument, duration.unit) == ("histogram", "s")
