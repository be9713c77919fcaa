"""Every private OpenTelemetry SDK attribute otelkit touches, in one place, probed at start-up.

The SDK's public API cannot feed pre-aggregated data into a reader, reset its aggregates in a
forked child or hand a span to the provider's processors without building an SDK span. otelkit
does these through private attributes (the seams below). A seam is probed once, at
``init_telemetry()``: when an SDK release renamed or reshaped it, the feature that needs it
switches to the plain public SDK path (slower, never wrong) and one WARNING names the SDK version
and the feature. Nothing outside this module reads a private SDK attribute.

Each seam is declared with ``Seam(name, feature, fallback, probe)``; ``probe_all()`` runs the
probes and ``usable(name)`` tells a feature whether its seam passed.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ConsoleMetricExporter,
    InMemoryMetricReader,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.version import __version__ as SDK_VERSION  # noqa: N812

logger = logging.getLogger("otelkit")


@dataclass(frozen=True)
class Seam:
    """One private SDK attribute (or a group used together) and what depends on it."""

    name: str
    feature: str
    """What uses it, as the WARNING names it."""
    fallback: str
    """What happens instead when the probe fails."""
    probe: Callable[[], bool]
    """True when the seam has the shape otelkit relies on; must not raise (a raise is a fail)."""


SEAMS: dict[str, Seam] = {}
_usable: dict[str, bool] = {}
"""The last probe's results; replaced whole, never emptied (a concurrent ``usable()``)."""
_warned: set[str] = set()
"""The failed seams already warned about in this process (until one passes again)."""


def seam(name: str, *, feature: str, fallback: str) -> Callable[[Callable[[], bool]], Seam]:
    """Declare a seam; the decorated function is its probe."""

    def declare(probe: Callable[[], bool]) -> Seam:
        declared = Seam(name, feature, fallback, probe)
        SEAMS[name] = declared
        return declared

    return declare


def probe_all() -> dict[str, bool]:
    """Probe every seam (at ``init_telemetry()``); one WARNING per seam that fails, unless
    this process already warned about it (a failure first found by ``usable()`` included)."""
    global _usable
    results = {declared.name: _passes(declared) for declared in SEAMS.values()}
    _usable = dict(results)  # one assignment: usable() sees the old results or the new
    for declared in SEAMS.values():
        if results[declared.name]:
            _warned.discard(declared.name)
        elif declared.name not in _warned:
            _warned.add(declared.name)
            logger.warning(
                "otelkit: opentelemetry-sdk %s changed an internal that %s relies on (%s); %s",
                SDK_VERSION,
                declared.feature,
                declared.name,
                declared.fallback,
            )
    return results


def usable(name: str) -> bool:
    """Whether the seam passed its last probe (probed on first ask before ``probe_all()``)."""
    table = _usable
    ok = table.get(name)
    if ok is None:
        table[name] = ok = _passes(SEAMS[name])
    return ok


def _passes(declared: Seam) -> bool:
    try:
        return bool(declared.probe())
    except Exception:  # a probe that raises is a fail; DEBUG shows why
        logger.debug("otelkit: probe of %s failed", declared.name, exc_info=True)
        return False


# -- probing helpers ---------------------------------------------------------------------------


@contextmanager
def _throwaway_provider(*readers: MetricReader) -> Iterator[MeterProvider]:
    """A MeterProvider of the probe's own, shut down afterwards (no exporter, no thread)."""
    provider = MeterProvider(list(readers), resource=Resource.get_empty(), shutdown_on_exit=False)
    try:
        yield provider
    finally:
        provider.shutdown()


def _points(data: MetricsData | None, name: str) -> list[Any]:
    """The points of metric ``name`` in one collection."""
    found = data.resource_metrics if data is not None else []
    metrics = [m for rm in found for sm in rm.scope_metrics for m in sm.metrics if m.name == name]
    return [point for m in metrics for point in m.data.data_points]


def _values(data: MetricsData | None, name: str) -> list[Any]:
    return [getattr(point, "value", None) for point in _points(data, name)]


def _renew_lock(owner: object, attribute: str, factory: Callable[[], object]) -> None:
    """Replace a lock a parent thread may have held at the fork; the attribute must exist
    (setting a new one would leave the SDK on the old lock and look like success)."""
    fresh = factory()
    if type(getattr(owner, attribute)) is not type(fresh):
        raise TypeError(f"{type(owner).__name__}.{attribute} is not a {type(fresh).__name__}")
    setattr(owner, attribute, fresh)


# --- metrics: the reader's collect callback (fast path) ---------------------------------------
_FAST_PATH = "otelkit's fast metric instruments (HTTP, Celery, SQLAlchemy, business metrics)"
_FAST_FALLBACK = "they record through ordinary SDK instruments instead (exact, slower)"
CollectFn = Callable[..., MetricsData | None]
"""What a MeterProvider gives a reader to collect with: ``fn(reader, timeout_millis=...)``."""
COLLECT_CALLBACK = "metrics.collect_callback"


