"""One rule's expression over successive ``MetricsData`` snapshots: a number per group.

The engine's reader is cumulative, so a windowed aggregation (``rate``, ``ratio``, ``mean``,
percentiles) is the difference between the group's totals now and at the start of the window,
as PromQL's ``increase()`` is. ``Query`` keeps, per group, the totals it computed at earlier
evaluations, each stamped with its time; the baseline of the window ``[now - window, now]`` is
the newest of them at or before ``now - window``. A group that has no sample that old yet (the
engine started less than a window ago, or the group appeared since) is measured from the
evaluation before it was first seen, when its totals were zero: the window is then shorter or
longer than asked, never made up. A total that went down (a reset) restarts from zero.

Totals are added up per group before they are differenced, so the history holds one small
vector per group, not one per series; a series that appears later was zero before, so the sum
stays right. Nothing here raises on odd data: a rule that does not fit its metric (``p95`` of a
gauge) yields nothing and ``problem`` says why.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from operator import add, attrgetter
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    Sum,
)

from otelkit.alerting._matchers import text_of
from otelkit.alerting._quantile import histogram_quantile

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import Metric, MetricsData

    from otelkit.alerting._matchers import Matcher
    from otelkit.alerting._rules import AlertRule

__all__ = ["GroupKey", "MetricIndex", "Query"]

GroupKey = tuple[str, ...]
Vector = list[float]

_GAUGE, _COUNTER, _HISTOGRAM = "gauge", "counter", "histogram"
_NEEDS = {
    "value": (_GAUGE, _COUNTER),
    "rate": (_COUNTER, _HISTOGRAM),
    "ratio": (_GAUGE, _COUNTER, _HISTOGRAM),
    "mean": (_HISTOGRAM,),
}
_KIND_NAMES = {_GAUGE: "a gauge", _COUNTER: "a counter", _HISTOGRAM: "a histogram"}


class MetricIndex:
    """One collection's metrics by name (a metric may come from several scopes)."""

    __slots__ = ("by_name",)

    def __init__(self, data: MetricsData | None) -> None:
        by_name: dict[str, list[Metric]] = {}
        for resource_metrics in data.resource_metrics if data is not None else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    by_name.setdefault(metric.name, []).append(metric)
        self.by_name = by_name

    def get(self, name: str) -> Sequence[Metric]:
        return self.by_name.get(name, ())


def _kind(metric: Metric) -> str | None:
    """gauge, counter or histogram; None for what rules cannot read (delta, exponential)."""
    data = metric.data
    if isinstance(data, Gauge):
        return _GAUGE
    if isinstance(data, Sum):
        if not data.is_monotonic:
            return _GAUGE  # an up-down counter is read like a gauge
        if data.aggregation_temporality == AggregationTemporality.CUMULATIVE:
            return _COUNTER
        return None
    if isinstance(data, Histogram):
        if data.aggregation_temporality == AggregationTemporality.CUMULATIVE:
            return _HISTOGRAM
        return None
    return None


Attributes = Mapping[str, object]
Predicate = Callable[[Attributes], bool]
Extract = Callable[[Any, Attributes], Sequence[float]]
_NO_ATTRIBUTES: Attributes = {}


def _predicate(matchers: tuple[Matcher, ...]) -> Predicate | None:
    """All the matchers as one function of the attributes; None when there are none."""
    if not matchers:
        return None
    if len(matchers) == 1:
        name, test = matchers[0].attribute, matchers[0].test
        return lambda attributes: test(attributes.get(name))
    pairs = tuple((m.attribute, m.test) for m in matchers)
    return lambda attributes: all(test(attributes.get(name)) for name, test in pairs)


def _group_key(by: tuple[str, ...], attributes: Attributes) -> GroupKey:
    return tuple("" if (v := attributes.get(name)) is None else text_of(v) for name in by)


def _extractors(rule: AlertRule) -> dict[str, Extract]:
    """Per kind of metric, what one data point adds to its group's totals (decided once)."""
    aggregation = rule.aggregation
    if aggregation == "ratio":
        numerator = _predicate(rule.matchers("numerator")) or (lambda attributes: True)
        denominator = _predicate(rule.matchers("denominator")) or (lambda attributes: True)

        def ratio_of(amount: Callable[[Any], float]) -> Extract:
            def extract(point: Any, attributes: Attributes) -> Sequence[float]:
                value = amount(point)
                return (
                    value if numerator(attributes) else 0.0,
                    value if denominator(attributes) else 0.0,
                )

            return extract

        return {
            _GAUGE: ratio_of(attrgetter("value")),
            _COUNTER: ratio_of(attrgetter("value")),
            _HISTOGRAM: ratio_of(attrgetter("count")),
        }
    value_of: Extract = lambda point, attributes: (point.value,)  # noqa: E731
    if aggregation == "mean":
        histogram: Extract = lambda point, attributes: (point.sum, point.count)  # noqa: E731
    elif aggregation == "rate":
        histogram = lambda point, attributes: (point.count,)  # noqa: E731
    else:  # a quantile
        histogram = lambda point, attributes: point.bucket_counts  # noqa: E731
    return {_GAUGE: value_of, _COUNTER: value_of, _HISTOGRAM: histogram}


