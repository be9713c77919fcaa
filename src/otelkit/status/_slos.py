"""The declared objectives (``register_slo``) against the HTTP figures this process has.

For each HTTP objective (one route, or the whole service): the share of bad events since the
process started and over the window, the error budget left (1 - bad share ÷ allowed share; 0
or below: spent) and the burn rate over the window (bad share ÷ allowed share; 1 spends the
budget exactly over the objective's period). Since-start figures cover this process's (or
pre-fork server's) life, not the objective's whole period: Prometheus holds that (the
generated rules). Availability counts 5xx as bad; latency counts what is slower than the
largest bucket boundary at or below the threshold (the rules require the threshold to be a
boundary). Objectives about a business function are listed without figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otelkit.status._figures import delta, number
from otelkit.status._read import Totals

if TYPE_CHECKING:
    from otelkit.ops.rules._slo import SLO
    from otelkit.status._read import Reading

__all__ = ["figures"]


def _bad(slo: SLO, totals: Totals) -> float | None:
    """The bad events among ``totals`` (None: the histogram cannot tell)."""
    if slo.latency is None:
        return totals.errors
    if not totals.buckets:
        return 0.0
    good = sum(
        count
        for bound, count in zip(totals.bounds, totals.buckets[:-1], strict=True)
        if bound <= slo.latency + 1e-12
    )
    return totals.count - good


def _selected(slo: SLO, reading: Reading) -> Totals:
    if slo.route is not None:
        return reading.routes.get(slo.route, Totals())
    return reading.total()


def _share(slo: SLO, totals: Totals) -> float | None:
    bad = _bad(slo, totals)
    return bad / totals.count if totals.count and bad is not None else None


def _one(slo: SLO, now: Reading, baseline: Reading | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": slo.name,
        "kind": slo.kind,
        "objective": slo.objective,
        "latency": slo.latency,
        "route": slo.route,
        "function": slo.function,
        "period": slo.period,
        "bad_ratio": None,
        "budget_remaining": None,
        "window_bad_ratio": None,
        "burn_rate": None,
    }
    if slo.function is not None:
        return row
    allowed = slo.error_budget
    current = _selected(slo, now)
    overall = _share(slo, current)
    if overall is not None:
        row["bad_ratio"] = number(overall)
        row["budget_remaining"] = number(1 - overall / allowed)
    if baseline is not None:
        windowed = _share(slo, delta(current, _selected(slo, baseline)))
        if windowed is not None:
            row["window_bad_ratio"] = number(windowed)
            row["burn_rate"] = number(windowed / allowed, 4)
    return row


def figures(now: Reading, baseline: Reading | None) -> list[dict[str, Any]]:
    """One row per declared objective (none declared: an empty list)."""
    from otelkit.ops.rules._slo import registered_slos  # the rules package: on first use only

    return [_one(slo, now, baseline) for slo in registered_slos()]
