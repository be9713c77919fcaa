"""Rates, error ratios and quantiles over the window: two readings in, JSON-ready figures out.

Every figure over the window is the difference between the reading of now and the baseline
(the oldest reading kept within the window); without a baseline (the first look) rates are
unknown (``null``) and ratios and quantiles cover everything since the process started.
Quantiles are interpolated within histogram buckets as Prometheus' ``histogram_quantile``
does (``otelkit.alerting._quantile``), so they match a PromQL query over the same buckets.
"""

from __future__ import annotations

import itertools
import math
import operator
from array import array
from typing import TYPE_CHECKING, Any

from otelkit.alerting._quantile import histogram_quantile
from otelkit.status._read import Totals

if TYPE_CHECKING:
    from collections.abc import Sequence

    from otelkit.status._read import Reading

__all__ = [
    "QUANTILES",
    "delta",
    "interval",
    "number",
    "routes",
    "series",
    "tasks",
    "totals",
]

QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


def number(value: float | None, digits: int = 6) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


def delta(now: Totals, before: Totals | None) -> Totals:
    """What happened between two totals; a total that went down (a counter restarted) counts
    from zero."""
    if before is None or before.count > now.count:
        return now
    change = Totals(bounds=now.bounds, count=now.count - before.count)
    change.errors = max(0.0, now.errors - before.errors)
    if before.bounds == now.bounds and len(before.buckets) == len(now.buckets):
        change.buckets = array("d", map(operator.sub, now.buckets, before.buckets))
        if change.buckets and min(change.buckets) < 0:  # cannot happen to a counter: be safe
            change.buckets = array("d", (max(0.0, value) for value in change.buckets))
    else:
        change.buckets = array("d", now.buckets)
    return change


def interval(now: Reading, baseline: Reading | None) -> float | None:
    """Seconds the window covers, None without a baseline."""
    if baseline is None or now.taken <= baseline.taken:
        return None
    return now.taken - baseline.taken


def _window_figures(change: Totals, seconds: float | None) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "rps": number(change.count / seconds, 4) if seconds else None,
        "error_ratio": number(change.errors / change.count) if change.count else None,
    }
    for key, q in QUANTILES:
        figures[key] = number(histogram_quantile(q, change.bounds, change.buckets), 9)
    return figures


def routes(now: Reading, baseline: Reading | None) -> list[dict[str, Any]]:
    """One row per route, the busiest over the window first."""
    seconds = interval(now, baseline)
    rows = []
    for route, totals in now.routes.items():
        before = baseline.routes.get(route, Totals()) if baseline is not None else None
        change = delta(totals, before)
        rows.append(
            {
                "route": route,
                "requests": number(totals.count),
                "errors": number(totals.errors),
                **_window_figures(change, seconds),
                "_order": change.count,
            }
        )
    rows.sort(key=lambda row: (-row.pop("_order"), row["route"]))
    return rows


def totals(now: Reading, baseline: Reading | None) -> dict[str, Any]:
    """The whole service: every route added up."""
    seconds = interval(now, baseline)
    before = baseline.total() if baseline is not None else None
    current = now.total()
    return {
        "requests": number(current.count),
        "errors": number(current.errors),
        **_window_figures(delta(current, before), seconds),
    }


def tasks(now: Reading, baseline: Reading | None) -> list[dict[str, Any]]:
    """One row per Celery task: runs and failures, in total and per second over the window."""
    seconds = interval(now, baseline)
    rows = []
    for name, runs in sorted(now.tasks.items()):
        before = baseline.tasks.get(name, Totals()) if baseline is not None else None
        change = delta(runs, before)
        rows.append(
            {
                "task": name,
                "runs": number(runs.count),
                "failures": number(runs.errors),
                "rps": number(change.count / seconds, 4) if seconds else None,
                "failure_ratio": number(change.errors / change.count) if change.count else None,
            }
        )
    return rows


def series(history: Sequence[Reading]) -> dict[str, list[float | None]]:
    """The chart data: per interval between two kept readings, the service's figures."""
    columns: dict[str, list[float | None]] = {
        "t": [],
        "rps": [],
        "error_ratio": [],
        **{key: [] for key, _ in QUANTILES},
    }
    for before, now in itertools.pairwise(history):
        figures = totals(now, before)
        columns["t"].append(round(now.taken, 3))
        for key in columns:
            if key != "t":
                columns[key].append(figures[key])
    return columns
