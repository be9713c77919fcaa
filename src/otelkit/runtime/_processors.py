"""The span and log record processors ``_pipeline`` builds: never exporting on the caller's
thread, and counting what a full queue refuses.

Every exporter runs on a processor thread, a plugin's synchronous one (``batch = False``, the
console) included: it gets a batch processor that exports each item as soon as it is queued
(``max_export_batch_size=1``), in order, so an exporter that takes 2 s costs a request nothing.
The in-memory exporters of the SDK (otelkit's ``memory`` plugin, for tests) stay synchronous:
they do no I/O and a test reads a span as soon as it ends.

A full queue drops its oldest span or log record when a new one arrives, with one deduplicated
log line of the SDK; here each is also counted in ``otelkit.dropped`` (``reason="queue_full"``,
exactly: ``_sdk_export.CountingQueue``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otelkit import _sdk_export
from otelkit.metrics._fastpath import dropped
from otelkit.runtime._failures import SUMMARY_INTERVAL_S, hold_back_queue_full

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import LogRecordProcessor
    from opentelemetry.sdk._logs.export import LogRecordExporter
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["QueueFull", "log_record_processor", "span_processor"]

logger = logging.getLogger("otelkit")

_IMMEDIATE: dict[str, Any] = {"max_export_batch_size": 1, "schedule_delay_millis": 1000.0}
"""A batch processor that wakes up for every item: off the caller's thread, without delay."""


class QueueFull:
    """Called for each item a full queue drops: counted, and told in one WARNING, then in at
    most one a minute with the count (the SDK's own line, deduplicated, is held back)."""

    def __init__(self, component: str, items: str) -> None:
        self.component = component
        self.items = items
        self._lock = threading.Lock()
        self._since = 0
        self._last: float | None = None

    def __call__(self) -> None:
        dropped(self.component, "queue_full")
        now = time.monotonic()
        with self._lock:
            self._since += 1
            if self._last is not None and now - self._last < SUMMARY_INTERVAL_S:
                return
            first, since = self._last is None, self._since
            self._last, self._since = now, 0
        logger.warning(
            "otelkit: the %s queue is full: %d %s dropped%s (exports cannot keep up; "
            "otelkit.dropped counts them all)",
            self.component,
            since,
            self.items,
            "" if first else f" in the last {SUMMARY_INTERVAL_S:.0f} s",
        )


def span_processor(
    exporter: SpanExporter, inner: SpanExporter, component: str, *, batch: bool
) -> SpanProcessor:
    """The processor for ``exporter`` (which wraps the plugin's ``inner``)."""
    if isinstance(inner, InMemorySpanExporter):
        return SimpleSpanProcessor(exporter)
    processor = BatchSpanProcessor(exporter, **({} if batch else _IMMEDIATE))
    if _sdk_export.count_queue_drops(processor, QueueFull(component, "spans")):
        hold_back_queue_full(processor)  # QueueFull tells its drops: the SDK line is held
    return processor


def log_record_processor(
    exporter: LogRecordExporter, inner: LogRecordExporter, component: str, *, batch: bool
) -> LogRecordProcessor:
    """The processor for ``exporter`` (which wraps the plugin's ``inner``)."""
    if isinstance(inner, InMemoryLogRecordExporter):
        return SimpleLogRecordProcessor(exporter)
    processor = BatchLogRecordProcessor(exporter, **({} if batch else _IMMEDIATE))
    if _sdk_export.count_queue_drops(processor, QueueFull(component, "log records")):
        hold_back_queue_full(processor)  # QueueFull tells its drops: the SDK line is held
    return processor
