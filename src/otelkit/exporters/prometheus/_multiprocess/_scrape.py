"""Building a scrape's OpenTelemetry data from the summed files and the processes' snapshots."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
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
from opentelemetry.sdk.metrics.export import Buckets as BucketsPoint
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv._incubating.attributes.process_attributes import PROCESS_PID

from otelkit.exporters.prometheus._multiprocess._exemplars import EXEMPLARS_KIND, SeriesKey
from otelkit.metrics._fastpath import integral
from otelkit.metrics._fastpath._shared_exponential import merged as merged_buckets

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from opentelemetry.sdk.metrics import Exemplar
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.util.types import Attributes

    from otelkit.exporters.prometheus._multiprocess._reading import Totals
    from otelkit.metrics._fastpath._shared_exponential import State

# -- building the scrape ----------------------------------------------------------------------


def fast_metrics(
    totals: Totals,
    now: int,
    exemplars: Mapping[SeriesKey, list[Exemplar]] | None = None,
    *,
    native: bool = True,
) -> dict[InstrumentationScope, list[Metric]]:
    """The summed fast instruments as OpenTelemetry metrics, by scope, with the processes'
    ``exemplars`` (``_exemplars.gather``) on their series; histograms whose processes keep
    exponential buckets as exponential histograms, unless not ``native``."""
    found = exemplars or {}
    by_name: dict[str, list[tuple[Attributes, list[float], list[Exemplar]]]] = {}
    exponential: dict[str, list[ExponentialHistogramDataPoint]] = {}
    for (name, attributes), values in totals.values.items():
        kept = found.get((name, attributes), [])
        by_name.setdefault(name, []).append((dict(attributes), values, kept))
        states = totals.exponential.get((name, attributes)) if native else None
        if states:
            point = _exponential_point(dict(attributes), merged_buckets(states), now, kept)
            exponential.setdefault(name, []).append(point)
    scopes: dict[InstrumentationScope, list[Metric]] = {}
    for name, series in by_name.items():
        description = totals.descriptions.get(name)
        if description is None:
            continue
        _, _, kind, unit, text, scope_name, scope_version, schema, bounds = description
        scope = InstrumentationScope(scope_name, scope_version, schema)
        data: Histogram | ExponentialHistogram | Sum
        if kind == "h" and name in exponential:
            data = ExponentialHistogram(
                data_points=exponential[name],
                aggregation_temporality=AggregationTemporality.CUMULATIVE,
            )
        elif kind == "h":
            width = len(bounds) + 3
            data = Histogram(
                data_points=[
                    HistogramDataPoint(
                        attributes=attributes,
                        start_time_unix_nano=0,
                        time_unix_nano=now,
                        count=int(values[0]),
                        sum=values[1],
                        bucket_counts=[int(c) for c in values[2:]],
                        explicit_bounds=list(bounds),
                        min=0.0,
                        max=0.0,
                        exemplars=kept,
                    )
                    for attributes, values, kept in series
                    if len(values) == width
                ],
                aggregation_temporality=AggregationTemporality.CUMULATIVE,
            )
        else:
            data = Sum(
                data_points=[
                    NumberDataPoint(
                        attributes=attributes,
                        start_time_unix_nano=0,
                        time_unix_nano=now,
                        value=integral(values[0]),
                        exemplars=kept,
                    )
                    for attributes, values, kept in series
                ],
                aggregation_temporality=AggregationTemporality.CUMULATIVE,
                is_monotonic=kind == "c",
            )
        scopes.setdefault(scope, []).append(Metric(name, text, unit, data))
    return scopes


def _exponential_point(
    attributes: Attributes, state: State, now: int, exemplars: list[Exemplar]
) -> ExponentialHistogramDataPoint:
    populated = state.positive.counts or state.negative.counts
    return ExponentialHistogramDataPoint(
        attributes=attributes,
        start_time_unix_nano=0,
        time_unix_nano=now,
        count=state.count,
        sum=state.sum,
        scale=state.scale if populated else 0,
        zero_count=state.zero_count,
        positive=BucketsPoint(state.positive.offset, list(state.positive.counts)),
        negative=BucketsPoint(state.negative.offset, list(state.negative.counts)),
        flags=0,
        min=0.0,  # per process only; the Prometheus exposition has none
        max=0.0,
        exemplars=exemplars,
    )


def is_host_metric(name: str) -> bool:
    """``system.*`` describes the machine: any process's reading is the reading."""
    return name.startswith("system.")


def snapshot_of(data: MetricsData | None) -> list[dict[str, Any]]:
    """A process's SDK metrics (less the host's) in the snapshot's JSON form."""
    out: list[dict[str, Any]] = []
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            for metric in scope_metrics.metrics:
                if is_host_metric(metric.name):
                    continue
                entry = _metric_json(metric)
                if entry is not None:
                    entry["scope"] = [scope.name, scope.version, scope.schema_url]
                    out.append(entry)
    return out


