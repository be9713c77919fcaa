"""Which histogram aggregation each reader gets, and the exponential data points it collects.

Every fast histogram series keeps explicit buckets; once some reader wants base-2 exponential
buckets, the series keep those too, and that reader collects ``ExponentialHistogramDataPoint``s
while the others keep their explicit buckets. The pipeline marks the exporters' readers
(``prefer_exponential``) when ``OTELKIT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram``
or when the exporter prefers it itself (OTLP's
``OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION``); the in-process alerting reader
keeps explicit buckets (its rules read them).
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Histogram,
)
from opentelemetry.sdk.metrics.export import Buckets as BucketsPoint

from otelkit.metrics._fastpath import _series
from otelkit.metrics._fastpath._exemplars import as_exemplars, kept
from otelkit.metrics._fastpath._series import INF

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader

    from otelkit.metrics._fastpath._exponential import Buckets
    from otelkit.metrics._fastpath._instruments import FastHistogram
    from otelkit.metrics._fastpath._readers import ReaderState

__all__ = [
    "EXPLICIT",
    "EXPONENTIAL",
    "exponential_points",
    "forget_preferences",
    "histogram_data",
    "prefer_exponential",
    "wants_exponential",
]

EXPLICIT = "explicit_bucket_histogram"
EXPONENTIAL = "base2_exponential_bucket_histogram"

_preferring: weakref.WeakSet[MetricReader] = weakref.WeakSet()


def prefer_exponential(reader: MetricReader) -> None:
    """``reader`` gets exponential buckets (call before the registry attaches it)."""
    _preferring.add(reader)
    _series.EXPONENTIAL = True


def forget_preferences() -> None:
    """No reader wants exponential buckets any more (a new pipeline; tests): new series keep
    explicit buckets only."""
    _preferring.clear()
    _series.EXPONENTIAL = False


def wants_exponential(reader: MetricReader) -> bool:
    return reader in _preferring


def _point(
    series: Any, buckets: Buckets, start: int, now: int, bounds: tuple[float, float], since: int
) -> ExponentialHistogramDataPoint:
    positive, negative = buckets.positive, buckets.negative
    return ExponentialHistogramDataPoint(
        attributes=series.attributes,
        start_time_unix_nano=start,
        time_unix_nano=now,
        count=buckets.count,
        sum=buckets.sum,
        scale=buckets.reported_scale,
        zero_count=buckets.zero_count,
        positive=BucketsPoint(offset=positive.offset, bucket_counts=list(positive.counts)),
        negative=BucketsPoint(offset=negative.offset, bucket_counts=list(negative.counts)),
        flags=0,
        min=bounds[0],
        max=bounds[1],
        exemplars=as_exemplars(kept(series), since),
    )


def exponential_points(
    instrument: FastHistogram, state: ReaderState, now: int, delta: bool
) -> list[ExponentialHistogramDataPoint]:
    """The instrument's series as exponential points for one reader (``FastHistogram``)."""
    slot = state.slots.get(id(instrument), -1)
    points = []
    for series in instrument.all_series():
        with series.lock:
            current = series.expo
            if current is None:
                continue  # not recorded since exponential buckets were wanted
            buckets = current.snapshot()
            low, high = series.min, series.max
            if delta and slot >= 0:
                if series.interval_min[slot] <= series.interval_max[slot]:
                    low, high = series.interval_min[slot], series.interval_max[slot]
                series.interval_min[slot], series.interval_max[slot] = INF, -INF
        start = series.start_ns
        since = state.last_ns if delta else 0
        if delta:
            previous = state.previous.get(id(series))  # as ``FastHistogram._values`` keeps it
            state.previous[id(series)] = ((), 0, 0, buckets)
            if previous is not None:
                if previous[3] is not None:
                    buckets = buckets.minus(previous[3])
                start = state.last_ns
            if buckets.count == 0:
                continue
        points.append(_point(series, buckets, start, now, (low, high), since))
    return points


def histogram_data(
    points: list[Any], temporality: AggregationTemporality
) -> Histogram | ExponentialHistogram:
    """The metric data of a fast histogram's points, explicit or exponential."""
    if points and isinstance(points[0], ExponentialHistogramDataPoint):
        return ExponentialHistogram(data_points=points, aggregation_temporality=temporality)
    return Histogram(data_points=points, aggregation_temporality=temporality)
