"""``rate``/``increase`` and ``histogram_quantile``, computed as Prometheus computes them.

``RangeStore`` keeps, for one range selector, the vector it selected at each evaluation (the
engine's ``OTELKIT_ALERT_INTERVAL`` plays Prometheus' scrape interval). ``extrapolated`` is
Prometheus' counter increase over a window: the samples inside it, corrected for resets, then
extrapolated to the window's edges when the first and last samples are close to them (within
1.1 average intervals; else by half an interval), never below zero for a counter.

``bucket_quantile`` reads classic ``_bucket`` series (cumulative, ``le``) of one group, like
``histogram_quantile``; the interpolation is ``otelkit.alerting._quantile``'s.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from typing import TYPE_CHECKING

from otelkit.alerting._promql._vector import drop_name
from otelkit.alerting._quantile import histogram_quantile

if TYPE_CHECKING:
    from collections.abc import Sequence

    from otelkit.alerting._promql._samples import Labels
    from otelkit.alerting._promql._vector import Vector

__all__ = [
    "RangeStore",
    "Sample",
    "bucket_quantile",
    "corrected",
    "extrapolated",
    "quantile_vector",
]

Sample = tuple[float, float, float]
"""(time, value, value corrected for counter resets)."""


class RangeStore:
    """Per series, its samples of the last ``range`` seconds, oldest first.

    A sample is (time, value, value corrected for resets): the correction adds every value
    seen just before a reset, so an increase is the difference of two corrected values, with
    no walk over the samples in between.
    """

    __slots__ = ("_last", "_series", "range")

    def __init__(self, range_s: float) -> None:
        self.range = range_s
        self._series: dict[Labels, deque[Sample]] = {}
        self._last = -math.inf

    def observe(self, now: float, vector: Vector) -> None:
        """Add this evaluation's values (once per time); forget samples older than the range."""
        if now <= self._last:
            return  # evaluated twice at one time: keep the first
        self._last = now
        series = self._series
        for labels, value in vector.items():
            samples = series.get(labels)
            if samples is None:
                series[labels] = deque([(now, value, value)])
                continue
            _, previous, corrected = samples[-1]
            samples.append(
                (now, value, corrected + (value if value < previous else value - previous))
            )
        oldest = now - self.range
        for labels in list(series):
            samples = series[labels]
            while samples and samples[0][0] < oldest:
                samples.popleft()
            if not samples:
                del series[labels]  # not seen for a whole range: gone

    def samples(self) -> dict[Labels, deque[Sample]]:
        return self._series


def extrapolated(
    samples: Sequence[Sample], start: float, end: float, *, per_second: bool
) -> float | None:
    """The counter's increase (or rate) over ``[start, end]``; None with fewer than 2 samples."""
    if len(samples) < 2:
        return None
    first_t, first_v, first_corrected = samples[0]
    last_t, _, last_corrected = samples[-1]
    increase = last_corrected - first_corrected
    sampled = last_t - first_t
    if sampled <= 0:
        return None
    average = sampled / (len(samples) - 1)
    to_start = first_t - start
    to_end = end - last_t
    if increase > 0 and first_v >= 0:
        to_zero = sampled * (first_v / increase)
        to_start = min(to_start, to_zero)
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    increase *= interval / sampled
    if per_second:
        return increase / (end - start)
    return increase


def corrected(samples: Sequence[tuple[float, float]]) -> list[Sample]:
    """(time, value) pairs as ``RangeStore`` keeps them (for callers with plain samples)."""
    out: list[Sample] = []
    for moment, value in samples:
        if not out:
            out.append((moment, value, value))
            continue
        _, previous, total = out[-1]
        out.append((moment, value, total + (value if value < previous else value - previous)))
    return out


def bucket_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float:
    """The ``q``-quantile from (upper bound, cumulative count) pairs; NaN when unknown."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted(buckets)
    if len(ordered) < 2 or ordered[-1][0] != math.inf:
        return math.nan
    counts: list[float] = []
    highest = 0.0
    for _, cumulative in ordered:
        highest = max(highest, cumulative)  # counts must not go down from bucket to bucket
        counts.append(highest)
    per_bucket = [counts[0]] + [b - a for a, b in itertools.pairwise(counts)]
    bounds = [upper for upper, _ in ordered[:-1]]
    value = histogram_quantile(q, bounds, per_bucket) if 0 < q < 1 else None
    if value is None:
        if counts[-1] <= 0:
            return math.nan
        return bounds[0] if q == 0 else bounds[-1]
    return value


def quantile_vector(q: float, vector: Vector) -> Vector:
    """``histogram_quantile(q, vector)``: one value per group of ``le`` series."""
    groups: dict[Labels, list[tuple[float, float]]] = {}
    for labels, value in vector.items():
        le = next((v for k, v in labels if k == "le"), None)
        if le is None:
            continue
        try:
            upper = float(le)
        except ValueError:
            continue
        key = tuple(p for p in drop_name(labels) if p[0] != "le")
        groups.setdefault(key, []).append((upper, value))
    return {key: bucket_quantile(q, buckets) for key, buckets in groups.items()}
