"""otelkit holds back the SDK's export messages only for its own exports.

While otelkit runs, a filter on the SDK's exporter loggers keeps the messages about otelkit's
exports (a failed batch, each retry, a full queue) for otelkit's one report. The application's
own processors and exporters, added through the OpenTelemetry API beside otelkit's pipeline,
keep every SDK message, as they would without otelkit.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

import otelkit
from otelkit.runtime import _failures
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from opentelemetry.sdk.trace import ReadableSpan

SHARED = "opentelemetry.sdk._shared_internal"
OTLP_HTTP = "opentelemetry.exporter.otlp.proto.http.trace_exporter"


@contextmanager
def records_of(name: str) -> Iterator[list[logging.LogRecord]]:
    """The records a handler on logger ``name`` receives. The SDK's DuplicateFilter (one line
    per message per 20 s, process-wide) is set aside so an earlier test's line cannot hide one."""
    target = logging.getLogger(name)
    filters = list(target.filters)
    target.filters = [f for f in filters if type(f).__name__ != "DuplicateFilter"]
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    target.addHandler(handler)
    try:
        yield records
    finally:
        target.removeHandler(handler)
        target.filters = filters


@pytest.fixture
def otelkit_running() -> Iterator[None]:
    """otelkit configured: its hold-back filter is on the SDK's exporter loggers."""
    telemetry = otelkit.init_telemetry(
        service_name="shop", metrics_exporters="memory", traces_exporters="memory"
    )
    assert any(isinstance(f, _failures._HoldBack) for f in logging.getLogger(SHARED).filters)
    yield
    telemetry.shutdown()


class Broken(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise RuntimeError("the application's own exporter is broken")


def _one_span(provider: TracerProvider) -> None:
    with provider.get_tracer("app").start_as_current_span("checkout"):
        pass


def test_the_applications_own_failing_exporter_keeps_its_sdk_message(otelkit_running: None) -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Broken()))
    with records_of(SHARED) as records:
        _one_span(provider)
        provider.force_flush()
    provider.shutdown()
    said = [r for r in records if r.getMessage().startswith("Exception while exporting")]
    assert said, [r.getMessage() for r in records]
    assert "the application's own exporter is broken" in str(said[0].exc_info[1])  # type: ignore[index]


def test_the_applications_own_otlp_exporter_keeps_its_failure_message(
    otelkit_running: None,
) -> None:
    refused = f"http://127.0.0.1:{free_port()}/v1/traces"
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(refused, timeout=0.5)))
    with records_of(OTLP_HTTP) as records:
        _one_span(provider)
        provider.force_flush()
    provider.shutdown()
    assert any("Failed to export" in r.getMessage() for r in records), [
        r.getMessage() for r in records
    ]


def test_otelkits_own_failed_export_is_told_once_by_otelkit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The contrast: the same SDK message about otelkit's export is held back."""
    telemetry = otelkit.init_telemetry(
        service_name="shop",
        metrics_exporters="memory",
        traces_exporters="otlp",
        otlp_endpoint=f"http://127.0.0.1:{free_port()}",
        otlp_timeout=300,
    )
    with records_of(OTLP_HTTP) as records, caplog.at_level(logging.WARNING, "otelkit"):
        with telemetry.tracer.start_as_current_span("checkout"):
            pass
        telemetry.force_flush(timeout=5)
    assert not [r for r in records if "Failed to export" in r.getMessage()]
    assert any("export of traces/otlp to" in r.getMessage() for r in caplog.records)


class Blocking(SpanExporter):
    """Holds its first export until released: the processor's queue fills meanwhile."""

    def __init__(self) -> None:
        self.exporting = threading.Event()
        self.release = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.exporting.set()
        self.release.wait(5)
        return SpanExportResult.SUCCESS


@pytest.mark.parametrize("built_by_otelkit", [False, True])
def test_a_full_queue_is_told_by_the_sdk_unless_otelkit_built_the_processor(
    otelkit_running: None, built_by_otelkit: bool
) -> None:
    exporter = Blocking()
    processor = BatchSpanProcessor(exporter, max_queue_size=1, max_export_batch_size=1)
    if built_by_otelkit:
        _failures.hold_back_queue_full(processor)  # as _processors does for its own
    provider = TracerProvider()
    provider.add_span_processor(processor)
    with records_of(SHARED) as records:
        _one_span(provider)
        assert exporter.exporting.wait(5)  # the worker holds the first span
        _one_span(provider)  # fills the queue
        _one_span(provider)  # finds it full
        exporter.release.set()
    provider.shutdown()
    full = [r for r in records if r.getMessage().startswith("Queue full")]
    assert bool(full) is not built_by_otelkit


def test_a_metric_collection_timeout_outside_an_export_is_not_held_back(
    otelkit_running: None,
) -> None:
    """The periodic reader says so on its own thread, outside any export of otelkit's."""
    name = "opentelemetry.sdk.metrics._internal.export"
    with records_of(name) as records:
        logging.getLogger(name).warning(
            "Metric collection timed out. Will try again after %s seconds", 5.0
        )
    assert [r.getMessage() for r in records] == [
        "Metric collection timed out. Will try again after 5.0 seconds"
    ]
