"""What became of each export: the wrappers that count and report failed exports.

The SDK's batch and simple processors, and its periodic metric reader, drop an exporter's
result: ``force_flush()`` on them says True whether the export succeeded, returned FAILURE or
raised. ``_pipeline`` wraps every span and log record exporter it hands to a processor, and the
exporter inside every periodic metric reader (``_sdk_export.wrap_reader_exporter``), in a
recording wrapper, so ``Telemetry``'s ``force_flush()`` and ``shutdown()`` can tell whether
anything failed since the last flush. Each failure is also counted in
``otelkit.export.failures`` (by exporter and reason), its items in ``otelkit.dropped``, and
reported once, then summed up (``_failures.Report``, which redacts the detail it is given: an
exception's repr or the SDK's messages can quote a request URL with its credentials).
"""

from __future__ import annotations

import inspect
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otelkit.metrics._fastpath import dropped, export_failed
from otelkit.runtime._failures import Capture, Report, classify, mark_reported

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk.trace import ReadableSpan

R = TypeVar("R")


def _failed(result: object) -> bool:
    """Every SDK export result enum (spans, logs, the older logs name) calls success SUCCESS;
    an exporter that returns nothing is taken at its word."""
    return result is not None and getattr(result, "name", "SUCCESS") != "SUCCESS"


class Outcome:
    """Failed exports of one signal, counted since start-up (thread-safe)."""

    def __init__(self, signal: str) -> None:
        self.signal = signal
        self._lock = threading.Lock()
        self.failed_exports = 0
        """Exports that returned FAILURE or raised."""
        self.undelivered = 0
        """Items (spans, log records) in those exports."""
        self._seen = 0

    def record(self, items: int) -> None:
        with self._lock:
            self.failed_exports += 1
            self.undelivered += items

    def checkpoint(self) -> int:
        """Failed exports since the previous checkpoint (0: all delivered)."""
        with self._lock:
            new = self.failed_exports - self._seen
            self._seen = self.failed_exports
            return new


class InFlight:
    """The items of the export running now, so that a shutdown that gives up on it can count
    them (``abandon``), and the export's later failure does not count them a second time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items = 0
        self._export = 0
        """Which export is running (0: none); ``_abandoned`` names one that was given up."""
        self._abandoned = -1

    def begin(self, items: int) -> int:
        with self._lock:
            self._export = abs(self._export) + 1
            self._items = items
            return self._export

    def end(self, export: int) -> bool:
        """The export is over; whether a shutdown gave up on (and counted) its items."""
        with self._lock:
            if self._export == export:
                self._export, self._items = -export, 0
            return self._abandoned == export

    def abandon(self) -> int:
        """Give up on the export running now: how many items it carries (0: none running)."""
        with self._lock:
            if self._export <= 0 or self._abandoned == self._export:
                return 0
            self._abandoned = self._export
            return self._items


def _shutdown_of(exporter: Any, timeout_millis: float | None) -> None:
    """As the batch processor calls it: with the remaining time when the exporter takes it."""
    if (
        timeout_millis is not None
        and "timeout_millis" in inspect.signature(exporter.shutdown).parameters
    ):
        exporter.shutdown(timeout_millis=timeout_millis)
    else:
        exporter.shutdown()


def _counted_export(
    outcome: Outcome,
    report: Report | None,
    export: Callable[[], R],
    items: int,
    flight: InFlight | None = None,
) -> R:
    """One export of ``items`` items; a failed result or a raise counts and reports them (the
    raise goes on, as the SDK expects)."""
    current = flight.begin(items) if flight is not None else 0
    with Capture() as said:
        try:
            result = export()
        except BaseException as exc:
            counted = flight is not None and flight.end(current)
            _failed_export(outcome, report, items, classify(exc, said), f"{exc!r}", said, counted)
            if report is not None:
                mark_reported(exc)  # the processor's traceback of it would tell it again
            raise
    counted = flight is not None and flight.end(current)
    if _failed(result):
        _failed_export(outcome, report, items, classify(None, said), "", said, counted)
    elif report is not None:
        report.succeeded()
    return result


def _failed_export(
    outcome: Outcome,
    report: Report | None,
    items: int,
    reason: str,
    error: str,
    said: list[str],
    counted: bool = False,
) -> None:
    """``counted``: a shutdown already counted these items as dropped (``InFlight``)."""
    outcome.record(items)
    if report is None:
        return
    export_failed(report.component, reason)
    if not counted:
        dropped(report.component, "export_failed", items)
    report.failed(reason, items, "; ".join([error, *said[-2:]] if error else said[-2:]))


class RecordingSpanExporter(SpanExporter):
    """A span exporter that counts its wrapped exporter's failures into an ``Outcome``."""

    def __init__(
        self, exporter: SpanExporter, outcome: Outcome, report: Report | None = None
    ) -> None:
        self.exporter = exporter
        self.outcome = outcome
        self.report = report
        self.in_flight = InFlight()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return _counted_export(
            self.outcome,
            self.report,
            lambda: self.exporter.export(spans),
            len(spans),
            self.in_flight,
        )

    def shutdown(self, timeout_millis: float | None = None) -> None:
        _shutdown_of(self.exporter, timeout_millis)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis) is not False


class RecordingLogRecordExporter(LogRecordExporter):
    """A log record exporter that counts its wrapped exporter's failures into an ``Outcome``."""

    def __init__(
        self, exporter: LogRecordExporter, outcome: Outcome, report: Report | None = None
    ) -> None:
        self.exporter = exporter
        self.outcome = outcome
        self.report = report
        self.in_flight = InFlight()

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return _counted_export(
            self.outcome,
            self.report,
            lambda: self.exporter.export(batch),
            len(batch),
            self.in_flight,
        )

    def shutdown(self, timeout_millis: float | None = None) -> None:
        _shutdown_of(self.exporter, timeout_millis)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis) is not False


def _points(data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    )


class RecordingMetricExporter(MetricExporter):
    """A periodic reader's exporter that counts failed exports (their points) into an
    ``Outcome``; the reader keeps the temporality and aggregation it read from the wrapped one."""

    def __init__(
        self, exporter: MetricExporter, outcome: Outcome, report: Report | None = None
    ) -> None:
        super().__init__()
        self.exporter = exporter
        self.outcome = outcome
        self.report = report

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        def export() -> MetricExportResult:
            return self.exporter.export(metrics_data, timeout_millis=timeout_millis, **kwargs)

        return _counted_export(self.outcome, self.report, export, _points(metrics_data))

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.exporter.force_flush(timeout_millis=timeout_millis) is not False

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.exporter.shutdown(timeout_millis=timeout_millis, **kwargs)
