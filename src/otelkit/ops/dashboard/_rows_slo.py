"""SLO row: error budget remaining and burn rates, read from the generated SLO recording rules.

The rules (``otelkit.ops.rules``) record, per service and SLO (labels ``job`` and ``slo``), the
SLI error ratio over the standard windows and the budget remaining over the SLO's period; the
burn rate is that error ratio divided by the budget (``1 - objective``), so 1 spends exactly
the budget over the period and 14.4 pages.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from otelkit.ops.dashboard._model import Panel, Row, Target
from otelkit.ops.dashboard._promql import SERVICE_LABEL, by
from otelkit.ops.rules._slo_rules import BUDGET, OBJECTIVE, SLI

if TYPE_CHECKING:
    from collections.abc import Sequence

    from otelkit.ops.rules import SLO

KEYS = (SERVICE_LABEL, "slo")
LEGEND = "{{slo}} {{job}}"
BURN_WINDOWS = ("5m", "1h", "6h", "3d")
"""The short and long windows of the page (5m, 1h), and the long ones of the tickets."""


def rows(slos: Sequence[SLO]) -> tuple[Row, ...]:
    if not slos:
        return ()
    chosen = f'{SERVICE_LABEL}=~"$service", slo=~"{_names(slos)}"'
    budget = by(KEYS, f"{BUDGET}{{{chosen}}}", "min")

    def burn(window: str) -> str:
        ratio = by(KEYS, f"{SLI}{window}{{{chosen}}}", "max")
        objective = by(("slo",), OBJECTIVE, "max")
        return f"{ratio} / on (slo) group_left () (1 - {objective})"

    table = Panel(
        "SLOs now",
        "table",
        (
            Target(budget, "budget left", True, "percentunit"),
            *(Target(burn(w), f"burn {w}", True, "short") for w in ("1h", "6h", "3d")),
        ),
        description="Each SLO of each service: budget left over its period, burn rates.",
        width=24,
    )
    return (
        Row(
            "SLOs: burn rate and error budget",
            (
                table,
                Panel(
                    "Error budget remaining",
                    "timeseries",
                    (Target(budget, LEGEND),),
                    unit="percentunit",
                    description="1 is the whole budget of the period; below 0 the SLO is missed.",
                    width=12,
                ),
                Panel(
                    "Burn rate",
                    "timeseries",
                    tuple(Target(burn(w), f"{LEGEND} {w}") for w in BURN_WINDOWS),
                    description="Error ratio / budget: 1 spends the budget exactly over the "
                    "period; the page fires at 14.4 (1 h and 5 m) or 6 (6 h and 30 m).",
                    width=12,
                ),
            ),
        ),
    )


def _names(slos: Sequence[SLO]) -> str:
    return "|".join(re.escape(slo.name).replace("\\", "\\\\") for slo in slos)