class Query:
    """A rule's expression, compiled; ``evaluate(now, index)`` gives a value per group."""

    def __init__(self, rule: AlertRule, window: float, origin: float) -> None:
        self.rule = rule
        self.window = rule.window if rule.window is not None else window
        self._where = _predicate(rule.matchers("where"))
        self._by = rule.by
        self._extractors = _extractors(rule)
        self._quantile = rule.quantile
        self._history: dict[GroupKey, deque[tuple[float, Vector]]] = {}
        self._bounds: dict[GroupKey, tuple[float, ...]] = {}
        self._last = origin
        self.problem: str | None = None
        """Why the last evaluation had no data although the metric exists (shown once)."""

    def group_labels(self, key: GroupKey) -> dict[str, str]:
        """The ``by`` attributes of a group, those it has."""
        return {name: value for name, value in zip(self._by, key, strict=True) if value}

    def evaluate(self, now: float, index: MetricIndex) -> dict[GroupKey, float]:
        """The rule's value for each group present in this collection."""
        self.problem = None
        totals, kind = self._totals(index.get(self.rule.metric))
        values: dict[GroupKey, float] = {}
        if kind is not None:
            windowed = kind != _GAUGE and self.rule.aggregation != "value"
            for key, vector in totals.items():
                if windowed:
                    vector, span = self._increase(key, now, vector)
                else:
                    span = 0.0
                value = self._reduce(key, vector, span)
                if value is not None:
                    values[key] = value
        for key in [k for k in self._history if k not in totals]:
            del self._history[key]  # the group is gone: forget its past
            self._bounds.pop(key, None)
        self._last = now
        return values

    # -- totals per group -------------------------------------------------------------------

    def _totals(self, metrics: Sequence[Metric]) -> tuple[dict[GroupKey, Vector], str | None]:
        totals: dict[GroupKey, Vector] = {}
        found: str | None = None
        where, by, needs = self._where, self._by, _NEEDS.get(self.rule.aggregation, (_HISTOGRAM,))
        for metric in metrics:
            kind = _kind(metric)
            if kind is None or kind not in needs:
                self.problem = self._mismatch(kind, needs)
                continue
            if found is not None and found != kind:
                self.problem = f"metric {self.rule.metric!r} has points of several types"
                continue
            found = kind
            extract = self._extractors[kind]
            buckets = kind == _HISTOGRAM and self._quantile is not None
            points: Sequence[Any] = metric.data.data_points
            for point in points:
                attributes = point.attributes or _NO_ATTRIBUTES
                if where is not None and not where(attributes):
                    continue
                key = _group_key(by, attributes) if by else ()
                if buckets and not self._same_bounds(key, point.explicit_bounds):
                    continue
                vector = extract(point, attributes)
                total = totals.get(key)
                totals[key] = list(vector) if total is None else list(map(add, total, vector))
        return totals, found

    def _same_bounds(self, key: GroupKey, bounds: Sequence[float]) -> bool:
        """A group's histograms must share boundaries to be added up; the first one's win."""
        known = self._bounds.get(key)
        if known is None:
            self._bounds[key] = tuple(bounds)
            return True
        if known == bounds or known == tuple(bounds):  # a tuple, or a list (the fast path's)
            return True
        self.problem = (
            f"metric {self.rule.metric!r} has series with different bucket boundaries in one "
            "group; those unlike the first are left out"
        )
        return False

    def _mismatch(self, kind: str | None, needs: Sequence[str]) -> str:
        wanted = " or ".join(_KIND_NAMES[k] for k in needs)
        what = _KIND_NAMES.get(kind or "", "of a kind rules cannot read (delta or exponential)")
        return (
            f"metric {self.rule.metric!r} is {what}; aggregation "
            f"{self.rule.aggregation!r} needs {wanted}"
        )

    # -- windows ----------------------------------------------------------------------------

    def _increase(self, key: GroupKey, now: float, vector: Vector) -> tuple[Vector, float]:
        """The increase of ``vector`` over the window, and the seconds it spans."""
        history = self._history.get(key)
        if history is None:
            # New since the last evaluation: zero then.
            history = self._history[key] = deque([(self._last, [0.0] * len(vector))])
        start = now - self.window
        while len(history) >= 2 and history[1][0] <= start:
            history.popleft()
        since, baseline = history[0]
        history.append((now, vector))
        if len(baseline) != len(vector) or any(
            b > v for b, v in zip(baseline, vector, strict=True)
        ):
            return list(vector), now - since  # a reset: count from zero
        return [v - b for v, b in zip(vector, baseline, strict=True)], now - since

    # -- the number -------------------------------------------------------------------------

    def _reduce(self, key: GroupKey, vector: Vector, span: float) -> float | None:
        aggregation = self.rule.aggregation
        if aggregation == "value":
            return vector[0]
        if aggregation == "ratio":
            numerator, denominator = vector
            return numerator / denominator if denominator > 0 else None
        if aggregation == "rate":
            return vector[0] / span if span > 0 else None
        if aggregation == "mean":
            total, count = vector
            return total / count if count > 0 else None
        if self._quantile is None:
            return None
        return histogram_quantile(self._quantile, self._bounds.get(key, ()), vector)
