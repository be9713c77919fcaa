"""``PromRule``: an alerting rule of a Prometheus rule file, as the engine and channels see it.

It offers what an ``AlertRule`` offers the state machine and the notifications (name,
severity, ``for``, labels, a summary, the condition's operator and threshold when the
expression ends in one), with the expression itself in place of metric and aggregation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from otelkit.alerting._promql._template import expand

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["PromRule"]

_SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class PromRule:
    """An alerting rule read from a Prometheus rule file (``groups:``)."""

    name: str
    expr: str
    for_duration: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    group: str = ""
    metric: str = ""
    """The first metric the expression reads (for notifications)."""
    operator: str = ""
    threshold: float | None = None
    channels: tuple[str, ...] | None = None
    repeat_interval: float | None = None
    aggregation: str = "promql"

    @property
    def severity(self) -> str:
        """The ``severity`` label when it is info, warning or critical; else warning."""
        severity = self.labels.get("severity", "warning").lower()
        return severity if severity in _SEVERITIES else "warning"

    @property
    def summary(self) -> str:
        return self.annotations.get("summary", "")

    def summary_of(self, labels: Mapping[str, str], value: float | None) -> str:
        """The ``summary`` annotation with ``$labels`` and ``$value`` filled in."""
        return expand(self.summary, labels, value)

    def annotations_of(self, labels: Mapping[str, str], value: float | None) -> dict[str, str]:
        """Every annotation (``description``, ``runbook_url``, …), templates filled in."""
        return {name: expand(text, labels, value) for name, text in self.annotations.items()}

    def breached(self, value: float) -> bool:
        """Every element of the result fires (the comparison already filtered it)."""
        return not math.isnan(value) or not self.operator

    def expression(self, window: float | None = None) -> str:
        return " ".join(self.expr.split())

    def __hash__(self) -> int:
        return hash((self.group, self.name, self.expr))
