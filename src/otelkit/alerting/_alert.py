"""``Alert``: one alert of one rule, as notified to the channels and to ``on_alert`` callbacks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from otelkit.alerting._promql._rule import PromRule
    from otelkit.alerting._rules import AlertRule

__all__ = ["FIRING", "PENDING", "RESOLVED", "Alert"]

PENDING, FIRING, RESOLVED = "pending", "firing", "resolved"


def iso(timestamp: float | None) -> str | None:
    """Wall-clock seconds as RFC 3339 UTC (``2025-01-31T12:00:00.250Z``)."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Alert:
    """An alert instance: the rule, the group's labels, its state and the value seen.

    ``state`` is ``firing`` or ``resolved`` in notifications (``pending`` too when listed by
    ``Telemetry.alerts.alerts()``). Times are wall-clock seconds (``time.time()``):
    ``active_at`` when the condition began to hold, ``fired_at`` when the ``for`` duration was
    over, ``resolved_at`` when it stopped holding. ``repeat`` marks a reminder of an alert that
    is still firing (after ``repeat_interval``).
    """

    rule: AlertRule | PromRule
    state: str
    labels: Mapping[str, str]
    value: float | None
    active_at: float
    fired_at: float | None = None
    resolved_at: float | None = None
    expression: str = ""
    service: str | None = None
    repeat: bool = False

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    def severity(self) -> str:
        return self.rule.severity

    @property
    def subject(self) -> str:
        """``[FIRING] HighErrorRate (critical) - orders``: an e-mail subject, a chat title."""
        service = f" - {self.service}" if self.service else ""
        return f"[{self.state.upper()}] {self.name} ({self.severity}){service}"

    @property
    def text(self) -> str:
        """One line for people: what fired, where, the value and the condition."""
        value = "no data" if self.value is None else f"{self.value:.6g}"
        groups = {k: v for k, v in self.labels.items() if k not in ("alertname", "severity")}
        where = " {" + ", ".join(f"{k}={v}" for k, v in groups.items()) + "}" if groups else ""
        if self.state == RESOLVED:
            detail = f"resolved, value now {value} (condition: {self.expression})"
        else:
            detail = f"{self.expression} (value {value})"
        text = self.rule.summary_of(self.labels, self.value)
        summary = f" - {text}" if text else ""
        return f"{self.subject}{where}: {detail}{summary}"

    def to_dict(self) -> dict[str, Any]:
        """The structured fields of a notification (JSON-ready)."""
        value = self.value if self.value is not None and math.isfinite(self.value) else None
        return {
            "status": self.state,
            "alertname": self.name,
            "severity": self.severity,
            "service": self.service,
            "metric": self.rule.metric,
            "aggregation": self.rule.aggregation,
            "expression": self.expression,
            "operator": self.rule.operator,
            "threshold": self.rule.threshold,
            "value": value,
            "labels": dict(self.labels),
            "summary": self.rule.summary_of(self.labels, self.value),
            "active_at": iso(self.active_at),
            "fired_at": iso(self.fired_at),
            "resolved_at": iso(self.resolved_at),
            "repeat": self.repeat,
            "annotations": self.rule.annotations_of(self.labels, self.value),
        }
