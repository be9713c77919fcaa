"""Health row: each readiness check, passing or failing, over every instance and worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit.ops.dashboard._model import Panel, Row, Target
from otelkit.ops.dashboard._promql import INSTANCE_LABEL, by, label, selector

if TYPE_CHECKING:
    from otelkit.ops.dashboard._names import Names

STATUS = "otelkit.health.status"
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
            ),
        ),
    )
