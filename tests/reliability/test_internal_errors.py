"""Errors otelkit swallows are counted on ``otelkit.internal.errors``, not only logged.

The generated alert on otelkit's own errors reads this counter: an error kept from the
application must still show up where operators look.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest
from opentelemetry.semconv._incubating.attributes.otel_attributes import (
    OTEL_COMPONENT_NAME,
    OTEL_COMPONENT_TYPE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

import otelkit
from otelkit import _errors, testing
from tests.fixtures.scrape import scrape_metrics
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def _swallow_internal_errors() -> Iterator[None]:
    """As in production: an error on the telemetry path is logged and counted, not raised."""
    _errors.raise_internal_errors(False)
    yield
    _errors.raise_internal_errors(True)


def _internal_errors(telemetry: otelkit.Telemetry) -> dict[tuple[str, str], int]:
    return {
        (
            p.attributes.get(OTEL_COMPONENT_NAME) or p.attributes[OTEL_COMPONENT_TYPE],
            p.attributes[ERROR_TYPE],
        ): p.value
        for p in testing.points(telemetry, "otelkit.internal.errors")
    }


_broken_now = {"queue": False}
"""The gauge below stays registered for the rest of the process: it fails only in its test."""


def _broken() -> float:
    if _broken_now["queue"]:
        raise RuntimeError("the queue length is unknown")
    return 0.0


def test_a_gauge_callback_that_raises_is_counted(caplog: pytest.LogCaptureFixture) -> None:
    telemetry = otelkit.init_telemetry("errors", exporters="memory")
    otelkit.gauge("test.internal.queue_length", _broken)
    _broken_now["queue"] = True
    try:
        with caplog.at_level(logging.WARNING, logger="otelkit"):
            testing.metrics(telemetry)  # the callback raises here, inside the collection
            testing.metrics(telemetry)
            counted = _internal_errors(telemetry)
    finally:
        _broken_now["queue"] = False
    assert counted[("otelkit_gauge_test_internal_queue_length", "RuntimeError")] >= 2
    logged = [r for r in caplog.records if "test.internal.queue_length" in r.getMessage()]
    assert len(logged) == 1  # logged once per kind, counted every time
    telemetry.shutdown()


def test_errors_from_before_the_configuration_are_in_the_total() -> None:
    """The counter holds the process total, so errors swallowed before init are not lost."""
    before = _errors.internal_error_count("test.early")
    _errors.record_internal_error("test.early", KeyError("no such key"))
    telemetry = otelkit.init_telemetry("errors", exporters="memory")
    counted = _internal_errors(telemetry)
    assert counted[("otelkit_test_early", "KeyError")] == before + 1
    telemetry.shutdown()


@pytest.mark.integration
def test_the_counter_is_on_the_prometheus_exposition() -> None:
    port = free_port()
    telemetry = otelkit.init_telemetry("errors", exporters="prometheus", prometheus_port=port)
    _errors.record_internal_error("test.exposed", ValueError("bad"))
    page = scrape_metrics(f"http://127.0.0.1:{port}/metrics")
    assert (
        page.total("otelkit_internal_errors_total", otel_component_type="otelkit_test_exposed") == 1
    )
    telemetry.shutdown()
