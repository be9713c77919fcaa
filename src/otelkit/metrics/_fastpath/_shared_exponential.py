"""Exponential buckets that other processes read: a fixed window of cells, written in place.

Under a pre-fork server in native-histogram mode each histogram series keeps, after its
explicit cells, a window of ``WINDOW`` doubles in the process's shared file::

    head | scale | zero count | count | sum | positive offset, length | negative offset, length
    | 160 positive counts | 160 negative counts | tail

The series' ``Buckets`` stay the truth; its ``Window`` mirrors each change into the cells (one
bucket, the count and the sum on the common path; everything after a new edge bucket or a
change of scale). Other processes read the cells without a lock, so every write is bracketed
like a sequence lock: ``tail`` turns odd first, ``head`` and ``tail`` take the next even number
last. A reader keeps a window only when ``head == tail``, even, and its counts add up to its
count (``decoded``); otherwise it uses what it read last time. The scrape adds up the
processes' windows exactly by bringing them to their coarsest scale (``merged``), as the
specification merges exponential histograms.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING

from otelkit.metrics._fastpath._exponential import MAX_SIZE, Side, scale_change

if TYPE_CHECKING:
    from collections.abc import Iterable, MutableSequence, Sequence

    from otelkit.metrics._fastpath._exponential import Buckets

__all__ = ["WINDOW", "State", "Window", "decoded", "encoded", "merged"]

HEAD, SCALE, ZERO, COUNT, SUM, POSITIVE_OFFSET, POSITIVE_LENGTH, NEGATIVE_OFFSET = range(8)
NEGATIVE_LENGTH = 8
POSITIVE = 9
NEGATIVE = POSITIVE + MAX_SIZE
TAIL = NEGATIVE + MAX_SIZE
WINDOW = TAIL + 1
"""Cells per series: 330 doubles, 2,640 bytes."""


class Window:
    """Writes one series' ``Buckets`` into its cells (call with the series' lock held)."""

    __slots__ = ("cells", "sequence")

    def __init__(self, cells: MutableSequence[float]) -> None:
        self.cells = cells
        self.sequence = int(cells[HEAD])

    def bump(self, buckets: Buckets, negative: bool, position: int, value: int) -> None:
        """One bucket changed (``position`` in the positive or negative side), or the zero
        bucket when ``position`` is -1."""
        cells = self.cells
        self.sequence += 1
        cells[TAIL] = self.sequence
        cells[COUNT] = buckets.count
        cells[SUM] = buckets.sum
        if position < 0:
            cells[ZERO] = value
        else:
            cells[(NEGATIVE if negative else POSITIVE) + position] = value
        self.sequence += 1
        cells[HEAD] = self.sequence
        cells[TAIL] = self.sequence

    def rewrite(self, buckets: Buckets) -> None:
        """Everything: after a new edge bucket, a change of scale, or a move into the file."""
        cells = self.cells
        self.sequence += 1
        cells[TAIL] = self.sequence
        _fill(cells, buckets)
        self.sequence += 1
        cells[HEAD] = self.sequence
        cells[TAIL] = self.sequence


def _fill(cells: MutableSequence[float], source: Buckets | State) -> None:
    """Every field of the layout but ``head`` and ``tail`` (the writer's to bracket)."""
    cells[SCALE] = source.scale
    cells[ZERO] = source.zero_count
    cells[COUNT] = source.count
    cells[SUM] = source.sum
    for side, offset_cell, start in (
        (source.positive, POSITIVE_OFFSET, POSITIVE),
        (source.negative, NEGATIVE_OFFSET, NEGATIVE),
    ):
        cells[offset_cell] = side.offset
        cells[offset_cell + 1] = len(side.counts)
        # An array of doubles: what a slice of a memoryview of doubles takes (a list too).
        cells[start : start + len(side.counts)] = array("d", side.counts)


@dataclass
class State:
    """One window as read: what a process (or an archive of ended ones) recorded."""

    scale: int
    zero_count: int
    count: int
    sum: float
    positive: Side
    negative: Side


def decoded(cells: Sequence[float]) -> State | None:
    """The window's state; None if a write was under way while it was read."""
    head, tail = cells[HEAD], cells[TAIL]
    if head != tail or head % 2:
        return None
    sides = []
    for offset_cell, start in ((POSITIVE_OFFSET, POSITIVE), (NEGATIVE_OFFSET, NEGATIVE)):
        length = int(cells[offset_cell + 1])
        if not 0 <= length <= MAX_SIZE:
            return None
        sides.append(Side(int(cells[offset_cell]), [int(c) for c in cells[start : start + length]]))
    state = State(int(cells[SCALE]), int(cells[ZERO]), int(cells[COUNT]), cells[SUM], *sides)
    if state.zero_count + sum(state.positive.counts) + sum(state.negative.counts) != state.count:
        return None  # read across a write the sequence numbers did not reveal
    return state


def encoded(state: State) -> list[float]:
    """``state`` as a window's cells (an archive's entry)."""
    cells = [0.0] * WINDOW
    _fill(cells, state)
    return cells


def merged(states: Iterable[State]) -> State:
    """The sum of ``states``, exact: at the coarsest of their scales, coarser still if the
    union needs more than 160 buckets on a side (as the specification merges histograms)."""
    states = [state for state in states if state.count]
    if not states:
        return State(0, 0, 0, 0.0, Side(), Side())
    # A process that recorded only zeros has no scale to speak of.
    scale = min((s.scale for s in states if s.positive.counts or s.negative.counts), default=0)
    for pick in (_positive, _negative):
        ends = [
            (pick(state).offset >> (state.scale - scale), pick(state).end >> (state.scale - scale))
            for state in states
            if pick(state).counts
        ]
        if ends:
            scale -= scale_change(min(low for low, _ in ends), max(high for _, high in ends))
    total = State(scale, 0, 0, 0.0, Side(), Side())
    for state in states:
        total.zero_count += state.zero_count
        total.count += state.count
        total.sum += state.sum
        for mine, theirs in ((total.positive, state.positive), (total.negative, state.negative)):
            side = theirs.copy()
            side.downscale(state.scale - scale)
            _add(mine, side)
    return total


def _positive(state: State) -> Side:
    return state.positive


def _negative(state: State) -> Side:
    return state.negative


def _add(total: Side, side: Side) -> None:
    """``side``'s counts into ``total`` (same scale)."""
    if not side.counts:
        return
    if not total.counts:
        total.offset, total.counts = side.offset, list(side.counts)
        return
    low, high = min(total.offset, side.offset), max(total.end, side.end)
    counts = [0] * (high - low + 1)
    for source in (total, side):
        for position, count in enumerate(source.counts):
            counts[source.offset + position - low] += count
    total.offset, total.counts = low, counts
