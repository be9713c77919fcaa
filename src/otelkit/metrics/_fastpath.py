"""otelkit's own pre-aggregating instruments for the hot path, fed to the SDK at collection time.

An OpenTelemetry SDK ``Histogram.record`` walks the measurement pipeline (measurement object,
exemplar filter, per-reader storages, attribute hashing) on every call; that is most of an HTTP
request's telemetry budget. Here a series is found once per attribute set (a dict lookup by a
small tuple the caller builds) and recording is a bisect and a few additions under the series'
own lock. When a reader collects, every series becomes an OpenTelemetry data point and is added
to what the SDK collected, in the reader's temporality: the exporters, the Prometheus exposition
and the in-memory test reader see ordinary OTel metric data.

What the SDK would do and this keeps: explicit-bucket histograms with count, sum, min and max;
cumulative and delta temporality per reader (delta min/max per interval); a cardinality limit
per instrument with overflow into ``otel.metric.overflow=true``. What it does not do: views and
exemplars do not apply to these instruments (their buckets are set by otelkit's settings).
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Hashable, Mapping, MutableSequence
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry.sdk.metrics._internal.instrument import (
    _Counter,
    _Histogram,
    _UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.util.types import Attributes

__all__ = ["REGISTRY", "FastHistogram", "FastSum", "Registry", "Store"]

DEFAULT_CARDINALITY_LIMIT = 2000
OVERFLOW_ATTRIBUTES: Mapping[str, Any] = {"otel.metric.overflow": True}
_OVERFLOW_KEY = object()
_INF = float("inf")

AttributesArg = Mapping[str, Any] | Callable[[], Mapping[str, Any]]


def integral(value: float) -> float:
    """A memory-mapped cell holds doubles: whole numbers go back to ``int`` (counts stay
    integers for exporters that tell them apart, as OTLP does)."""
    return int(value) if type(value) is float and value.is_integer() else value


def _zero_histogram(bounds: int) -> list[float]:
    """Count, sum, then one count per bucket (``bounds + 1`` of them)."""
    return [0, 0.0] + [0] * (bounds + 1)


class _HistogramSeries:
    """One attribute set of a histogram.

    ``cells`` holds count, sum and the bucket counts: a list in this process, or a view into
    the process's memory-mapped file under a pre-fork server (``otelkit._multiprocess``), where
    other processes read it. Min and max stay per process (the Prometheus exposition has none).
    """

    __slots__ = (
        "attributes",
        "bounds",
        "cells",
        "interval_max",
        "interval_min",
        "lock",
        "max",
        "min",
        "start_ns",
    )

    def __init__(self, attributes: Attributes, bounds: tuple[float, ...], slots: int) -> None:
        self.attributes = attributes
        self.bounds = bounds
        self.cells: MutableSequence[float] = _zero_histogram(len(bounds))
        self.min = _INF
        self.max = -_INF
        # Per delta reader: min and max since that reader last collected.
        self.interval_min = [_INF] * slots
        self.interval_max = [-_INF] * slots
        self.lock = threading.Lock()
        self.start_ns = time.time_ns()

    def record(self, value: float) -> None:
        index = bisect_left(self.bounds, value) + 2
        with self.lock:
            cells = self.cells
            cells[0] += 1
            cells[1] += value
            cells[index] += 1
            if value < self.min:
                self.min = value
            if value > self.max:
                self.max = value
            for slot in range(len(self.interval_min)):
                if value < self.interval_min[slot]:
                    self.interval_min[slot] = value
                if value > self.interval_max[slot]:
                    self.interval_max[slot] = value

    @property
    def count(self) -> int:
        return int(self.cells[0])

    def read(self) -> tuple[list[int], float, int]:
        """Bucket counts, sum and count (call with ``lock`` held)."""
        cells = self.cells
        return [int(c) for c in cells[2:]], cells[1], int(cells[0])

    def reset(self) -> None:
        """Start from zero, in memory, with a new lock (in a forked child)."""
        self.lock = threading.Lock()
        self.cells = _zero_histogram(len(self.bounds))
        self.min, self.max = _INF, -_INF
        self.interval_min = [_INF] * len(self.interval_min)
        self.interval_max = [-_INF] * len(self.interval_max)
        self.start_ns = time.time_ns()

    def add_slot(self) -> None:
        with self.lock:
            self.interval_min.append(_INF)
            self.interval_max.append(-_INF)


class _SumSeries:
    """One attribute set of a counter or up-down counter; ``cells[0]`` is its value."""

    __slots__ = ("attributes", "cells", "lock", "start_ns")

    def __init__(self, attributes: Attributes) -> None:
        self.attributes = attributes
        self.cells: MutableSequence[float] = [0]
        self.lock = threading.Lock()
        self.start_ns = time.time_ns()

    def add(self, amount: float) -> None:
        with self.lock:
            self.cells[0] += amount

    @property
    def value(self) -> float:
        return self.cells[0]

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.cells = [0]
        self.start_ns = time.time_ns()


class Store(Protocol):
    """Where series keep their values when processes share them (``otelkit._multiprocess``)."""

    def allocate(
        self, instrument: _Instrument, attributes: Attributes, size: int
    ) -> MutableSequence[float]:
        """Zeroed storage for ``size`` numbers of one series of ``instrument``."""
        ...


def _allocated(
    store: Store, instrument: _Instrument, attributes: Attributes, cells: MutableSequence[float]
) -> MutableSequence[float]:
    """Cells in ``store``; if that fails (a full disk), the series stays in memory: left out
    of the other processes' scrapes, but no measurement is lost or raises."""
    try:
        return store.allocate(instrument, attributes, len(cells))
    except Exception as exc:
        from otelkit._errors import record_internal_error

        record_internal_error("multi-process store", exc)
        return cells


