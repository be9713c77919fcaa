"""What became of each export: the wrappers that count failed span and log record exports.

The SDK's batch and simple processors drop an exporter's result: ``force_flush()`` on them says
True whether the export succeeded, returned FAILURE or raised. ``_pipeline`` wraps every span
and log record exporter it hands to a processor in a recording wrapper, so ``Telemetry``'s
``force_flush()`` and ``shutdown()`` can tell whether anything failed since the last flush.
Metric exporters sit inside the readers the plugins build, out of reach of the public API, and
are not counted.
"""

from __future__ import annotations

import inspect
import threading
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk.trace import ReadableSpan

T = TypeVar("T")
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


def _shutdown_of(exporter: Any, timeout_millis: float | None) -> None:
    """As the batch processor calls it: with the remaining time when the exporter takes it."""
    if (
        timeout_millis is not None
        and "timeout_millis" in inspect.signature(exporter.shutdown).parameters
    ):
        exporter.shutdown(timeout_millis=timeout_millis)
    else:
        exporter.shutdown()


def _counted_export(outcome: Outcome, export: Callable[[Sequence[T]], R], items: Sequence[T]) -> R:
    """One export of ``items``; a failed result or a raise counts them (the raise goes on)."""
    try:
        result = export(items)
    except BaseException:
        outcome.record(len(items))
        raise
    if _failed(result):
        outcome.record(len(items))
    return result


class RecordingSpanExporter(SpanExporter):
    """A span exporter that counts its wrapped exporter's failures into an ``Outcome``."""

    def __init__(self, exporter: SpanExporter, outcome: Outcome) -> None:
        self.exporter = exporter
        self.outcome = outcome

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return _counted_export(self.outcome, self.exporter.export, spans)

    def shutdown(self, timeout_millis: float | None = None) -> None:
        _shutdown_of(self.exporter, timeout_millis)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis) is not False


class RecordingLogRecordExporter(LogRecordExporter):
    """A log record exporter that counts its wrapped exporter's failures into an ``Outcome``."""

    def __init__(self, exporter: LogRecordExporter, outcome: Outcome) -> None:
        self.exporter = exporter
        self.outcome = outcome

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return _counted_export(self.outcome, self.exporter.export, batch)

    def shutdown(self, timeout_millis: float | None = None) -> None:
        _shutdown_of(self.exporter, timeout_millis)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis) is not False
