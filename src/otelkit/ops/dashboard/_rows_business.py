"""Business row: one panel per metric the application declares, drawn as its instrument reads.

A counter is a rate over time; a histogram its p50/p95/p99; a gauge or up-down counter its
current value with a sparkline. Every panel sums (counters, histograms, up-down counters) or
takes the highest value (gauges: a queue depth every worker reports the same way must not be
counted once per worker) over workers and replicas, split only by the metric's own attributes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit.ops.dashboard._model import Panel, PanelKind, Row, Target
from otelkit.ops.dashboard._names import series_of
from otelkit.ops.dashboard._promql import by, quantile, selector, sum_rate

if TYPE_CHECKING:
    from otelkit.ops.catalog import Catalog, MetricSpec

# OpenTelemetry unit -> Grafana unit of the value, and of its per-second rate
UNITS = {"s": "s", "ms": "ms", "us": "µs", "ns": "ns", "By": "bytes", "1": "percentunit"}
RATE_UNITS = {"By": "Bps"}
QUANTILES = (0.5, 0.95, 0.99)


def rows(catalog: Catalog) -> tuple[Row, ...]:
    panels = tuple(panel(spec) for spec in catalog.business())
    return (Row("Business metrics", panels),) if panels else ()


def panel(spec: MetricSpec) -> Panel:
    """The panel of one business metric, chosen by its instrument."""
    keys = spec.prometheus_labels()
    legend = " ".join(f"{{{{{key}}}}}" for key in keys) or spec.name
    kind = spec.prometheus_kind  # counter, histogram, or gauge (up-down counters included)
    unit = UNITS.get(spec.unit, "short")
    targets: tuple[Target, ...]
    shown: PanelKind = "timeseries"
    if kind == "histogram":
        buckets = selector(series_of(spec, "_bucket"))
        targets = tuple(
            Target(quantile(q, buckets, keys), f"p{q * 100:g} {legend}".strip()) for q in QUANTILES
        )
        what = "p50 / p95 / p99"
    elif kind == "counter":
        targets = (Target(sum_rate(selector(series_of(spec)), keys), legend),)
        unit = RATE_UNITS.get(spec.unit, "ops")
        what = "per second"
    else:
        how = "sum" if spec.instrument.endswith("updowncounter") else "max"
        targets = (Target(by(keys, selector(series_of(spec)), how), legend),)
        shown = "stat"
        what = "now" if how == "max" else "now, all workers"
    return Panel(
        f"{spec.name} ({what})",
        shown,
        targets,
        unit=unit,
        description=spec.description,
    )
