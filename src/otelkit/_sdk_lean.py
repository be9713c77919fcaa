"""The lean end of an otelkit light span: queued as it is, made readable on the export thread.

Ending a light span through the provider's processors costs the request a ``ReadableSpan``
built from a dozen fields, the composite processor's loop, the batch processor's ``on_end`` and
``emit`` (a shutdown test, a ``getpid`` for fork detection, two length checks). When every
processor of the provider is a batch span processor otelkit built (``runtime._processors``
registers each with ``register``), nobody can observe those steps on the request's thread: a
``BatchSpanProcessor`` does nothing in ``on_start``, and what it exports is what reaches its
queue. So the ended ``LightSpan`` itself is appended to each queue (the counting queue's own
append: drops stay exactly counted), the export thread is woken only when a batch is full, as
the SDK wakes it, and ``ReadableSpans`` (the exporter behind such a processor) turns each light
span into the very ``ReadableSpan`` the processors would have seen, right before the export.

Fork safety: the SDK's batch processor renews its queue, thread and event in a forked child
through ``os.register_at_fork``; its per-span ``getpid`` only backs up platforms without it, and
those never go lean. A provider with any other processor (the user's, a simple processor, the
SDK's own processor metrics switched on) gets the full ``on_start``/``on_end`` path.

Private SDK attributes read here (probed by ``register`` on each processor and by the span
factory on the provider's composite processor; without them nothing goes lean, and spans take
the SDK's ``on_end`` path):
``BatchSpanProcessor._batch_processor`` and its ``_queue``, ``_shutdown``,
``_max_export_batch_size``, ``_worker_awaken`` and ``_metrics``;
``SynchronousMultiSpanProcessor._span_processors``.
"""

from __future__ import annotations

import inspect
import operator
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry.sdk.trace import ReadableSpan, SynchronousMultiSpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from otelkit._sdk_export import CountingQueue

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from opentelemetry.sdk.trace import SpanProcessor


class Queued(Protocol):
    """What is queued instead of a ``ReadableSpan``: an ended span that can become one
    (``tracing._light.LightSpan``)."""

    def readable(self) -> ReadableSpan: ...


__all__ = ["Queued", "ReadableSpans", "Sink", "register", "sinks_of"]

try:  # the SDK's processor metrics, switched off (the default): nothing counted in ``emit``
    from opentelemetry.sdk._shared_internal._processor_metrics import (
        NoOpProcessorMetrics as _NoMetrics,
    )
except ImportError:  # another SDK layout: no processor goes lean
    _NoMetrics = None  # type: ignore[assignment, misc]


class Sink:
    """One registered batch span processor: where a light span is queued as it ends."""

    __slots__ = ("_batch",)

    def __init__(self, batch: Any) -> None:
        self._batch = batch
        """The processor's ``BatchProcessor`` (not the processor: the registry's weak key)."""

    def put(self, span: Queued) -> None:
        """``on_end`` + ``emit`` of the SDK for a sampled span, minus what nobody observes."""
        batch = self._batch
        if batch._shutdown:  # the SDK's own refusal: logged and counted as it does
            batch.emit(span.readable())
            return
        queue = batch._queue  # read each time: renewed in place after a fork
        queue.appendleft(span)
        if len(queue) >= batch._max_export_batch_size:
            awaken = batch._worker_awaken  # a new Event after a fork
            if not awaken.is_set():
                awaken.set()


_SINKS: weakref.WeakKeyDictionary[SpanProcessor, Sink] = weakref.WeakKeyDictionary()


def register(processor: SpanProcessor) -> bool:
    """Let light spans be queued straight into ``processor`` (a ``BatchSpanProcessor`` whose
    exporter is a ``ReadableSpans`` and whose queue counts its drops, ``_sdk_export``); False,
    and nothing done, when that would be observable or the SDK's batch processor is not shaped
    as this module expects."""
    if type(processor) is not BatchSpanProcessor or not hasattr(os, "register_at_fork"):
        return False
    batch = getattr(processor, "_batch_processor", None)
    if not (
        isinstance(getattr(batch, "_exporter", None), ReadableSpans)
        # a full queue drops and counts in its own append: nothing of ``emit`` is missed
        and isinstance(getattr(batch, "_queue", None), CountingQueue)
        and getattr(batch, "_shutdown", None) is False
        and isinstance(getattr(batch, "_max_export_batch_size", None), int)
        and isinstance(getattr(batch, "_worker_awaken", None), threading.Event)
        # the SDK's processor metrics count on emit; switched on, emit must run
        and _NoMetrics is not None
        and type(getattr(batch, "_metrics", None)) is _NoMetrics
        and callable(getattr(batch, "emit", None))
    ):
        return False
    _SINKS[processor] = Sink(batch)
    return True


current_processors: Callable[[object], tuple[SpanProcessor, ...]] = operator.attrgetter(
    "_span_processors"
)
"""The processors of a composite ``processors_of`` accepted, read per span (a C call)."""


def processors_of(composite: object) -> tuple[SpanProcessor, ...] | None:
    """The processors of the provider's composite processor, None when it is not the SDK's
    synchronous one (or no longer has them where this module reads them)."""
    if type(composite) is not SynchronousMultiSpanProcessor:
        return None
    processors = getattr(composite, "_span_processors", None)
    return processors if isinstance(processors, tuple) else None


def sinks_of(processors: tuple[SpanProcessor, ...]) -> tuple[Sink, ...] | None:
    """A sink for each processor when all are registered, else None (the full path)."""
    sinks = []
    for processor in processors:
        sink = _SINKS.get(processor)
        if sink is None:
            return None
        sinks.append(sink)
    return tuple(sinks)


class ReadableSpans(SpanExporter):
    """The exporter of a registered processor: light spans become ``ReadableSpan``s here, on
    the export thread, before ``inner`` sees them."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan | Queued]) -> SpanExportResult:
        """``spans`` as the batch processor queued them: light spans among SDK spans."""
        readable = [span if isinstance(span, ReadableSpan) else span.readable() for span in spans]
        return self.inner.export(readable)

    def shutdown(self, timeout_millis: float | None = None) -> None:
        """The inner exporter's, with the batch processor's remaining time when it takes one."""
        shutdown = self.inner.shutdown
        if (
            timeout_millis is not None
            and "timeout_millis" in inspect.signature(shutdown).parameters
        ):
            shutdown(timeout_millis=timeout_millis)  # type: ignore[call-arg]
        else:
            shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)
