"""What a dashboard holds, before it is Grafana JSON: rows of panels of PromQL targets.

The row modules describe panels with these plain values; ``_panels`` turns them into the
grafana-foundation-sdk builders. Keeping the description free of the SDK lets the rows be read
(and the PromQL checked) without the SDK's import cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

PanelKind = Literal["timeseries", "stat", "table", "heatmap"]
"""timeseries: lines over time; stat: the current value with a sparkline; table: one instant
query row per series; heatmap: a histogram's buckets over time."""


@dataclass(frozen=True)
class Target:
    """One PromQL query of a panel and the legend of its series."""

    expr: str
    legend: str = ""
    instant: bool = False
    """An instant query at the end of the range (tables), instead of a range query."""
    unit: str | None = None
    """The unit of this query's column in a table (the panel's unit otherwise)."""


@dataclass(frozen=True)
class Panel:
    """One panel: a title, what its value means, how it is drawn and its queries."""

    title: str
    kind: PanelKind
    targets: tuple[Target, ...]
    unit: str = "short"
    """A Grafana unit id (``s``, ``reqps``, ``percentunit``, ``bytes``, ...)."""
    description: str = ""
    width: int = 8
    """Grid columns out of 24."""
    height: int = 8
    max_value: float | None = None


@dataclass(frozen=True)
class Row:
    """A titled row of panels."""

    title: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)