def hook_collect(reader: MetricReader, hook: Callable[[CollectFn | None], CollectFn]) -> None:
    """Replace the reader's collect callback by ``hook(current callback)``: how the fast path
    adds its series to every collection of that reader."""
    current: Any = reader._collect
    replacement: Any = hook(current)
    reader._set_collect_callback(replacement)


def reader_registered(reader: MetricReader) -> bool:
    """Whether a MeterProvider registered the reader (without the seam: assumed)."""
    return not usable(COLLECT_CALLBACK) or reader._collect is not None


@seam(COLLECT_CALLBACK, feature=_FAST_PATH, fallback=_FAST_FALLBACK)
def _probe_collect_callback() -> bool:
    reader, seen = InMemoryMetricReader(), []
    unregistered = reader._collect is None

    def hook(original: CollectFn | None) -> CollectFn:
        def collect(target: MetricReader, **kwargs: Any) -> MetricsData | None:
            seen.append(target)
            return original(target, **kwargs) if original else None

        return collect

    with _throwaway_provider(reader) as provider:
        provider.get_meter("otelkit.probe").create_counter("otelkit.probe").add(2)
        hook_collect(reader, hook)
        data = reader.get_metrics_data()
    return unregistered and seen == [reader] and _values(data, "otelkit.probe") == [2]


# --- metrics: a reader's temporality per instrument kind (fast path) ---------------------------
READER_TEMPORALITY = "metrics.reader_temporality"


def _instrument_classes() -> dict[str, type]:
    """The SDK's classes of the instruments a meter creates, by fast instrument kind."""
    from opentelemetry.sdk.metrics._internal import instrument

    kinds = {"counter": "_Counter", "up_down_counter": "_UpDownCounter", "histogram": "_Histogram"}
    return {kind: getattr(instrument, name) for kind, name in kinds.items()}


def reader_temporality(reader: MetricReader) -> dict[str, AggregationTemporality]:
    """The reader's aggregation temporality for each fast instrument kind."""
    table: Mapping[Any, AggregationTemporality] = reader._instrument_class_temporality
    return {kind: table[cls] for kind, cls in _instrument_classes().items()}


@seam(READER_TEMPORALITY, feature=_FAST_PATH, fallback=_FAST_FALLBACK)
def _probe_reader_temporality() -> bool:
    delta, cumulative = AggregationTemporality.DELTA, AggregationTemporality.CUMULATIVE
    reader = InMemoryMetricReader(preferred_temporality={Counter: delta, Histogram: delta})
    with _throwaway_provider(reader) as provider:
        meter = provider.get_meter("otelkit.probe")
        created = [meter.create_counter("c"), meter.create_up_down_counter("u")]
        created.append(meter.create_histogram("h"))
    classes = list(_instrument_classes().values())
    expected = {"counter": delta, "up_down_counter": cumulative, "histogram": delta}
    return [type(i) for i in created] == classes and reader_temporality(reader) == expected


# --- metrics: the SDK's aggregates, cleared in a forked child ----------------------------------
CLEAR_AGGREGATES = "metrics.clear_aggregates"


def clear_metric_aggregates(provider: MeterProvider) -> None:
    """Drop every aggregate the SDK holds for every reader and renew the locks on the way
    (in a forked child: what the parent recorded stays the parent's)."""
    consumer = provider._measurement_consumer
    _renew_lock(consumer, "_lock", threading.Lock)
    for storage in consumer._reader_storages.values():
        _renew_lock(storage, "_lock", threading.RLock)
        for matches in storage._instrument_view_instrument_matches.values():
            for match in matches:
                _renew_lock(match, "_lock", threading.Lock)
                if not isinstance(match._attributes_aggregation, dict):
                    raise TypeError("_ViewInstrumentMatch._attributes_aggregation is not a dict")
                match._attributes_aggregation = {}
                # SDK 1.45.2 starts a new delta aggregate where the last collection began
                # (earlier releases have no such attribute). Never assigned blindly: a renamed
                # one would leave the parent's start time; the probe checks the start time.
                if "_previous_collection_start_nanos" in vars(match):
                    match._previous_collection_start_nanos = None


@seam(
    CLEAR_AGGREGATES,
    feature="the reset of SDK metrics in a forked child",
    fallback="a forked child exports no SDK metrics (never its parent's counts again); "
    "otelkit's fast instruments still export, under the child's service.instance.id",
)
def _probe_clear_aggregates() -> bool:
    delta: dict[type, AggregationTemporality] = {Counter: AggregationTemporality.DELTA}
    readers = [InMemoryMetricReader(), InMemoryMetricReader(preferred_temporality=delta)]
    with _throwaway_provider(*readers) as provider:
        counter = provider.get_meter("otelkit.probe").create_counter("otelkit.probe")
        counter.add(4, {"k": "v"})
        readers[1].get_metrics_data()  # a delta collection: the SDK notes when it began
        cleared_at = time.time_ns()
        clear_metric_aggregates(provider)
        counter.add(1, {"k": "v"})
        data = [reader.get_metrics_data() for reader in readers]
    totals = [_values(collected, "otelkit.probe") for collected in data]
    starts = [point.start_time_unix_nano for point in _points(data[1], "otelkit.probe")]
    return totals == [[1], [1]] and len(starts) == 1 and starts[0] >= cleared_at


