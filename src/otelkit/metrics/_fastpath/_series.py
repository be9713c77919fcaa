"""One attribute set of a fast instrument: its values, recorded under its own lock."""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from typing import TYPE_CHECKING, Any

from otelkit.metrics._fastpath._exponential import Buckets
from otelkit.metrics._fastpath._shared_exponential import WINDOW, Window

if TYPE_CHECKING:
    from collections.abc import Callable, MutableSequence

    from opentelemetry.util.types import Attributes

INF = float("inf")

EXPONENTIAL = False
"""Whether histogram series also keep base-2 exponential buckets (``_aggregation``): set
when a reader wants them, checked once per measurement."""

TAKE: Callable[[float], Any] | None = None
"""The exemplar filter (``_exemplars.use_filter``): called with each measurement, returns the
exemplar to keep or None; None itself when exemplars are off (one check per measurement)."""


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
    the process's memory-mapped file under a pre-fork server (``exporters/prometheus/
    _multiprocess``), where other processes read it. Min and max stay per process (the
    Prometheus exposition has none).
    """

    __slots__ = (
        "attributes",
        "bounds",
        "cells",
        "exemplars",
        "expo",
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
        self.min = INF
        self.max = -INF
        # Per delta reader: min and max since that reader last collected.
        self.interval_min = [INF] * slots
        self.interval_max = [-INF] * slots
        self.lock = threading.Lock()
        self.start_ns = time.time_ns()
        self.exemplars: list[Any] | None = None
        """The last exemplar of each bucket (``_exemplars``), from the first one kept."""
        self.expo: Buckets | None = None
        """The exponential buckets, kept beside the explicit ones once a reader wants them."""

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
            if EXPONENTIAL:
                expo = self.expo
                if expo is None:
                    expo = self.expo = Buckets()
                expo.record(value)
        if TAKE is not None:
            found = TAKE(value)
            if found is not None:
                slots = self.exemplars
                if slots is None:
                    slots = self.exemplars = [None] * (len(self.bounds) + 1)
                slots[index - 2] = found

    @property
    def count(self) -> int:
        return int(self.cells[0])

    def shared_size(self, exponential: bool) -> int:
        """Cells this series needs in a shared store (with an exponential window or not)."""
        return len(self.bounds) + 3 + (WINDOW if exponential else 0)

    def attach(self, cells: MutableSequence[float]) -> None:
        """Keep the values in ``cells`` from now on; past the explicit ones, the window the
        exponential buckets are mirrored into (filled at once with what they hold)."""
        explicit = len(self.bounds) + 3
        if len(cells) <= explicit:
            self.cells = cells
            if self.expo is not None:
                self.expo.mirror = None
            return
        self.cells = cells[:explicit]
        expo = self.expo
        if expo is None:
            expo = self.expo = Buckets()
        expo.mirror = Window(cells[explicit:])
        expo.mirror.rewrite(expo)

    def read(self) -> tuple[list[int], float, int]:
        """Bucket counts, sum and count (call with ``lock`` held)."""
        cells = self.cells
        return [int(c) for c in cells[2:]], cells[1], int(cells[0])

    def reset(self) -> None:
        """Start from zero, in memory, with a new lock (in a forked child)."""
        self.lock = threading.Lock()
        self.cells = _zero_histogram(len(self.bounds))
        self.min, self.max = INF, -INF
        self.interval_min = [INF] * len(self.interval_min)
        self.interval_max = [-INF] * len(self.interval_max)
        self.start_ns = time.time_ns()
        self.exemplars = None
        self.expo = None

    def add_slot(self) -> None:
        """One more interval slot, empty (call with ``lock`` held)."""
        self.interval_min.append(INF)
        self.interval_max.append(-INF)


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

    def shared_size(self, exponential: bool) -> int:
        return 1

    def attach(self, cells: MutableSequence[float]) -> None:
        self.cells = cells

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.cells = [0]
        self.start_ns = time.time_ns()


class _CounterSeries(_SumSeries):
    """A monotonic counter's series: keeps its last exemplar (a reservoir of one, as the
    SDK's default for sums). Up-down counters keep none: they are gauges to Prometheus."""

    __slots__ = ("exemplars",)

    def __init__(self, attributes: Attributes) -> None:
        super().__init__(attributes)
        self.exemplars: tuple[Any, ...] = ()

    def add(self, amount: float) -> None:
        with self.lock:
            self.cells[0] += amount
        if TAKE is not None:
            found = TAKE(amount)
            if found is not None:
                self.exemplars = (found,)

    def reset(self) -> None:
        super().reset()
        self.exemplars = ()
