"""Base-2 exponential histogram buckets, as the OpenTelemetry specification defines them.

A bucket ``index`` at ``scale`` holds the values in ``(base**index, base**(index + 1)]`` with
``base = 2 ** (2 ** -scale)``: the relative error of any value is at most ``base - 1``. Recording
starts at the highest scale (20) and halves the resolution (``scale - 1``, two buckets merged
into one) whenever the values of one sign would need more than ``MAX_SIZE`` (160) buckets: the
specification's defaults, and the SDK's ``ExponentialBucketHistogramAggregation``'s. The
indexes are computed exactly as the SDK computes them (exact powers of two and subnormal values
included), so a fast series and an SDK aggregation of the same values agree bucket for bucket.

A ``Buckets`` lives inside a histogram series and is changed under the series' lock.
"""

from __future__ import annotations

import math
import sys
from typing import Protocol

__all__ = ["MAX_SCALE", "MAX_SIZE", "Buckets", "Mirror", "Side", "index_of", "scale_change"]

MAX_SIZE = 160
MAX_SCALE = 20
_MIN_NORMAL = sys.float_info.min
_MIN_NORMAL_EXPONENT = -1022
_MAX_NORMAL_EXPONENT = 1023
_LOG2_INVERSE = 1 / math.log(2)


def index_of(value: float, scale: int) -> int:
    """The bucket of a positive, finite ``value`` at ``scale``."""
    mantissa, exponent = math.frexp(value)  # value = mantissa * 2**exponent, 0.5 <= mantissa < 1
    if scale > 0:
        if value <= _MIN_NORMAL:
            return (_MIN_NORMAL_EXPONENT << scale) - 1
        if mantissa == 0.5:  # an exact power of two is the upper bound of its bucket
            return ((exponent - 1) << scale) - 1
        return min(
            math.floor(math.log(value) * math.ldexp(_LOG2_INVERSE, scale)),
            ((_MAX_NORMAL_EXPONENT + 1) << scale) - 1,
        )
    if value < _MIN_NORMAL:  # below the bucket whose upper bound is the smallest normal
        index = _MIN_NORMAL_EXPONENT >> -scale
        return index - 1 if scale > -2 else index  # at 0 and -1, 2**-1022 is a bucket bound
    return (exponent - 1 - (mantissa == 0.5)) >> -scale


def scale_change(low: int, high: int) -> int:
    """How many halvings make the indexes ``low..high`` fit in ``MAX_SIZE`` buckets."""
    change = 0
    while high - low >= MAX_SIZE:
        high >>= 1
        low >>= 1
        change += 1
    return change


class Side:
    """The buckets of one sign: ``counts[i]`` is bucket ``offset + i``."""

    __slots__ = ("counts", "offset")

    def __init__(self, offset: int = 0, counts: list[int] | None = None) -> None:
        self.offset = offset
        self.counts: list[int] = counts if counts is not None else []

    @property
    def end(self) -> int:
        """The last index held (``offset - 1`` when empty)."""
        return self.offset + len(self.counts) - 1

    def downscale(self, change: int) -> None:
        """``change`` halvings: bucket ``i`` goes into ``i >> change``."""
        if change <= 0 or not self.counts:
            return
        offset = self.offset >> change
        merged = [0] * ((self.end >> change) - offset + 1)
        for position, count in enumerate(self.counts):
            merged[((self.offset + position) >> change) - offset] += count
        self.offset, self.counts = offset, merged

    def add(self, index: int) -> None:
        """One more value in bucket ``index`` (which must fit: ``Buckets.record`` checks)."""
        counts = self.counts
        if not counts:
            self.offset = index
            counts.append(1)
        elif index < self.offset:
            self.counts = [1] + [0] * (self.offset - index - 1) + counts
            self.offset = index
        elif index > self.end:
            counts.extend([0] * (index - self.end - 1))
            counts.append(1)
        else:
            counts[index - self.offset] += 1

    def copy(self) -> Side:
        return Side(self.offset, list(self.counts))

    def minus(self, earlier: Side) -> Side:
        """These counts less ``earlier``'s (at the same scale), trimmed of empty ends."""
        if not earlier.counts:
            return self.copy()
        counts = list(self.counts)
        for position, count in enumerate(earlier.counts):
            counts[earlier.offset + position - self.offset] -= count
        offset = self.offset
        while counts and counts[-1] == 0:
            counts.pop()
        start = 0
        while start < len(counts) and counts[start] == 0:
            start += 1
        return Side(offset + start, counts[start:])


