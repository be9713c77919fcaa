"""A catalog entry: a declared metric, plus the names Prometheus knows it by.

The Prometheus names come from the exposition's own translation (``metric_name`` of
``otelkit.metrics._prometheus_names``, which the exposition writes with), never from a copy of
its rules, so the rules and dashboards generated from the catalog query exactly the series
``/metrics`` serves.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from otelkit.metrics._prometheus_names import label_name, metric_name
from otelkit.metrics._spec import AttributeSpec
from otelkit.metrics._spec import MetricSpec as DeclaredMetric

__all__ = ["AttributeSpec", "MetricSpec", "prometheus_kind"]

_HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def prometheus_kind(instrument: str) -> str:
    """The Prometheus type an instrument is exposed as: a counter only if it is monotonic
    (up-down counters are gauges), a histogram, or a gauge."""
    if instrument in ("counter", "observable_counter"):
        return "counter"
    if instrument == "histogram":
        return "histogram"
    return "gauge"


@dataclass(frozen=True)
class MetricSpec(DeclaredMetric):
    """One metric otelkit can emit (see ``otelkit.metrics._spec.MetricSpec`` for the fields)."""

    @classmethod
    def of(cls, declared: DeclaredMetric) -> MetricSpec:
        """The catalog entry of a declaration."""
        if isinstance(declared, cls):
            return declared
        return cls(**{f.name: getattr(declared, f.name) for f in fields(declared)})

    @property
    def prometheus_kind(self) -> str:
        """``counter``, ``histogram`` or ``gauge``, as the exposition's ``# TYPE`` says."""
        return prometheus_kind(self.instrument)

    @property
    def prometheus_name(self) -> str:
        """The family name in the exposition, without the ``_total`` a counter's series get
        (``http_server_request_duration_seconds``)."""
        family = self.prometheus_family
        return family.removesuffix("_total") if self.prometheus_kind == "counter" else family

    @property
    def prometheus_family(self) -> str:
        """The family name of the exposition's ``# TYPE`` line: ``prometheus_name``, with
        ``_total`` for a counter (what a query names, but for a histogram's suffixes)."""
        return metric_name(self.name, self.unit, self.prometheus_kind)

    def prometheus_series(self) -> tuple[str, ...]:
        """The series names the exposition writes for this metric: ``_bucket``, ``_sum`` and
        ``_count`` of a histogram, the ``_total`` of a counter, the name of a gauge."""
        family = self.prometheus_family
        if self.prometheus_kind == "histogram":
            return tuple(family + suffix for suffix in _HISTOGRAM_SUFFIXES)
        return (family,)

    def prometheus_labels(self) -> tuple[str, ...]:
        """The label names of its attributes, as the exposition writes them."""
        return tuple(label_name(a.name) for a in self.attributes)

    def as_dict(self) -> dict[str, object]:
        """The spec as plain data (``otelkit metrics --output json``)."""
        return {
            "name": self.name,
            "integration": self.integration,
            "instrument": self.instrument,
            "unit": self.unit,
            "description": self.description,
            "opt_in": self.opt_in,
            "open_attributes": self.open_attributes,
            "attributes": [
                {
                    "name": a.name,
                    "status": a.status,
                    "values": list(a.values),
                    "description": a.description,
                }
                for a in self.attributes
            ],
            "prometheus": {
                "name": self.prometheus_name,
                "family": self.prometheus_family,
                "type": self.prometheus_kind,
                "series": list(self.prometheus_series()),
                "labels": list(self.prometheus_labels()),
            },
        }
