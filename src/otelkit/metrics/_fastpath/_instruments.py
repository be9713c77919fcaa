"""Fast instruments: series by attribute set, turned into OpenTelemetry metrics on collection."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    Sum,
)

from otelkit.metrics._fastpath._aggregation import exponential_points, histogram_data
from otelkit.metrics._fastpath._drops import DROPPED, dropped
from otelkit.metrics._fastpath._exemplars import as_exemplars, kept
from otelkit.metrics._fastpath._fallback import (
    ForwardingHistogramSeries,
    ForwardingSumSeries,
    forwards,
)
from otelkit.metrics._fastpath._series import INF, _HistogramSeries, _SumSeries, integral
from otelkit.metrics._fastpath._series import _CounterSeries as _Counter
from otelkit.metrics._fastpath._store import Store, allocated, report

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.util.types import Attributes

    from otelkit.metrics._fastpath._readers import ReaderState

DEFAULT_CARDINALITY_LIMIT = 2000
OVERFLOW_ATTRIBUTES: Mapping[str, Any] = {"otel.metric.overflow": True}
_OVERFLOW_KEY = object()

AttributesArg = Mapping[str, Any] | Callable[[], Mapping[str, Any]]


class _Instrument:
    """Series by key, created on first use, at most ``limit - 1`` plus the overflow series.

    ``sink`` is None on the fast path; without the reader seam it is the SDK instrument
    every new series forwards to (``_fallback``). A ``local`` instrument (otelkit's own
    counters) never keeps its values in a ``store``: counting a store failure must not need
    the store.
    """

    kind: str
    """``histogram``, ``counter`` or ``up_down_counter``: how readers pick a temporality."""

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
        self._refused: dict[Hashable, Any] = {}
        """Keys past the limit -> the overflow series: a refused attribute set is counted once,
        and its later measurements need no lock. At most ``limit`` keys are remembered (an
        unbounded key space must not grow memory); beyond, every measurement of a further
        refused set is counted, so the count is then an upper bound."""
        self._create_lock = threading.Lock()
        self.transient = False
        self.local = False
        self.store: Store | None = None
        self.sink: Any = None

    def _new_series(self, attributes: Attributes) -> Any:
        raise NotImplementedError

    def _series_for(self, key: Hashable, attributes: AttributesArg) -> Any:
        series = self._series.get(key)
        if series is None:
            series = self._refused.get(key)
        if series is not None:
            return series
        failure = None
        with self._create_lock:
            series = self._series.get(key)
            if series is None:
                series = self._refused.get(key)
            if series is not None:
                return series
            refused = len(self._series) >= self.limit - 1
            if refused:
                series = self._series.get(_OVERFLOW_KEY)
                if series is None:
                    series, failure = self._create(_OVERFLOW_KEY, OVERFLOW_ATTRIBUTES)
                if len(self._refused) < self.limit:
                    self._refused[key] = series
            else:
                series, failure = self._create(key, attributes)
        # Outside the lock: both counts are series too, maybe of this instrument.
        report(failure)
        if refused and self.name != DROPPED:
            dropped("metrics", "cardinality_overflow")
        return series

    def _create(self, key: Hashable, attributes: AttributesArg) -> tuple[Any, Exception | None]:
        """A new series for ``key``, in the store if there is one (call with the lock held)."""
        resolved = attributes() if callable(attributes) else attributes
        series = self._new_series(dict(resolved))
        failure = None
        if self.store is not None and not self.local and not forwards(series):
            failure = allocated(self.store, self, series)
        self._series[key] = series
        return series, failure

    def all_series(self) -> list[Any]:
        return list(self._series.values())

    def collect(self, state: ReaderState, now: int) -> Metric | None:
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

    def _points(self, state: ReaderState, now: int, delta: bool) -> list[Any]:
        raise NotImplementedError

    def start_deltas(self, state: ReaderState) -> None:
        """Each series' current values as what ``state``'s reader has already seen: a reader
        added to a running provider gets only what is recorded from now on (as the SDK does)."""
        for series in self.all_series():
            with series.lock:
                state.previous[id(series)] = self._values(series)

    def _values(self, series: Any) -> tuple[Any, ...]:
        """A series' values as a delta reader remembers them (call with its lock held)."""
        raise NotImplementedError

    def _data(self, points: list[Any], temporality: AggregationTemporality) -> Any:
        raise NotImplementedError

    def forward_to(self, provider: MeterProvider) -> int:
        """From now on record through an SDK instrument of ``provider``.

        What the fast series recorded before (measurements before ``init_telemetry()``) is
        carried over for sums; a histogram's cannot be replayed exactly and is dropped: the
        number of dropped measurements is returned.
        """
        scope = self.scope
        meter = provider.get_meter(scope.name, scope.version, scope.schema_url, scope.attributes)
        with self._create_lock:
            self.sink = self._create_sdk_instrument_with(meter)
            previous, self._series = self._series, {}
            self._refused = {}
        dropped = 0
        for series in previous.values():
            if isinstance(series, _SumSeries) and series.value:
                self.sink.add(integral(series.value), series.attributes)
            elif isinstance(series, _HistogramSeries):
                dropped += series.count
        return dropped

    def _create_sdk_instrument_with(self, meter: Any) -> Any:
        raise NotImplementedError

    def reset(self) -> None:
        with self._create_lock:
            self._series = {}
            self._refused = {}
            self.sink = None

    def use_store(self, store: Store | None) -> None:
        """Move every series' values into ``store`` (None: back into this process's memory)."""
        if self.local:
            return
        failures: list[Exception] = []
        with self._create_lock:
            self.store = store
            for series in self._series.values():
                if forwards(series):
                    continue
                with series.lock:
                    old = list(series.cells)
                    series.attach([0] * len(old))  # in memory, unless the store takes them
                    failure = None if store is None else allocated(store, self, series)
                    if failure is not None:
                        failures.append(failure)
                    for index, value in enumerate(old):
                        series.cells[index] = value
        for failure in failures:  # once the lock is released (``allocated``)
            report(failure)

    def reset_after_fork(self, store: Store | None) -> None:
        """In a forked child: every series from zero, in ``store`` or in memory; new locks.

        The series objects stay (instrumentations hold on to some of them); what the parent
        recorded before the fork stays the parent's.
        """
        self._create_lock = threading.Lock()
        self.store = None if self.local else store
        failures = []
        for series in self._series.values():
            series.reset()
            if self.store is not None and not forwards(series):
                failures.append(allocated(self.store, self, series))
        for failure in failures:
            report(failure)


