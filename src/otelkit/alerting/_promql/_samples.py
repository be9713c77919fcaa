"""The SDK's ``MetricsData`` as Prometheus series, named as otelkit's exposition names them.

Counters become ``<family>_total``, histograms ``<family>_bucket`` (cumulative, with ``le``),
``_count`` and ``_sum``, gauges and up-down counters ``<family>``; attribute keys become label
names with the exposition's own translation. Every series gets ``job`` (the service name, as
Prometheus' scrape job) and ``instance``. Only the names the rules select are converted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.sdk.metrics.export import AggregationTemporality, Gauge, Histogram, Sum

from otelkit.alerting._matchers import text_of
from otelkit.metrics._prometheus_names import label_name, metric_name

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from opentelemetry.sdk.metrics.export import MetricsData

__all__ = ["Labels", "Series", "le_text", "make_labels", "series_of"]

Labels = tuple[tuple[str, str], ...]
"""Sorted (name, value) pairs; ``__name__`` among them for a selected series."""
Series = dict[str, list[tuple[Labels, float]]]
"""Series by metric name."""

_CUMULATIVE = AggregationTemporality.CUMULATIVE


def make_labels(labels: Mapping[str, str]) -> Labels:
    return tuple(sorted((k, v) for k, v in labels.items() if v != ""))


def le_text(bound: float) -> str:
    """A bucket boundary as the exposition writes it (``0.5``, ``1.0``, ``+Inf``)."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


def _family(name: str, unit: str, data: object) -> tuple[str, str] | None:
    """(family, kind) of a metric the rules can read; None for delta and exponential data."""
    if isinstance(data, Gauge):
        return metric_name(name, unit, "gauge"), "gauge"
    if isinstance(data, Sum):
        if not data.is_monotonic:
            return metric_name(name, unit, "gauge"), "gauge"
        if data.aggregation_temporality == _CUMULATIVE:
            return metric_name(name, unit, "counter"), "counter"
        return None
    if isinstance(data, Histogram) and data.aggregation_temporality == _CUMULATIVE:
        return metric_name(name, unit, "histogram"), "histogram"
    return None


def series_of(data: MetricsData | None, wanted: Collection[str], base: Mapping[str, str]) -> Series:
    """The series named in ``wanted`` found in ``data``, each with the ``base`` labels."""
    found: Series = {}
    if data is None:
        return found
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                shape = _family(metric.name, metric.unit or "", metric.data)
                if shape is None:
                    continue
                family, kind = shape
                if kind == "histogram":
                    names = (family + "_bucket", family + "_count", family + "_sum")
                    if any(n in wanted for n in names):
                        _histogram(found, family, metric.data.data_points, base, wanted)
                elif family in wanted:
                    out = found.setdefault(family, [])
                    for point in metric.data.data_points:
                        labels = _labels(point.attributes, base, family)
                        out.append((labels, float(point.value)))  # type: ignore[union-attr]
    return found


def _labels(
    attributes: Mapping[str, object] | None, base: Mapping[str, str], name: str, **extra: str
) -> Labels:
    labels = dict(base)
    for key, value in (attributes or {}).items():
        labels[label_name(key)] = text_of(value)
    labels.update(extra)
    labels["__name__"] = name
    return make_labels(labels)


def _histogram(
    found: Series,
    family: str,
    points: object,
    base: Mapping[str, str],
    wanted: Collection[str],
) -> None:
    buckets = found.setdefault(family + "_bucket", []) if family + "_bucket" in wanted else None
    counts = found.setdefault(family + "_count", []) if family + "_count" in wanted else None
    sums = found.setdefault(family + "_sum", []) if family + "_sum" in wanted else None
    for point in points:  # type: ignore[attr-defined]
        if buckets is not None:
            cumulative = 0.0
            bounds = [*point.explicit_bounds, float("inf")]
            for bound, count in zip(bounds, point.bucket_counts, strict=True):
                cumulative += count
                labels = _labels(point.attributes, base, family + "_bucket", le=le_text(bound))
                buckets.append((labels, cumulative))
        if counts is not None:
            counts.append((_labels(point.attributes, base, family + "_count"), float(point.count)))
        if sums is not None:
            sums.append((_labels(point.attributes, base, family + "_sum"), float(point.sum)))
