"""Exponential histogram points as Prometheus sees them: native buckets, or classic ones.

OpenTelemetry bucket ``i`` at scale ``s`` holds ``(base**i, base**(i+1)]``; a Prometheus native
bucket ``i`` of schema ``s`` holds ``(base**(i-1), base**i]``: the same buckets, indexes one
apart. Prometheus takes schemas -4 to 8: a finer scale (the OpenTelemetry default starts at 20)
is merged down to 8 (two buckets into one per step, exactly); a coarser one than -4 (values
spanning more than 2**(160*16)) has no native form and is exposed with classic buckets only.

The text formats have no native histograms: there an exponential point is written as a classic
histogram whose ``le`` bounds are the upper bounds of its populated buckets (negative ones, the
zero bucket, positive ones) and ``+Inf``. Those bounds follow the values (and the scale), so a
classic query over them stays correct only as long as the bucket layout does; scrape with
protobuf (``--enable-feature=native-histograms``) for stable series.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry.sdk.metrics.export import HistogramDataPoint

if TYPE_CHECKING:
    from collections.abc import Sequence

    from opentelemetry.sdk.metrics.export import ExponentialHistogramDataPoint

__all__ = ["MAX_SCHEMA", "MIN_SCHEMA", "Native", "classic_point", "native"]

EXPONENTIAL = "base2_exponential_bucket_histogram"
MAX_SCHEMA = 8
MIN_SCHEMA = -4


@dataclass(frozen=True)
class Native:
    """The native-histogram fields of one point: spans as (offset, length), deltas."""

    schema: int
    zero_count: int
    positive_spans: tuple[tuple[int, int], ...]
    positive_deltas: tuple[int, ...]
    negative_spans: tuple[tuple[int, int], ...]
    negative_deltas: tuple[int, ...]


def _merged(offset: int, counts: Sequence[int], change: int) -> tuple[int, list[int]]:
    """OpenTelemetry buckets ``change`` scales down: bucket ``i`` goes into ``i >> change``."""
    if change <= 0 or not counts:
        return offset, list(counts)
    start = offset >> change
    merged = [0] * (((offset + len(counts) - 1) >> change) - start + 1)
    for position, count in enumerate(counts):
        merged[((offset + position) >> change) - start] += count
    return start, merged


def _spans(offset: int, counts: Sequence[int]) -> tuple[tuple[tuple[int, int], ...], list[int]]:
    """Spans over the non-empty buckets (Prometheus index = OpenTelemetry index + 1) and the
    counts as deltas from one populated bucket to the next."""
    spans: list[list[int]] = []
    deltas: list[int] = []
    previous_index: int | None = None
    previous_count = 0
    for position, count in enumerate(counts):
        if count == 0:
            continue
        index = offset + position + 1
        if previous_index is not None and index == previous_index + 1:
            spans[-1][1] += 1
        else:
            gap = index if previous_index is None else index - previous_index - 1
            spans.append([gap, 1])
        deltas.append(count - previous_count)
        previous_index, previous_count = index, count
    return tuple((gap, length) for gap, length in spans), deltas


def native(point: ExponentialHistogramDataPoint) -> Native | None:
    """The point's native buckets, or None when its scale is coarser than Prometheus takes."""
    if point.scale < MIN_SCHEMA:
        return None
    change = point.scale - MAX_SCHEMA
    positive = _merged(point.positive.offset, point.positive.bucket_counts, change)
    negative = _merged(point.negative.offset, point.negative.bucket_counts, change)
    positive_spans, positive_deltas = _spans(*positive)
    negative_spans, negative_deltas = _spans(*negative)
    return Native(
        schema=min(point.scale, MAX_SCHEMA),
        zero_count=point.zero_count,
        positive_spans=positive_spans or ((0, 0),),  # the no-op span: "this one is native"
        positive_deltas=tuple(positive_deltas),
        negative_spans=negative_spans,
        negative_deltas=tuple(negative_deltas),
    )


def _upper(index: int, scale: int) -> float:
    """The upper bound of OpenTelemetry bucket ``index``: ``base ** (index + 1)``."""
    return float(2.0 ** ((index + 1) / 2.0**scale))


def classic_point(point: ExponentialHistogramDataPoint) -> HistogramDataPoint:
    """The point as a classic histogram over its populated buckets (for the text formats)."""
    bounds: list[float] = []
    counts: list[int] = []
    negative = point.negative
    for position in range(len(negative.bucket_counts) - 1, -1, -1):
        count = negative.bucket_counts[position]
        if count:  # magnitudes in (base**i, base**(i+1)]: values up to -base**i
            bounds.append(-_upper(negative.offset + position - 1, point.scale))
            counts.append(count)
    if point.zero_count or not bounds:
        bounds.append(0.0)
        counts.append(point.zero_count)
    positive = point.positive
    for position, count in enumerate(positive.bucket_counts):
        if count:
            bounds.append(_upper(positive.offset + position, point.scale))
            counts.append(count)
    return HistogramDataPoint(
        attributes=point.attributes,
        start_time_unix_nano=point.start_time_unix_nano,
        time_unix_nano=point.time_unix_nano,
        count=point.count,
        sum=point.sum,
        bucket_counts=[*counts, 0],
        explicit_bounds=bounds,
        min=point.min,
        max=point.max,
        exemplars=point.exemplars,
    )
