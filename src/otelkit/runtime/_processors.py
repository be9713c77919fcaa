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

Every exporter's loss counters exist from the start (``account_for``): ``otelkit.dropped`` at 0
for its processor's ``queue_full`` and its exporter's ``export_failed``, and
``otelkit.export.failures`` at 0 for each reason a failed export is classified under
(``_failures.classify``: a closed set). ``rate()``, ``increase()`` and alerts then work from the
first scrape, and a dashboard shows 0 rather than "no data"; the other drops (invalid values,
refused names, a shutdown that could not wait) appear when they first happen.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otelkit import _sdk_export
from otelkit import _sdk_lean as lean
from otelkit._sdk_lean import ReadableSpans
from otelkit.metrics._fastpath import DROPPED, EXPORT_FAILURES, dropped
from otelkit.metrics._fastpath._components import declare_exporter
from otelkit.metrics._fastpath._drops import zero
from otelkit.runtime._failures import SUMMARY_INTERVAL_S, hold_back_queue_full
from otelkit.runtime._outcome import InFlight, Outcome, RecordingMetricExporter

if TYPE_CHECKING:
    from collections.abc import Iterable

    from opentelemetry.sdk._logs import LogRecordProcessor
    from opentelemetry.sdk._logs.export import LogRecordExporter
    from opentelemetry.sdk.metrics.export import MetricExporter
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace.export import SpanExporter

    from otelkit.runtime._failures import Report

__all__ = [
    "EXPORT_FAILURE_REASONS",
    "QueueFull",
    "account_for",
    "give_up",
    "log_record_processor",
    "metric_exporter",
    "span_processor",
]

logger = logging.getLogger("otelkit")

_IMMEDIATE: dict[str, Any] = {"max_export_batch_size": 1, "schedule_delay_millis": 1000.0}
"""A batch processor that wakes up for every item: off the caller's thread, without delay."""


EXPORT_FAILURE_REASONS = ("timeout", "unavailable", "rejected", "exception", "failed")
"""Every reason ``_failures.classify`` gives a failed export."""


def account_for(component: str, exporter: object, *, queued: bool) -> None:
    """Name the exporter behind ``component`` in the loss counters, and make its series (and,
    when ``queued``, its batch processor's) exist at 0."""
    declare_exporter(component, exporter)
    zero(DROPPED, component, "export_failed")
    for reason in EXPORT_FAILURE_REASONS:
        zero(EXPORT_FAILURES, component, reason)
    if queued:
        zero(DROPPED, component, "queue_full")


def metric_exporter(
    exporter: MetricExporter, *, outcome: Outcome, report: Report
) -> RecordingMetricExporter:
    """The recording wrapper of a periodic reader's exporter, its counters at 0."""
    account_for(report.component, exporter, queued=False)
    return RecordingMetricExporter(exporter, outcome, report)


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


_DRAINS: weakref.WeakKeyDictionary[Any, tuple[str, Any]] = weakref.WeakKeyDictionary()
"""Every batch processor built whose drops are counted: its component and its (recording)
exporter, which knows its configuration's ``Outcome`` and the export in progress."""


def _drain(processor: Any, component: str, exporter: object) -> None:
    _DRAINS[processor] = (component, exporter)


def give_up(outcomes: Iterable[Outcome]) -> dict[str, int]:
    """After a shutdown's deadline: count what the processors of the configuration whose
    ``outcomes`` these are still hold (their queue, the export in progress) as dropped, and take
    it from their queue so that no late export sends it; by signal. A processor whose shutdown
    had not even begun (behind another one of its signal) is emptied too."""
    mine = {id(outcome) for outcome in outcomes}
    left: dict[str, int] = {}
    for processor, (component, exporter) in list(_DRAINS.items()):
        if id(getattr(exporter, "outcome", None)) not in mine:
            continue
        del _DRAINS[processor]
        flight: InFlight | None = getattr(exporter, "in_flight", None)
        items = _sdk_export.take_queued(processor)
        items += flight.abandon() if flight is not None else 0
        if items:
            dropped(component, "shutdown_timeout", items)
            signal = component.partition("/")[0]
            left[signal] = left.get(signal, 0) + items
    return left


def span_processor(
    exporter: SpanExporter, inner: SpanExporter, component: str, *, batch: bool
) -> SpanProcessor:
    """The processor for ``exporter`` (which wraps the plugin's ``inner``)."""
    if isinstance(inner, InMemorySpanExporter):
        account_for(component, inner, queued=False)
        return SimpleSpanProcessor(exporter)
    # Light spans are queued as they are and made readable on the export thread (``_sdk_lean``).
    processor = BatchSpanProcessor(ReadableSpans(exporter), **({} if batch else _IMMEDIATE))
    _count_and_drain(processor, exporter, inner, component, "spans")
    lean.register(processor)
    return processor


def log_record_processor(
    exporter: LogRecordExporter, inner: LogRecordExporter, component: str, *, batch: bool
) -> LogRecordProcessor:
    """The processor for ``exporter`` (which wraps the plugin's ``inner``)."""
    if isinstance(inner, InMemoryLogRecordExporter):
        account_for(component, inner, queued=False)
        return SimpleLogRecordProcessor(exporter)
    processor = BatchLogRecordProcessor(exporter, **({} if batch else _IMMEDIATE))
    _count_and_drain(processor, exporter, inner, component, "log records")
    return processor


def _count_and_drain(
    processor: object, exporter: object, inner: object, component: str, items: str
) -> None:
    """A batch processor's accounting, the same for spans and log records: its queue's drops
    counted (and the SDK's own line held back), its exporter's outcomes, its shutdown drained."""
    counted = _sdk_export.count_queue_drops(processor, QueueFull(component, items))
    account_for(component, inner, queued=counted)
    if counted:
        _drain(processor, component, exporter)
        hold_back_queue_full(processor)  # QueueFull tells its drops: the SDK line is held
