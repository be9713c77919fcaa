"""A rule file's rules, compiled, and evaluated in file order at each evaluation.

Recording rules write their result under their name (with their labels), where the rules after
them read it, as Prometheus' rules of one group do. Alerting rules give a vector; each element
is an alert instance, identified by its labels (the rule's labels added). A rule outside the
subset, or one that reads such a recording rule, is listed in ``unsupported`` with the reason
and not evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from otelkit.alerting._promql._compile import Context, Unsupported, compile_expression
from otelkit.alerting._promql._samples import make_labels, series_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opentelemetry.sdk.metrics.export import MetricsData

    from otelkit.alerting._promql._compile import Compiled
    from otelkit.alerting._promql._rule import PromRule
    from otelkit.alerting._promql._samples import Labels, Series

__all__ = ["Program", "RuleKey", "Skipped"]

RuleKey = tuple[str, ...]
"""An alert instance's labels, flattened: name, value, name, value, …"""


@dataclass(frozen=True)
class Skipped:
    """A rule the in-process engine does not evaluate, and why."""

    group: str
    name: str
    kind: str
    """``alert`` or ``record``."""
    reason: str

    def __str__(self) -> str:
        return f"{self.kind} rule {self.name!r} (group {self.group!r}): {self.reason}"


@dataclass
class _Recording:
    name: str
    compiled: Compiled
    labels: Mapping[str, str]


class Program:
    """The evaluable rules of one file; ``unsupported`` lists the others."""

    def __init__(self) -> None:
        self.steps: list[_Recording | tuple[PromRule, Compiled]] = []
        self.unsupported: list[Skipped] = []
        self._recorded: set[str] = set()
        self._skipped_records: dict[str, str] = {}
        self.reads: set[str] = set()
        """The scraped (not recorded) metric names the rules read."""

    def add_recording(self, group: str, name: str, expr: str, labels: Mapping[str, str]) -> None:
        """Compile a recording rule; ``ValueError`` for bad PromQL, outside the subset noted."""
        compiled = self._compile(group, name, "record", expr)
        if compiled is None:
            self._skipped_records.setdefault(name, self.unsupported[-1].reason)
            return
        self.steps.append(_Recording(name, compiled, dict(labels)))
        self._recorded.add(name)
        self.reads.update(compiled.metrics - self._recorded)

    def add_alert(self, rule: PromRule) -> PromRule | None:
        """Compile an alerting rule; None when it is noted as unsupported."""
        compiled = self._compile(rule.group, rule.name, "alert", rule.expr)
        if compiled is None:
            return None
        operator, threshold = compiled.comparison or ("", None)
        metric = min(compiled.metrics) if compiled.metrics else ""
        rule = replace(rule, metric=metric, operator=operator, threshold=threshold)
        self.steps.append((rule, compiled))
        self.reads.update(compiled.metrics - self._recorded)
        return rule

    @property
    def rules(self) -> list[PromRule]:
        """The alerting rules that are evaluated."""
        return [step[0] for step in self.steps if isinstance(step, tuple)]

    @property
    def recorded(self) -> frozenset[str]:
        return frozenset(self._recorded)

    def reads_by_rule(self) -> dict[str, set[str]]:
        """Each evaluated rule's name → the scraped metric names it reads."""
        reads: dict[str, set[str]] = {}
        for step in self.steps:
            name, compiled = (
                (step.name, step.compiled)
                if isinstance(step, _Recording)
                else (
                    step[0].name,
                    step[1],
                )
            )
            reads.setdefault(name, set()).update(compiled.metrics - self._recorded)
        return reads

    def _compile(self, group: str, name: str, kind: str, expr: str) -> Compiled | None:
        try:
            compiled = compile_expression(expr)
        except Unsupported as exc:
            self.unsupported.append(Skipped(group, name, kind, str(exc)))
            return None
        for metric in sorted(compiled.metrics):
            if metric in self._skipped_records and metric not in self._recorded:
                reason = f"it reads {metric!r}, a recording rule that is not evaluated " + (
                    f"({self._skipped_records[metric]})"
                )
                self.unsupported.append(Skipped(group, name, kind, reason))
                return None
        return compiled

    def evaluate(
        self, now: float, data: MetricsData | None, base: Mapping[str, str]
    ) -> dict[PromRule, dict[RuleKey, float]]:
        """Every alerting rule's result at ``now``: per instance (its labels), its value."""
        series: Series = series_of(data, self.reads, base)
        context = Context(now, series)
        results: dict[PromRule, dict[RuleKey, float]] = {}
        seen: set[str] = set()
        for step in self.steps:
            if isinstance(step, _Recording):
                # Several groups may record one name (with different labels): add them up.
                recorded = series.setdefault(step.name, []) if step.name in seen else []
                seen.add(step.name)
                series[step.name] = recorded
                recorded.extend(
                    (_relabel(labels, step.labels, step.name), value)
                    for labels, value in step.compiled.vector(context).items()
                )
                continue
            rule, compiled = step
            results[rule] = {
                _flatten(_relabel(labels, rule.labels, None)): value
                for labels, value in compiled.vector(context).items()
            }
        return results


def _relabel(labels: Labels, extra: Mapping[str, str], name: str | None) -> Labels:
    merged = {k: v for k, v in labels if k != "__name__"}
    merged.update(extra)
    if name is not None:
        merged["__name__"] = name
    return make_labels(merged)


def _flatten(labels: Labels) -> RuleKey:
    return tuple(part for pair in labels for part in pair)


def unflatten(key: RuleKey) -> dict[str, str]:
    """A ``RuleKey`` back to its labels."""
    return dict(zip(key[::2], key[1::2], strict=True))