class _Instrument:
    """Series by key, created on first use, at most ``limit - 1`` plus the overflow series."""

    sdk_class: type

    def __init__(
        self,
        name: str,
        unit: str,
        description: str,
        scope: InstrumentationScope,
        limit: int,
    ) -> None:
        self.name = name
        self.unit = unit
        self.description = description
        self.scope = scope
        self.limit = limit
        self._series: dict[Hashable, Any] = {}
        self._create_lock = threading.Lock()
        self.transient = False
        self.store: Store | None = None

    def _new_series(self, attributes: Attributes) -> Any:
        raise NotImplementedError

    def _series_for(self, key: Hashable, attributes: AttributesArg) -> Any:
        series = self._series.get(key)
        if series is not None:
            return series
        with self._create_lock:
            series = self._series.get(key)
            if series is not None:
                return series
            if len(self._series) >= self.limit - 1:
                key, attributes = _OVERFLOW_KEY, OVERFLOW_ATTRIBUTES
                series = self._series.get(key)
                if series is not None:
                    return series
            resolved = attributes() if callable(attributes) else attributes
            series = self._new_series(dict(resolved))
            if self.store is not None:
                series.cells = _allocated(self.store, self, series.attributes, series.cells)
            self._series[key] = series
            return series

    def all_series(self) -> list[Any]:
        return list(self._series.values())

    def collect(self, state: _ReaderState, now: int) -> Metric | None:
        """This instrument as one OTel metric, in the reader's temporality; None if empty."""
        delta = state.is_delta(self)
        points = self._points(state, now, delta)
        if not points:
            return None
        temporality = AggregationTemporality.DELTA if delta else AggregationTemporality.CUMULATIVE
        return Metric(
            name=self.name,
            description=self.description,
            unit=self.unit,
            data=self._data(points, temporality),
        )

    def _points(self, state: _ReaderState, now: int, delta: bool) -> list[Any]:
        raise NotImplementedError

    def _data(self, points: list[Any], temporality: AggregationTemporality) -> Any:
        raise NotImplementedError

    def reset(self) -> None:
        with self._create_lock:
            self._series = {}

    def use_store(self, store: Store | None) -> None:
        """Move every series' values into ``store`` (None: back into this process's memory)."""
        with self._create_lock:
            self.store = store
            for series in self._series.values():
                with series.lock:
                    old = series.cells
                    new: MutableSequence[float] = [0] * len(old)
                    if store is not None:
                        new = _allocated(store, self, series.attributes, new)
                    for index, value in enumerate(old):
                        new[index] = value
                    series.cells = new

    def reset_after_fork(self, store: Store | None) -> None:
        """In a forked child: every series from zero, in ``store`` or in memory; new locks.

        The series objects stay (instrumentations hold on to some of them); what the parent
        recorded before the fork stays the parent's.
        """
        self._create_lock = threading.Lock()
        self.store = store
        for series in self._series.values():
            series.reset()
            if store is not None:
                series.cells = _allocated(store, self, series.attributes, series.cells)


