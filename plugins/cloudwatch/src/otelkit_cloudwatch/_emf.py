"""OpenTelemetry metric data → CloudWatch Embedded Metric Format (EMF) records.

One record per data point: ``_aws`` metadata (timestamp in milliseconds, namespace, one
dimension set, the metric's name and CloudWatch unit), the dimension values and the value.

- Counters (monotonic sums) are exported with delta temporality: the value is the increase since
  the previous export, so CloudWatch's ``Sum`` statistic over a period is the count in it.
- Up/down counters and gauges are exported as their current value.
- Histograms become ``{"Values", "Counts", "Min", "Max", "Count", "Sum"}`` (bucket midpoints,
  clamped to the recorded min/max, with their counts) or, with ``histograms="statistics"``, the
  statistic set ``{"Min", "Max", "Count", "Sum"}``. Exponential histograms use the midpoints of
  their buckets in the same way.
- Dimensions come only from an allow-list of attribute keys (data point attributes first, then
  resource attributes); at most 30 per metric, the rest are dropped. Points that then share
  their dimension values are merged: sums added, gauge values sent as a value array (each a
  sample, so Average/Min/Max stay right), histograms combined.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
)
from opentelemetry.sdk.metrics.export import Gauge as GaugeData
from opentelemetry.sdk.metrics.export import Histogram as HistogramData
from opentelemetry.sdk.metrics.export import Sum as SumData

MAX_DIMENSIONS = 30
MAX_VALUES = 100  # EMF: at most 100 values in a metric's value array
MAX_NAME_LENGTH = 1024

# OpenTelemetry (UCUM) unit → CloudWatch unit. Anything else, including `1` (a ratio, not a
# percentage), becomes `None`; units in curly braces (`{request}`) are counts.
UNITS: Mapping[str, str] = {
    "s": "Seconds",
    "ms": "Milliseconds",
    "us": "Microseconds",
    "By": "Bytes",
    "KBy": "Kilobytes",
    "MBy": "Megabytes",
    "GBy": "Gigabytes",
    "TBy": "Terabytes",
    "KiBy": "Kilobytes",
    "MiBy": "Megabytes",
    "GiBy": "Gigabytes",
    "TiBy": "Terabytes",
    "bit": "Bits",
    "Kbit": "Kilobits",
    "Mbit": "Megabits",
    "Gbit": "Gigabits",
    "Tbit": "Terabits",
    "By/s": "Bytes/Second",
    "KBy/s": "Kilobytes/Second",
    "MBy/s": "Megabytes/Second",
    "GBy/s": "Gigabytes/Second",
    "TBy/s": "Terabytes/Second",
    "bit/s": "Bits/Second",
    "Kbit/s": "Kilobits/Second",
    "Mbit/s": "Megabits/Second",
    "Gbit/s": "Gigabits/Second",
    "Tbit/s": "Terabits/Second",
    "%": "Percent",
    "1": "None",
    "": "None",
}

# Attribute keys of otelkit's metric catalog whose values are bounded by design.
DEFAULT_DIMENSIONS: tuple[str, ...] = (
    "http.request.method",
    "http.route",
    "http.response.status_code",
    "error.type",
    "db.system.name",
    "db.operation.name",
    "db.collection.name",
    "db.client.connection.pool.name",
    "db.client.connection.state",
    "celery.task.name",
    "celery.task.state",
    "messaging.destination.name",
    "component",
    "reason",
    # system/process metrics: small fixed sets (older and current semantic conventions)
    "state",
    "direction",
    "cpu.mode",
    "system.memory.state",
    "network.io.direction",
)

# Counters and histograms as deltas (CloudWatch sums per period); levels stay cumulative.
TEMPORALITY: Mapping[type, AggregationTemporality] = {
    Counter: AggregationTemporality.DELTA,
    ObservableCounter: AggregationTemporality.DELTA,
    Histogram: AggregationTemporality.DELTA,
    UpDownCounter: AggregationTemporality.CUMULATIVE,
    ObservableUpDownCounter: AggregationTemporality.CUMULATIVE,
    ObservableGauge: AggregationTemporality.CUMULATIVE,
    # The synchronous Gauge is cumulative whatever the preference (the reader's default), so it
    # needs no entry: its class is private to the SDK (``_Gauge``).
}


def cloudwatch_unit(unit: str | None) -> str:
    unit = (unit or "").strip()
    if unit in UNITS:
        return UNITS[unit]
    if unit.startswith("{") and unit.endswith("}"):
        return "Count"
    return "None"


def _number(value: float) -> float | int | None:
    """A JSON-safe number: NaN and infinities cannot be EMF values."""
    if isinstance(value, int):
        return value
    return value if math.isfinite(value) else None


def _midpoints(
    bounds: Sequence[float], counts: Sequence[int], low: float, high: float
) -> tuple[list[float], list[int]]:
    """Midpoints of the non-empty buckets, clamped to the recorded [low, high]."""
    values: list[float] = []
    weights: list[int] = []
    for index, count in enumerate(counts):
        if not count:
            continue
        lower = bounds[index - 1] if index > 0 else -math.inf
        upper = bounds[index] if index < len(bounds) else math.inf
        lower = max(lower, low)
        upper = min(upper, high)
        if upper < lower:
            upper = lower
        values.append((lower + upper) / 2)
        weights.append(count)
    return values, weights


def _exponential_buckets(
    point: ExponentialHistogramDataPoint,
) -> tuple[list[float], list[int]]:
    base = 2.0 ** (2.0**-point.scale)
    values: list[float] = []
    weights: list[int] = []
    # negative buckets: most negative first, so values come out ascending
    negative = point.negative
    for index in reversed(range(len(negative.bucket_counts))):
        count = negative.bucket_counts[index]
        if count:
            i = negative.offset + index
            values.append(-(base**i + base ** (i + 1)) / 2)
            weights.append(count)
    if point.zero_count:
        values.append(0.0)
        weights.append(point.zero_count)
    positive = point.positive
    for index, count in enumerate(positive.bucket_counts):
        if count:
            i = positive.offset + index
            values.append((base**i + base ** (i + 1)) / 2)
            weights.append(count)
    low, high = point.min, point.max
    return [min(max(v, low), high) for v in values], weights


def _histogram_value(
    point: HistogramDataPoint | ExponentialHistogramDataPoint, with_values: bool
) -> dict[str, Any] | None:
    if not point.count:
        return None
    low = point.min if math.isfinite(point.min) else 0.0
    high = point.max if math.isfinite(point.max) else 0.0
    value: dict[str, Any] = {
        "Max": high,
        "Min": low,
        "Count": point.count,
        "Sum": _number(point.sum) or 0,
    }
    if with_values:
        if isinstance(point, HistogramDataPoint):
            values, counts = _midpoints(point.explicit_bounds, point.bucket_counts, low, high)
        else:
            values, counts = _exponential_buckets(point)
        if 0 < len(values) <= MAX_VALUES:
            # Values/Counts first: consumers that read only the arrays see the distribution.
            value = {"Values": values, "Counts": counts, **value}
    return value


def _dimension_value(value: object) -> str | None:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        return None  # sequences are not dimension values
    text = text.strip()
    return text[:MAX_NAME_LENGTH] if text else None


def dimensions_of(
    attributes: Mapping[str, object],
    resource: Mapping[str, object],
    allowed: Sequence[str],
    metric_name: str,
) -> dict[str, str]:
    """The allow-listed attributes present on the point (or the resource), at most 30."""
    found: dict[str, str] = {}
    for key in allowed:
        if key == metric_name or key == "_aws":
            continue
        raw = attributes.get(key)
        if raw is None:
            raw = resource.get(key)
        value = _dimension_value(raw) if raw is not None else None
        if value is not None:
            found[key] = value
            if len(found) == MAX_DIMENSIONS:
                break
    return found


def _merge_histograms(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {
        "Max": max(first["Max"], second["Max"]),
        "Min": min(first["Min"], second["Min"]),
        "Count": first["Count"] + second["Count"],
        "Sum": first["Sum"] + second["Sum"],
    }
    if "Values" in first and "Values" in second:
        counts: dict[float, int] = {}
        for part in (first, second):
            for value, count in zip(part["Values"], part["Counts"], strict=True):
                counts[value] = counts.get(value, 0) + count
        if len(counts) <= MAX_VALUES:
            ordered = sorted(counts)
            merged = {"Values": ordered, "Counts": [counts[v] for v in ordered], **merged}
    return merged


def _point_value(body: Any, point: Any, with_values: bool) -> Any:
    if isinstance(body, (SumData, GaugeData)) and isinstance(point, NumberDataPoint):
        return _number(point.value)
    if isinstance(body, (HistogramData, ExponentialHistogram)) and isinstance(
        point, (HistogramDataPoint, ExponentialHistogramDataPoint)
    ):
        return _histogram_value(point, with_values)
    return None


def records(
    data: MetricsData,
    namespace: str,
    dimensions: Sequence[str],
    histograms: str = "values",
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(timestamp in ms, EMF record)`` per metric and distinct set of dimension values.

    Points that differ only in attributes outside the allow-list are merged: sums are added,
    gauge values become an EMF value array (each one a sample), histograms are combined.
    """
    with_values = histograms == "values"
    for resource_metrics in data.resource_metrics:
        # plain dicts: the SDK's attribute mappings are slow to probe key by key
        resource = {
            k: v for k, v in resource_metrics.resource.attributes.items() if k in dimensions
        }
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                name = metric.name[:MAX_NAME_LENGTH]
                unit = cloudwatch_unit(metric.unit)
                body = metric.data
                is_gauge = isinstance(body, GaugeData)
                groups: dict[tuple[tuple[str, str], ...], tuple[int, dict[str, str], Any]] = {}
                for point in body.data_points:
                    value = _point_value(body, point, with_values)
                    if value is None:
                        continue
                    dims = dimensions_of(dict(point.attributes or {}), resource, dimensions, name)
                    timestamp = point.time_unix_nano // 1_000_000
                    key = tuple(dims.items())
                    if key not in groups:
                        groups[key] = (timestamp, dims, [value] if is_gauge else value)
                        continue
                    seen, _, earlier = groups[key]
                    if is_gauge:
                        earlier.append(value)
                        combined = earlier
                    elif isinstance(value, dict):
                        combined = _merge_histograms(earlier, value)
                    else:
                        combined = earlier + value
                    groups[key] = (max(seen, timestamp), dims, combined)
                for timestamp, dims, value in groups.values():
                    if is_gauge:
                        value = value[0] if len(value) == 1 else value[:MAX_VALUES]
                    yield timestamp, _record(namespace, name, unit, timestamp, dims, value)


