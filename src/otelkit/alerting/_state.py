"""The life of an alert, as in Prometheus: inactive → pending → firing → resolved.

At each evaluation, for each group of a rule:

- the condition holds and there is no alert (or a resolved one): it becomes ``pending``, active
  since now;
- it is ``pending`` and has held for ``for_duration``: it becomes ``firing`` and is notified
  (with ``for_duration`` 0, at the evaluation that first sees the condition);
- it is ``firing`` and still holds: nothing is sent before ``repeat_interval`` has passed since
  the last notification, then a reminder (``repeat=True``);
- the condition no longer holds, or the group has no data: a ``pending`` alert is dropped
  (back to inactive, nothing sent); a ``firing`` one becomes ``resolved`` and is notified.

A resolved alert stays listed for ``RESOLVED_RETENTION`` seconds (Prometheus keeps them 15
minutes), then it is inactive; if the condition holds again first, it is pending again.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from otelkit.alerting._alert import FIRING, PENDING, RESOLVED, Alert

if TYPE_CHECKING:
    from collections.abc import Mapping

    from otelkit.alerting._promql._rule import PromRule
    from otelkit.alerting._query import GroupKey, MetricIndex, Query
    from otelkit.alerting._rules import AlertRule

__all__ = ["RESOLVED_RETENTION", "RuleState"]

RESOLVED_RETENTION = 900.0


@dataclass
class _Instance:
    labels: Mapping[str, str]
    state: str
    active_at: float
    value: float | None
    fired_at: float | None = None
    resolved_at: float | None = None
    notified_at: float | None = None


class RuleState:
    """The alerts of one rule: its query, and one instance per group that is not inactive."""

    def __init__(
        self,
        rule: AlertRule | PromRule,
        query: Query,
        repeat_interval: float,
        service: str | None,
    ) -> None:
        self.rule = rule
        self.query = query
        self.repeat_interval = (
            rule.repeat_interval if rule.repeat_interval is not None else repeat_interval
        )
        self.service = service
        self.expression = rule.expression(query.window)
        self._base_labels = {"alertname": rule.name, "severity": rule.severity, **rule.labels}
        self._instances: dict[GroupKey, _Instance] = {}

    def evaluate(self, now: float, index: MetricIndex) -> list[Alert]:
        """Compute the rule on this collection and advance its alerts; return what to notify."""
        return self.step(now, self.query.evaluate(now, index))

    def step(self, now: float, values: Mapping[GroupKey, float]) -> list[Alert]:
        """Advance the alerts with the rule's value per group; return what to notify."""
        notify: list[Alert] = []
        rule = self.rule
        for key, value in values.items():
            instance = self._instances.get(key)
            if not rule.breached(value):
                if instance is not None:
                    instance.value = value
                continue
            if instance is None or instance.state == RESOLVED:
                labels = MappingProxyType({**self._base_labels, **self.query.group_labels(key)})
                instance = self._instances[key] = _Instance(labels, PENDING, now, value)
            instance.value = value
            if instance.state == PENDING and now - instance.active_at >= rule.for_duration:
                instance.state, instance.fired_at, instance.notified_at = FIRING, now, now
                notify.append(self._alert(instance))
            elif (
                instance.state == FIRING
                and instance.notified_at is not None
                and now - instance.notified_at >= self.repeat_interval
            ):
                instance.notified_at = now
                notify.append(self._alert(instance, repeat=True))
        for key, instance in list(self._instances.items()):
            holds = key in values and rule.breached(values[key])
            if holds:
                continue
            if key not in values:
                instance.value = None
            if instance.state == PENDING:
                del self._instances[key]
            elif instance.state == FIRING:
                instance.state, instance.resolved_at = RESOLVED, now
                notify.append(self._alert(instance))
            elif (
                instance.resolved_at is not None
                and now - instance.resolved_at >= RESOLVED_RETENTION
            ):
                del self._instances[key]
        return notify

    def alerts(self) -> list[Alert]:
        """The rule's pending, firing and recently resolved alerts."""
        return [self._alert(instance) for instance in self._instances.values()]

    def firing(self) -> bool:
        return any(i.state == FIRING for i in self._instances.values())

    def _alert(self, instance: _Instance, *, repeat: bool = False) -> Alert:
        return Alert(
            rule=self.rule,
            state=instance.state,
            labels=instance.labels,
            value=instance.value,
            active_at=instance.active_at,
            fired_at=instance.fired_at,
            resolved_at=instance.resolved_at,
            expression=self.expression,
            service=self.service,
            repeat=repeat,
        )
