"""The private SDK attributes of the export path: the second half of ``_sdk_compat``.

Declared with ``_sdk_compat.seam`` like the others, probed by the same ``probe_all()`` (this
module is imported by the runtime before it probes) and read through the same ``usable()``:

- ``export.reader_exporter``: the exporter inside a ``PeriodicExportingMetricReader``, so that
  otelkit can wrap it and see failed metric exports (the reader drops the result);
- ``export.batch_queue``: the queue of the SDK's batch span and log record processors, so that
  a span or record a full queue drops is counted rather than only logged, and what a shutdown
  that timed out leaves in it is counted too (``take_queued``).
"""

from __future__ import annotations

import collections
import math
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, InMemoryLogRecordExporter
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otelkit._sdk_compat import _throwaway_provider, seam, usable

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = [
    "BATCH_QUEUE",
    "READER_EXPORTER",
    "CountingQueue",
    "count_queue_drops",
    "take_queued",
    "wrap_reader_exporter",
]

READER_EXPORTER = "export.reader_exporter"
BATCH_QUEUE = "export.batch_queue"


def wrap_reader_exporter(reader: object, wrap: Callable[[MetricExporter], MetricExporter]) -> bool:
    """Replace a periodic reader's exporter by ``wrap(exporter)``; False (nothing done) for
    other readers or without the seam."""
    if not isinstance(reader, PeriodicExportingMetricReader) or not usable(READER_EXPORTER):
        return False
    reader._exporter = wrap(reader._exporter)
    return True


@seam(
    READER_EXPORTER,
    feature="the failed-export count of periodic metric readers",
    fallback="force_flush() and shutdown() cannot see failed metric exports (spans and logs "
    "still counted)",
)
def _probe_reader_exporter() -> bool:
    exported: list[MetricsData] = []

    class Seen(MetricExporter):
        def export(
            self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
        ) -> MetricExportResult:
            exported.append(metrics_data)
            return MetricExportResult.SUCCESS

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return True

        def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
            return None

    inner = Seen()
    reader = PeriodicExportingMetricReader(inner, math.inf)  # no thread
    if reader._exporter is not inner:
        return False
    seen = Seen()
    reader._exporter = seen
    with _throwaway_provider(reader) as provider:
        provider.get_meter("otelkit.probe").create_counter("otelkit.probe").add(1)
        reader.collect()
    return len(exported) == 1


def _batch(processor: object) -> Any:
    if isinstance(processor, (BatchSpanProcessor, BatchLogRecordProcessor)):
        return processor._batch_processor
    return None


class CountingQueue(collections.deque[Any]):
    """A batch processor's queue that drops its oldest items beyond ``limit`` itself, and
    calls ``on_drop`` once for each.

    The deque has no ``maxlen``: a deque that drops on its own tells nobody, and a length
    check before or after the append races with other threads (a check that saw room while
    other threads filled the queue misses a drop; a check that saw it full while the worker
    made room counts one that never happened). Here every drop is an explicit ``pop`` under the
    lock, counted there, so the count is exact. The caller's append stays the deque's own plus
    one length comparison; the queue may hold a few more than ``limit`` items for an instant
    (one per thread appending at once). The worker's ``pop`` takes the lock too (off the
    caller's thread), so a trim never takes an item the worker counted on. The lock is renewed
    in a forked child, where a parent thread may have held it (one at-fork hook for every queue
    alive: ``_QUEUES``).
    """

    def __init__(self, items: Iterable[Any], limit: int, on_drop: Callable[[], None]) -> None:
        super().__init__(items)
        self.limit = limit
        self._on_drop = on_drop
        self._lock = threading.Lock()
        _QUEUES[id(self)] = self

    def _renew_lock(self) -> None:
        self._lock = threading.Lock()

    def appendleft(self, item: Any) -> None:
        super().appendleft(item)
        if len(self) > self.limit:
            self._trim()

    def _trim(self) -> None:
        """Drop the oldest items beyond ``limit``, each counted once."""
        dropped = 0
        with self._lock:
            while len(self) > self.limit:
                super().pop()
                dropped += 1
        for _ in range(dropped):
            self._on_drop()

    def pop(self) -> Any:  # type: ignore[override]  # deque.pop takes no index
        with self._lock:
            return super().pop()

    def take_all(self) -> int:
        """Empty the queue; how many items it held (what a shutdown could not deliver)."""
        with self._lock:
            n = len(self)
            self.clear()
        return n


_QUEUES: weakref.WeakValueDictionary[int, CountingQueue] = weakref.WeakValueDictionary()
"""Every counting queue alive, by id (a deque is unhashable, so no ``WeakSet``). At-fork hooks
can never be removed: one hook for all of them (below), not one per queue, which would pile
up with every configuration."""


def _renew_locks_in_child() -> None:
    for queue in list(_QUEUES.values()):
        queue._renew_lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_locks_in_child)


def count_queue_drops(processor: object, on_drop: Callable[[], None]) -> bool:
    """Call ``on_drop`` for every item the processor's full queue drops; False (nothing done)
    for another processor or without the seam."""
    batch = _batch(processor)
    if batch is None or not usable(BATCH_QUEUE):
        return False
    _count_drops(batch, on_drop)
    return True


def take_queued(processor: object) -> int:
    """Empty the queue of a batch processor whose drops are counted, so its worker exports
    none of it any more; how many items it held (0 for any other processor)."""
    queue = getattr(_batch(processor), "_queue", None)
    return queue.take_all() if isinstance(queue, CountingQueue) else 0


def _count_drops(batch: Any, on_drop: Callable[[], None]) -> None:
    queue = batch._queue
    batch._queue = CountingQueue(queue, batch._max_queue_size, on_drop)


@seam(
    BATCH_QUEUE,
    feature="the count of spans and log records a full batch queue drops",
    fallback="those drops are only logged by the SDK, not counted in otelkit.dropped",
)
def _probe_batch_queue() -> bool:
    drops: list[str] = []
    options: dict[str, Any] = {"max_queue_size": 2, "max_export_batch_size": 2}
    spans = BatchSpanProcessor(InMemorySpanExporter(), schedule_delay_millis=1e9, **options)
    logs = BatchLogRecordProcessor(
        InMemoryLogRecordExporter(),  # type: ignore[no-untyped-call]
        schedule_delay_millis=1e9,
        **options,
    )
    try:
        for processor in (spans, logs):
            batch = _batch(processor)
            _count_drops(batch, lambda: drops.append("dropped"))
            for item in ("a", "b", "c"):  # the SDK's emit, without waking its worker
                batch._queue.appendleft(item)
            kept = list(batch._queue)
            batch._queue.clear()
            if kept != ["c", "b"] or batch._max_queue_size != 2:
                return False
        return drops == ["dropped", "dropped"]
    finally:
        spans.shutdown()  # type: ignore[no-untyped-call]
        logs.shutdown()  # type: ignore[no-untyped-call]
