"""One attribute set of a fast instrument: its values, recorded under its own lock."""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import MutableSequence

    from opentelemetry.util.types import Attributes

INF = float("inf")


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
        self.min, self.max = INF, -INF
        self.interval_min = [INF] * len(self.interval_min)
        self.interval_max = [-INF] * len(self.interval_max)
        self.start_ns = time.time_ns()

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

    def reset(self) -> None:
        self.lock = threading.Lock()
        self.cells = [0]
        self.start_ns = time.time_ns()