class FastHistogram(_Instrument):
    """An explicit-bucket histogram; ``record(key, attributes, value)`` on the hot path."""

    kind = "histogram"

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
        if self.sink is not None:
            return ForwardingHistogramSeries(attributes, self.boundaries, self.sink)
        return _HistogramSeries(attributes, self.boundaries, self.slots)

    def _create_sdk_instrument_with(self, meter: Any) -> Any:
        return meter.create_histogram(
            self.name,
            unit=self.unit,
            description=self.description,
            explicit_bucket_boundaries_advisory=list(self.boundaries),
        )

    def series(self, key: Hashable, attributes: AttributesArg) -> _HistogramSeries:
        """The series for ``key``; ``attributes`` (or a function giving them) is used once."""
        series: _HistogramSeries = self._series_for(key, attributes)
        return series

    def record(self, key: Hashable, attributes: AttributesArg, value: float) -> None:
        self._series_for(key, attributes).record(value)

    def _points(self, state: ReaderState, now: int, delta: bool) -> list[Any]:
        if state.exponential:
            return exponential_points(self, state, now, delta)
        slot = state.slots.get(id(self), -1)
        points = []
        for series in self.all_series():
            with series.lock:
                counts, total, count = series.read()
                low, high = series.min, series.max
                if delta and slot >= 0:
                    if series.interval_min[slot] <= series.interval_max[slot]:
                        low, high = series.interval_min[slot], series.interval_max[slot]
                    # else nothing reached this reader's slot: never export inf, the series'
                    # own bounds hold every value counted here
                    series.interval_min[slot], series.interval_max[slot] = INF, -INF
            start = series.start_ns
            since = state.last_ns if delta else 0  # a delta point: this interval's exemplars
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
                    exemplars=as_exemplars(kept(series), since),
                )
            )
        return points

    def _data(self, points: list[Any], temporality: AggregationTemporality) -> Any:
        return histogram_data(points, temporality)

    def _values(self, series: Any) -> tuple[Any, ...]:
        counts, total, count = series.read()  # and the exponential buckets (``_aggregation``)
        return counts, total, count, series.expo.snapshot() if series.expo else None

    def add_slot(self, state: ReaderState | None = None) -> int:
        """A new interval slot (a delta reader's min and max since it last collected).

        With ``state`` (a reader added to a running provider), each series' values are put in
        its ``previous`` under the same lock as the slot is added: the reader's first delta
        holds exactly the measurements its slot saw.
        """
        with self._create_lock:
            slot = self.slots
            self.slots += 1
            for series in self._series.values():
                with series.lock:
                    series.add_slot()
                    if state is not None:
                        state.previous[id(series)] = self._values(series)
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
        self.kind = "counter" if monotonic else "up_down_counter"

    def _new_series(self, attributes: Attributes) -> _SumSeries:
        if self.sink is not None:
            return ForwardingSumSeries(attributes, self.sink)
        return _Counter(attributes) if self.monotonic else _SumSeries(attributes)

    def _create_sdk_instrument_with(self, meter: Any) -> Any:
        create = meter.create_counter if self.monotonic else meter.create_up_down_counter
        return create(self.name, unit=self.unit, description=self.description)

    def series(self, key: Hashable, attributes: AttributesArg) -> _SumSeries:
        series: _SumSeries = self._series_for(key, attributes)
        return series

    def add(self, key: Hashable, attributes: AttributesArg, amount: float) -> None:
        self._series_for(key, attributes).add(amount)

    def _values(self, series: Any) -> tuple[Any, ...]:
        return (integral(series.cells[0]),)

    def _points(self, state: ReaderState, now: int, delta: bool) -> list[Any]:
        points = []
        for series in self.all_series():
            with series.lock:
                (value,) = self._values(series)
            start = series.start_ns
            since = state.last_ns if delta else 0
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
                    exemplars=as_exemplars(kept(series), since),
                )
            )
        return points

    def _data(self, points: list[Any], temporality: AggregationTemporality) -> Sum:
        return Sum(
            data_points=points, aggregation_temporality=temporality, is_monotonic=self.monotonic
        )