def _record(
    namespace: str, name: str, unit: str, timestamp: int, dims: Mapping[str, str], value: Any
) -> dict[str, Any]:
    return {
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(dims)],
                    "Metrics": [{"Name": name, "Unit": unit}],
                }
            ],
        },
        **dims,
        name: value,
    }


def encode(record: Mapping[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


Sink = Callable[[Sequence[tuple[int, str]]], bool]
"""Writes ``(timestamp ms, message)`` events; returns False if some could not be delivered."""


class EmfMetricExporter(MetricExporter):
    """A push exporter that hands EMF records to a sink (CloudWatch Logs or stdout)."""

    def __init__(
        self,
        sink: Sink,
        namespace: str,
        dimensions: Sequence[str] = DEFAULT_DIMENSIONS,
        histograms: str = "values",
        close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(preferred_temporality=dict(TEMPORALITY))
        self.sink = sink
        self.namespace = namespace
        self.dimensions = tuple(dimensions)
        self.histograms = histograms
        self._close = close

    def encode(self, data: MetricsData) -> list[tuple[int, str]]:
        return [
            (timestamp, encode(record))
            for timestamp, record in records(data, self.namespace, self.dimensions, self.histograms)
        ]

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        events = self.encode(metrics_data)
        if not events:
            return MetricExportResult.SUCCESS
        ok = self.sink(events)
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        if self._close is not None:
            self._close()