class FastHistogram(_Instrument):
    """An explicit-bucket histogram; ``record(key, attributes, value)`` on the hot path."""

    sdk_class = _Histogram

    def __init__(
        self,
        name: str,
        unit: str,
        description: str,
        scope: InstrumentationScope,
        boundaries: tuple[float, ...],
        limit: int = DEFAULT_CARDINALITY_LIMIT,
    ) -> None:
        super().__init__(name, unit, description, scope, limit)
        self.boundaries = tuple(float(b) for b in boundaries)
        self.slots = 0

    def _new_series(self, attributes: Attributes) -> _HistogramSeries:
        return _HistogramSeries(attributes, self.boundaries, self.slots)

    def series(self, key: Hashable, attributes: AttributesArg) -> _HistogramSeries:
        """The series for ``key``; ``attributes`` (or a function giving them) is used once."""
        series: _HistogramSeries = self._series_for(key, attributes)
        return series

    def record(self, key: Hashable, attributes: AttributesArg, value: float) -> None:
        self._series_for(key, attributes).record(value)

    def _points(self, state: _ReaderState, now: int, delta: bool) -> list[Any]:
        slot = state.slots.get(id(self), -1)
        points = []
        for series in self.all_series():
            with series.lock:
                counts, total, count = series.read()
                low, high = series.min, series.max
                if delta and slot >= 0:
                    low, high = series.interval_min[slot], series.interval_max[slot]
                    series.interval_min[slot], series.interval_max[slot] = _INF, -_INF
            start = series.start_ns
            if delta:
                previous = state.previous.get(id(series))
                state.previous[id(series)] = (counts, total, count)
                if previous is not None:
                    counts = [a - b for a, b in zip(counts, previous[0], strict=True)]
                    total, count = total - previous[1], count - previous[2]
                    start = state.last_ns
                if count == 0:
                    continue
            points.append(
                HistogramDataPoint(
                    attributes=series.attributes,
                    start_time_unix_nano=start,
                    time_unix_nano=now,
                    count=count,
                    sum=total,
                    bucket_counts=counts,
                    explicit_bounds=list(self.boundaries),
                    min=low,
                    max=high,
                    exemplars=[],
                )
            )
        return points

    def _data(self, points: list[Any], temporality: AggregationTemporality) -> Histogram:
        return Histogram(data_points=points, aggregation_temporality=temporality)

    def add_slot(self) -> int:
        with self._create_lock:
            slot = self.slots
            self.slots += 1
            for series in self._series.values():
                series.add_slot()
        return slot