# --- metrics: the periodic reader's export lock, renewed in a forked child ---------------------
EXPORT_LOCK = "metrics.export_lock"


def renew_export_lock(reader: MetricReader) -> None:
    """The periodic reader restarts its thread in a child but keeps this lock, which an export
    of the parent (to a slow collector) may have held at the fork."""
    if isinstance(reader, PeriodicExportingMetricReader):
        _renew_lock(reader, "_export_lock", threading.Lock)


@seam(
    EXPORT_LOCK,
    feature="the periodic metric reader in a forked child",
    fallback="its export lock is left as inherited (a child forked during an export of its "
    "parent may not export)",
)
def _probe_export_lock() -> bool:
    reader = PeriodicExportingMetricReader(ConsoleMetricExporter(), math.inf)  # no thread
    before = reader._export_lock
    renew_export_lock(reader)
    reader.shutdown()
    return reader._export_lock is not before


# --- resource: the providers' resource, renewed in a forked child ------------------------------
UPDATE_RESOURCE = "resource.update"


def update_resource(
    provider: MeterProvider | TracerProvider | LoggerProvider, update: Resource
) -> Resource:
    """Merge ``update`` into the provider's resource (as the SDK's own fork hooks merge the
    process-dependent detectors); return the provider's new resource."""
    provider._update_resource(update)
    if isinstance(provider, MeterProvider):
        return provider._sdk_config.resource
    return provider.resource


@seam(
    UPDATE_RESOURCE,
    feature="the resource (service.instance.id, process.pid) of a forked child",
    fallback="a forked child exports no SDK metrics, spans or logs (they would carry the "
    "parent's identity); otelkit's fast instruments export under the child's",
)
def _probe_update_resource() -> bool:
    update, expected = Resource({"child": 2}), {"parent": 1, "child": 2}
    reader = InMemoryMetricReader()
    with _throwaway_provider(reader) as meter_provider:
        meter_provider.get_meter("otelkit.probe").create_counter("otelkit.probe").add(1)
        update_resource(meter_provider, Resource({"parent": 1}))
        resources = [update_resource(meter_provider, update)]
        data = reader.get_metrics_data()
    resources.extend(rm.resource for rm in (data.resource_metrics if data else []))
    for other in (TracerProvider, LoggerProvider):
        provider = other(resource=Resource({"parent": 1}), shutdown_on_exit=False)
        resources.append(update_resource(provider, update))
        provider.shutdown()
    return len(resources) == 4 and all(dict(r.attributes) == expected for r in resources)


# --- tracing: the provider's processors and limits, for light spans ---------------------------

SPAN_PROCESSOR = "tracing.span_processor"
SPAN_LIMITS = "tracing.span_limits"


def active_span_processor(provider: TracerProvider) -> SpanProcessor | None:
    """The provider's composite processor (every processor added to it), or None without the
    seam: otelkit then starts SDK spans instead of light ones."""
    return provider._active_span_processor if usable(SPAN_PROCESSOR) else None


def span_limits(provider: TracerProvider) -> SpanLimits:
    """The provider's span limits; without the seam ``SpanLimits()``, read from the environment
    as the provider read them (otelkit's pipeline gives it no limits of its own)."""
    if usable(SPAN_LIMITS):
        limits: SpanLimits = provider._span_limits
        return limits
    return SpanLimits()


def _probe_tracer_provider(**given: int) -> TracerProvider:
    """A provider of the probe's own that reads nothing from the environment: the limits
    ``given`` (``events=3``), the others unlimited."""
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON

    names = "attributes events links span_attributes event_attributes link_attributes"
    names += " attribute_length span_attribute_length"
    limits = {f"max_{name}": given.get(name, SpanLimits.UNSET) for name in names.split()}
    return TracerProvider(
        ALWAYS_ON, Resource.get_empty(), shutdown_on_exit=False, span_limits=SpanLimits(**limits)
    )


@seam(
    SPAN_PROCESSOR,
    feature="otelkit's light spans (HTTP, Celery, SQLAlchemy)",
    fallback="these spans are ordinary SDK spans instead (the same spans, slower)",
)
def _probe_span_processor() -> bool:
    from opentelemetry.sdk.trace import ReadableSpan

    ended: list[ReadableSpan] = []

    class Seen(SpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            ended.append(span)

    provider = _probe_tracer_provider()
    try:
        provider.add_span_processor(Seen())
        processor: object = provider._active_span_processor
        span = ReadableSpan("otelkit.probe")
        if not isinstance(processor, SpanProcessor) or not callable(processor.on_start):
            return False
        processor.on_end(span)
        return ended == [span]
    finally:
        provider.shutdown()


@seam(
    SPAN_LIMITS,
    feature="the span limits of otelkit's light spans",
    fallback="light spans read the limits from the environment (OTEL_*_LIMIT), as the SDK does",
)
def _probe_span_limits() -> bool:
    provider = _probe_tracer_provider(events=3, span_attribute_length=5)
    try:
        limits = provider._span_limits
        return limits.max_events == 3 and limits.max_span_attribute_length == 5
    finally:
        provider.shutdown()
