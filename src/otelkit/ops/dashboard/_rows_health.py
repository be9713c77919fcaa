"""Health row: each readiness check, passing or failing, over every instance and worker; the
overall status (the worst instance's) and how long each check takes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit.ops.dashboard._model import Panel, Row, Target
from otelkit.ops.dashboard._promql import INSTANCE_LABEL, by, label, quantile, selector

if TYPE_CHECKING:
    from otelkit.ops.dashboard._names import Names

STATUS = "otelkit.health.status"
OVERALL = "otelkit.health.overall.status"
DURATION = "otelkit.health.check.duration"
CHECK = label("otelkit.health.check")
CHECK_LEGEND = f"{{{{{CHECK}}}}}"


def rows(names: Names) -> tuple[Row, ...]:
    if STATUS not in names:
        return ()
    status = selector(names.series(STATUS))
    per_instance = by((INSTANCE_LABEL, CHECK), status, "min")
    return (
        Row(
            "Health checks",
            (
                Panel(
                    "Checks passing (worst instance)",
                    "stat",
                    (Target(by((CHECK,), status, "min"), CHECK_LEGEND),),
                    description="1 while the check passes everywhere, 0 if it fails anywhere.",
                    width=12,
                    max_value=1,
                ),
                Panel(
                    "Instances failing each check",
                    "timeseries",
                    (Target(by((CHECK,), f"1 - {per_instance}"), CHECK_LEGEND),),
                    description="How many instances report the check failing (0 is healthy).",
                    width=12,
                ),
                *_overall_and_latency(names),
            ),
        ),
    )


def _overall_and_latency(names: Names) -> tuple[Panel, ...]:
    panels: list[Panel] = []
    if OVERALL in names:
        panels.append(
            Panel(
                "Overall status (worst instance)",
                "stat",
                (Target(f"max({selector(names.series(OVERALL))})", "status"),),
                description="0 healthy, 1 degraded (a non-critical check or a status source "
                "fails), 2 unhealthy (a critical check fails: not ready).",
                width=12,
                max_value=2,
            )
        )
    if DURATION in names:
        buckets = selector(names.series(DURATION, "_bucket"))
        panels.append(
            Panel(
                "Check latency p95",
                "timeseries",
                (Target(quantile(0.95, buckets, (CHECK,)), CHECK_LEGEND),),
                unit="s",
                description="How long each check takes, 95th percentile over every instance; "
                "one close to its timeout is about to fail.",
                width=12,
            )
        )
    return tuple(panels)