class FastSum(_Instrument):
    """A counter (monotonic) or up-down counter."""

    def __init__(
        self,
        name: str,
        unit: str,
        description: str,
        scope: InstrumentationScope,
        monotonic: bool,
        limit: int = DEFAULT_CARDINALITY_LIMIT,
    ) -> None:
        super().__init__(name, unit, description, scope, limit)
        self.monotonic = monotonic
        self.sdk_class = _Counter if monotonic else _UpDownCounter

    def _new_series(self, attributes: Attributes) -> _SumSeries:
        return _SumSeries(attributes)

    def series(self, key: Hashable, attributes: AttributesArg) -> _SumSeries:
        series: _SumSeries = self._series_for(key, attributes)
        return series

    def add(self, key: Hashable, attributes: AttributesArg, amount: float) -> None:
        self._series_for(key, attributes).add(amount)

    def _points(self, state: _ReaderState, now: int, delta: bool) -> list[Any]:
        points = []
        for series in self.all_series():
            with series.lock:
                value = integral(series.cells[0])
            start = series.start_ns
            if delta:
                previous = state.previous.get(id(series))
                state.previous[id(series)] = (value,)
                if previous is not None:
                    value -= previous[0]
                    start = state.last_ns
                if value == 0 and previous is not None:
                    continue
            points.append(
                NumberDataPoint(
                    attributes=series.attributes,
                    start_time_unix_nano=start,
                    time_unix_nano=now,
                    value=value,
                    exemplars=[],
                )
            )
        return points

    def _data(self, points: list[Any], temporality: AggregationTemporality) -> Sum:
        return Sum(
            data_points=points, aggregation_temporality=temporality, is_monotonic=self.monotonic
        )


class _ReaderState:
    """What one reader has already seen, to compute its deltas."""

    def __init__(self, reader: MetricReader) -> None:
        # The reader's temporality per SDK instrument class; the SDK keeps it on the reader.
        self.temporality: Mapping[Any, AggregationTemporality] = (
            reader._instrument_class_temporality
        )
        self.last_ns = time.time_ns()
        self.previous: dict[int, tuple[Any, ...]] = {}
        self.slots: dict[int, int] = {}  # id(histogram) -> interval slot

    def is_delta(self, instrument: _Instrument) -> bool:
        return self.temporality.get(instrument.sdk_class) == AggregationTemporality.DELTA