class Mirror(Protocol):
    """Where a series' buckets are copied as they change (``_shared_exponential.Window``)."""

    def bump(self, buckets: Buckets, negative: bool, position: int, value: int) -> None: ...

    def rewrite(self, buckets: Buckets) -> None: ...


class Buckets:
    """The exponential part of a histogram series: zero count, positive and negative buckets.

    Count, sum, min and max are the series' own (they are the same for both aggregations);
    a value that is not finite is not put in a bucket (it has none) and not counted here.
    """

    __slots__ = (
        "_factor",
        "_top",
        "count",
        "mirror",
        "negative",
        "positive",
        "scale",
        "sum",
        "zero_count",
    )

    def __init__(self) -> None:
        self.zero_count = 0
        self.count = 0
        self.sum = 0.0
        self.positive = Side()
        self.negative = Side()
        self.mirror: Mirror | None = None
        """Under a pre-fork server, the series' cells in the shared file."""
        self._rescale(MAX_SCALE)

    def _rescale(self, scale: int) -> None:
        """Use ``scale``; keep what ``index_of`` computes per scale (one multiplication left
        per value)."""
        self.scale = scale
        self._factor = math.ldexp(_LOG2_INVERSE, scale)
        self._top = ((_MAX_NORMAL_EXPONENT + 1) << scale) - 1 if scale > 0 else 0

    def _index(self, magnitude: float) -> int:
        """``index_of(magnitude, self.scale)``, with the per-scale constants kept."""
        scale = self.scale
        if scale <= 0 or magnitude <= _MIN_NORMAL:
            return index_of(magnitude, scale)
        mantissa, exponent = math.frexp(magnitude)
        if mantissa == 0.5:
            return ((exponent - 1) << scale) - 1
        index = math.floor(math.log(magnitude) * self._factor)
        return index if index < self._top else self._top

    def record(self, value: float) -> None:
        if not math.isfinite(value):
            return
        self.count += 1
        self.sum += value
        if value > 0:
            side, magnitude = self.positive, value
        elif value < 0:
            side, magnitude = self.negative, -value
        else:
            self.zero_count += 1
            if self.mirror is not None:
                self.mirror.bump(self, False, -1, self.zero_count)
            return
        index = self._index(magnitude)
        counts = side.counts
        position = index - side.offset
        if counts and 0 <= position < len(counts):
            counts[position] += 1  # the common case: a bucket already in range
            if self.mirror is not None:
                self.mirror.bump(self, side is self.negative, position, counts[position])
            return
        if counts:
            low, high = min(index, side.offset), max(index, side.end)
            if high - low >= MAX_SIZE:
                change = scale_change(low, high)
                self.positive.downscale(change)
                self.negative.downscale(change)
                self._rescale(self.scale - change)
                index = self._index(magnitude)
        side.add(index)
        if self.mirror is not None:
            self.mirror.rewrite(self)

    @property
    def reported_scale(self) -> int:
        """The scale a data point carries: 0 while only zeros were recorded (as the SDK)."""
        return self.scale if self.positive.counts or self.negative.counts else 0

    def snapshot(self) -> Buckets:
        """A copy (call with the series' lock held): what a delta reader remembers."""
        copy = Buckets()
        copy._rescale(self.scale)
        copy.zero_count = self.zero_count
        copy.count, copy.sum = self.count, self.sum
        copy.positive, copy.negative = self.positive.copy(), self.negative.copy()
        return copy

    def minus(self, earlier: Buckets) -> Buckets:
        """What was recorded since ``earlier`` (a snapshot of this series), at this scale."""
        before = earlier.snapshot()
        before.positive.downscale(before.scale - self.scale)
        before.negative.downscale(before.scale - self.scale)
        delta = Buckets()
        delta._rescale(self.scale)
        delta.zero_count = self.zero_count - earlier.zero_count
        delta.count, delta.sum = self.count - earlier.count, self.sum - earlier.sum
        delta.positive = self.positive.minus(before.positive)
        delta.negative = self.negative.minus(before.negative)
        return delta
