"""Hand-made ``MetricsData`` for the rule tests: cumulative points, as the engine's reader sees."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

CUMULATIVE = AggregationTemporality.CUMULATIVE
Attributes = dict[str, object]


def _number(attributes: Mapping[str, object], value: float) -> NumberDataPoint:
    return NumberDataPoint(
        attributes=dict(attributes),  # type: ignore[arg-type]
        start_time_unix_nano=0,
        time_unix_nano=1,
        value=value,
        exemplars=[],
    )


def gauge(name: str, *points: tuple[Attributes, float]) -> Metric:
    return Metric(
        name=name,
        description="",
        unit="1",
        data=Gauge(data_points=[_number(a, v) for a, v in points]),
    )


def counter(name: str, *points: tuple[Attributes, float], monotonic: bool = True) -> Metric:
    return Metric(
        name=name,
        description="",
        unit="1",
        data=Sum(
            data_points=[_number(a, v) for a, v in points],
            aggregation_temporality=CUMULATIVE,
            is_monotonic=monotonic,
        ),
    )


def histogram(
    name: str,
    bounds: Sequence[float],
    *points: tuple[Attributes, Sequence[int]] | tuple[Attributes, Sequence[int], float],
    temporality: AggregationTemporality = CUMULATIVE,
) -> Metric:
    """Per-bucket (not cumulative) counts, ``len(bounds) + 1`` of them; sum given or 0."""
    data_points = []
    for point in points:
        attributes, counts = point[0], point[1]
        total = point[2] if len(point) == 3 else 0.0  # type: ignore[misc]
        data_points.append(
            HistogramDataPoint(
                attributes=dict(attributes),  # type: ignore[arg-type]
                start_time_unix_nano=0,
                time_unix_nano=1,
                count=sum(counts),
                sum=total,
                bucket_counts=list(counts),
                explicit_bounds=list(bounds),
                min=0.0,
                max=0.0,
                exemplars=[],
            )
        )
    return Metric(
        name=name,
        description="",
        unit="s",
        data=Histogram(data_points=data_points, aggregation_temporality=temporality),
    )


def snapshot(*metrics: Metric) -> MetricsData:
    return MetricsData(
        resource_metrics=[
            ResourceMetrics(
                resource=Resource.create({"service.name": "test"}),
                scope_metrics=[
                    ScopeMetrics(
                        scope=InstrumentationScope("test"), metrics=list(metrics), schema_url=""
                    )
                ],
                schema_url="",
            )
        ]
    )