class Registry:
    """All fast instruments of the process, by name, and the readers they feed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._instruments: dict[str, _Instrument] = {}
        self._readers: dict[int, _ReaderState] = {}
        self._resource: Resource | None = None
        self._store: Store | None = None
        self.collecting = threading.RLock()
        """Held around every collection of every reader; a fork waits for it (``_fork``), so
        that no lock of the collection path is taken in the parent at the moment of the fork."""

    def histogram(
        self,
        name: str,
        *,
        unit: str,
        description: str,
        scope: InstrumentationScope,
        boundaries: tuple[float, ...],
        transient: bool = False,
    ) -> FastHistogram:
        """The histogram of this name, created on first request (same name → same object).

        A ``transient`` instrument belongs to one configuration (the HTTP metrics, whose buckets
        come from the settings) and is forgotten at ``detach()``; the others (the user's
        business metrics, declared at import) live as long as the process.
        """
        with self._lock:
            existing = self._instruments.get(name)
            if isinstance(existing, FastHistogram) and existing.boundaries == tuple(
                float(b) for b in boundaries
            ):
                return existing
            if existing is not None:
                raise ValueError(f"instrument {name!r} already exists with another definition")
            instrument = FastHistogram(name, unit, description, scope, boundaries)
            instrument.transient = transient
            instrument.store = self._store
            for state in self._readers.values():
                if state.is_delta(instrument):
                    state.slots[id(instrument)] = instrument.add_slot()
            self._instruments[name] = instrument
            return instrument

    def sum(
        self,
        name: str,
        *,
        unit: str,
        description: str,
        scope: InstrumentationScope,
        monotonic: bool,
        transient: bool = False,
    ) -> FastSum:
        with self._lock:
            existing = self._instruments.get(name)
            if isinstance(existing, FastSum) and existing.monotonic == monotonic:
                return existing
            if existing is not None:
                raise ValueError(f"instrument {name!r} already exists with another definition")
            instrument = FastSum(name, unit, description, scope, monotonic)
            instrument.transient = transient
            instrument.store = self._store
            self._instruments[name] = instrument
            return instrument

    @property
    def store(self) -> Store | None:
        return self._store

    def use_store(self, store: Store | None) -> None:
        """Keep every series' values in ``store`` from now on, carrying over what they hold."""
        with self._lock:
            self._store = store
            instruments = list(self._instruments.values())
        for instrument in instruments:
            instrument.use_store(store)

    def set_resource(self, resource: Resource) -> None:
        self._resource = resource

    def reset_after_fork(self, store: Store | None) -> None:
        """In a forked child: start every series from zero (in ``store``) and forget deltas.

        Runs in the child's only thread, before anything else records: locks another thread
        of the parent held at the fork are replaced, not waited for.
        """
        self._lock = threading.Lock()
        self._store = store
        for instrument in self._instruments.values():
            instrument.reset_after_fork(store)
        now = time.time_ns()
        for state in self._readers.values():
            state.previous.clear()
            state.last_ns = now

    def has(self, name: str) -> bool:
        with self._lock:
            return name in self._instruments

    def attach(self, readers: list[MetricReader], resource: Resource) -> None:
        """Add the fast instruments to every collection of these readers (after the SDK's)."""
        with self._lock:
            self._resource = resource
            for reader in readers:
                state = _ReaderState(reader)
                for instrument in self._instruments.values():
                    if isinstance(instrument, FastHistogram) and state.is_delta(instrument):
                        state.slots[id(instrument)] = instrument.add_slot()
                self._readers[id(reader)] = state
                original: Any = reader._collect
                wrapped: Any = self._wrap(original, state)
                reader._set_collect_callback(wrapped)

    def detach(self) -> None:
        """Forget the readers and every recorded value (a new configuration starts from zero)."""
        with self._lock:
            self._readers.clear()
            self._resource = None
            self._store = None
            self._instruments = {
                name: instrument
                for name, instrument in self._instruments.items()
                if not instrument.transient
            }
            for instrument in self._instruments.values():
                instrument.reset()
                instrument.store = None
                if isinstance(instrument, FastHistogram):
                    instrument.slots = 0

    def _wrap(
        self, original: Callable[..., MetricsData | None] | None, state: _ReaderState
    ) -> Callable[..., MetricsData | None]:
        def collect(reader: MetricReader, timeout_millis: float = 10_000) -> MetricsData | None:
            with self.collecting:
                data = original(reader, timeout_millis=timeout_millis) if original else None
                if not getattr(reader, "merges_fast_path", True):
                    return data  # it reads the fast instruments elsewhere (the pre-fork files)
                return self._merge(data, self._collect(state))

        return collect

    def _collect(self, state: _ReaderState) -> list[ScopeMetrics]:
        now = time.time_ns()
        by_scope: dict[InstrumentationScope, list[Metric]] = {}
        with self._lock:
            instruments = list(self._instruments.values())
        for instrument in instruments:
            metric = instrument.collect(state, now)
            if metric is not None:
                by_scope.setdefault(instrument.scope, []).append(metric)
        state.last_ns = now
        return [
            ScopeMetrics(scope=scope, metrics=metrics, schema_url=scope.schema_url or "")
            for scope, metrics in by_scope.items()
        ]

    def _merge(self, data: MetricsData | None, scopes: list[ScopeMetrics]) -> MetricsData | None:
        if not scopes:
            return data
        if data is None or not data.resource_metrics:
            assert self._resource is not None
            return MetricsData(
                resource_metrics=[
                    ResourceMetrics(resource=self._resource, scope_metrics=scopes, schema_url="")
                ]
            )
        first, *rest = data.resource_metrics
        merged = ResourceMetrics(
            resource=first.resource,
            scope_metrics=[*first.scope_metrics, *scopes],
            schema_url=first.schema_url,
        )
        return MetricsData(resource_metrics=[merged, *rest])


REGISTRY = Registry()