def _metric_json(metric: Metric) -> dict[str, Any] | None:
    data = metric.data
    points: list[list[Any]]
    if isinstance(data, Histogram):
        kind = "histogram"
        points = [
            [
                sorted((p.attributes or {}).items()),
                p.count,
                p.sum,
                list(p.explicit_bounds),
                list(p.bucket_counts),
            ]
            for p in data.data_points
        ]
    elif isinstance(data, (Sum, Gauge)):
        kind = "sum" if isinstance(data, Sum) else "gauge"
        points = [[sorted((p.attributes or {}).items()), p.value] for p in data.data_points]
    else:
        return None
    return {
        "name": metric.name,
        "description": metric.description,
        "unit": metric.unit,
        "kind": kind,
        "monotonic": isinstance(data, Sum) and data.is_monotonic,
        "points": points,
    }


def snapshot_metrics(
    snapshots: Iterable[tuple[int, list[dict[str, Any]]]], now: int
) -> dict[InstrumentationScope, list[Metric]]:
    """Other processes' snapshots as metrics, each point marked with its ``process.pid``."""
    scopes: dict[InstrumentationScope, list[Metric]] = {}
    for pid, metrics in snapshots:
        for entry in metrics:
            if entry.get("kind") == EXEMPLARS_KIND:
                continue  # the fast instruments' exemplars (``_exemplars``)
            scope = InstrumentationScope(*entry["scope"])
            points = entry["points"]
            data: Histogram | Sum | Gauge
            if entry["kind"] == "histogram":
                data = Histogram(
                    data_points=[
                        HistogramDataPoint(
                            attributes=_with_pid(attributes, pid),
                            start_time_unix_nano=0,
                            time_unix_nano=now,
                            count=count,
                            sum=total,
                            bucket_counts=buckets,
                            explicit_bounds=bounds,
                            min=0.0,
                            max=0.0,
                            exemplars=[],
                        )
                        for attributes, count, total, bounds, buckets in points
                    ],
                    aggregation_temporality=AggregationTemporality.CUMULATIVE,
                )
            else:
                numbers = [
                    NumberDataPoint(
                        attributes=_with_pid(attributes, pid),
                        start_time_unix_nano=0,
                        time_unix_nano=now,
                        value=value,
                        exemplars=[],
                    )
                    for attributes, value in points
                ]
                data = (
                    Sum(numbers, AggregationTemporality.CUMULATIVE, entry["monotonic"])
                    if entry["kind"] == "sum"
                    else Gauge(numbers)
                )
            metric = Metric(entry["name"], entry["description"], entry["unit"], data)
            scopes.setdefault(scope, []).append(metric)
    return scopes


def _with_pid(attributes: Iterable[tuple[str, Any]], pid: int) -> dict[str, Any]:
    marked = {k: tuple(v) if isinstance(v, list) else v for k, v in attributes}
    marked[PROCESS_PID] = pid
    return marked


def own_metrics(data: MetricsData | None, pid: int) -> dict[InstrumentationScope, list[Metric]]:
    """This process's fresh SDK metrics: host metrics as they are, the rest with its pid."""
    scopes: dict[InstrumentationScope, list[Metric]] = {}
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if not is_host_metric(metric.name):
                    metric = _mark(metric, pid)
                scopes.setdefault(scope_metrics.scope, []).append(metric)
    return scopes


def _mark(metric: Metric, pid: int) -> Metric:
    data: Any = metric.data
    return _with_points(metric, [_point_with(point, pid) for point in data.data_points])


def _with_points(metric: Metric, points: list[Any]) -> Metric:
    """``metric`` with other data points (same kind, temporality and monotonicity)."""
    data: Any = metric.data
    if isinstance(data, Histogram):
        new: Any = Histogram(points, data.aggregation_temporality)
    elif isinstance(data, Sum):
        new = Sum(points, data.aggregation_temporality, data.is_monotonic)
    else:
        new = Gauge(points)
    return Metric(metric.name, metric.description, metric.unit, new)


def _point_with(point: Any, pid: int) -> Any:
    attributes = _with_pid((point.attributes or {}).items(), pid)
    if isinstance(point, HistogramDataPoint):
        return HistogramDataPoint(
            attributes,
            point.start_time_unix_nano,
            point.time_unix_nano,
            point.count,
            point.sum,
            point.bucket_counts,
            point.explicit_bounds,
            point.min,
            point.max,
            point.exemplars,
        )
    return NumberDataPoint(
        attributes, point.start_time_unix_nano, point.time_unix_nano, point.value, point.exemplars
    )


def merged(resource: Resource, *parts: dict[InstrumentationScope, list[Metric]]) -> MetricsData:
    """One MetricsData of all parts; metrics of one name and scope become one metric."""
    scopes: dict[InstrumentationScope, dict[str, Metric]] = {}
    for part in parts:
        for scope, metrics in part.items():
            by_name = scopes.setdefault(scope, {})
            for metric in metrics:
                existing = by_name.get(metric.name)
                by_name[metric.name] = metric if existing is None else _combine(existing, metric)
    return MetricsData(
        resource_metrics=[
            ResourceMetrics(
                resource=resource,
                scope_metrics=[
                    ScopeMetrics(scope, list(metrics.values()), scope.schema_url or "")
                    for scope, metrics in scopes.items()
                ],
                schema_url=resource.schema_url,
            )
        ]
    )


def _combine(first: Metric, second: Metric) -> Metric:
    a: Any = first.data
    b: Any = second.data
    if type(a) is not type(b):
        return first
    return _with_points(first, [*a.data_points, *b.data_points])
