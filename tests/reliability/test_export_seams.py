"""The export-path SDK seams (``otelkit._sdk_export``): probed, and harmless when a release
renames what they rely on: otelkit then exports as before and only counts less.

Each test renames one private SDK attribute as a new SDK release would
(``tests/fixtures/sdk_changes.rename``), probes again and runs a real pipeline.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk._shared_internal import BatchProcessor
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import otelkit
from otelkit import _sdk_compat, _sdk_export
from tests.fixtures.sdk_changes import rename
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from tests.fixtures.otlp_receiver import OtlpReceiver

INTERNALS: list[tuple[str, Any, str]] = [
    (_sdk_export.READER_EXPORTER, PeriodicExportingMetricReader, "_exporter"),
    (_sdk_export.BATCH_QUEUE, BatchSpanProcessor, "_batch_processor"),
    (_sdk_export.BATCH_QUEUE, BatchProcessor, "_queue"),
    (_sdk_export.BATCH_QUEUE, BatchProcessor, "_max_queue_size"),
]


def test_the_export_seams_hold_on_the_installed_sdk() -> None:
    results = _sdk_compat.probe_all()
    assert results[_sdk_export.READER_EXPORTER]
    assert results[_sdk_export.BATCH_QUEUE]


@pytest.mark.parametrize(
    ("seam", "owner", "name"), INTERNALS, ids=[f"{o.__name__}.{n}" for _, o, n in INTERNALS]
)
def test_a_renamed_internal_fails_its_seam_with_one_warning(
    patch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, seam: str, owner: Any, name: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="otelkit"):
        rename(owner, name, patch)
        results = _sdk_compat.probe_all()
    assert results[seam] is False
    (warning,) = [r.getMessage() for r in caplog.records if seam in r.getMessage()]
    assert _sdk_compat.SEAMS[seam].fallback in warning


def test_without_the_reader_seam_metrics_are_still_exported(
    patch: pytest.MonkeyPatch, otlp_http: OtlpReceiver
) -> None:
    rename(PeriodicExportingMetricReader, "_exporter", patch)
    telemetry = otelkit.init_telemetry(
        service_name="orders", metrics_exporters="otlp", otlp_endpoint=otlp_http.endpoint
    )
    telemetry.meter.create_counter("orders.placed").add(3)

    assert telemetry.force_flush(timeout=5) is True
    assert otlp_http.wait_for(lambda: _sums(otlp_http, "orders.placed")) == [3]


def _sums(receiver: OtlpReceiver, name: str) -> list[int]:
    """The integer points of the sum ``name`` received, read from the raw requests (attributes
    left undecoded: another test's odd attribute values must not hide this metric)."""
    return [
        point.as_int
        for request in receiver.requests_for("metrics")
        for resource in request.message.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.sum.data_points
    ]


def test_without_the_queue_seam_spans_are_still_exported(
    patch: pytest.MonkeyPatch, otlp_http: OtlpReceiver
) -> None:
    rename(BatchProcessor, "_queue", patch)
    telemetry = otelkit.init_telemetry(
        service_name="orders", traces_exporters="otlp", otlp_endpoint=otlp_http.endpoint
    )
    with telemetry.tracer.start_as_current_span("order"):
        pass

    assert telemetry.force_flush(timeout=5) is True
    assert otlp_http.wait_for(lambda: otlp_http.spans("order"))


def test_without_the_reader_seam_a_failed_metric_export_goes_unseen(
    patch: pytest.MonkeyPatch,
) -> None:
    """The documented fallback: quieter, never wrong about what was delivered."""
    rename(PeriodicExportingMetricReader, "_exporter", patch)
    telemetry = otelkit.init_telemetry(
        service_name="orders",
        metrics_exporters="otlp",
        otlp_endpoint=f"http://127.0.0.1:{free_port()}",
        otlp_timeout=300,
    )
    telemetry.meter.create_counter("orders.placed").add(1)

    assert telemetry.force_flush(timeout=5) is True
