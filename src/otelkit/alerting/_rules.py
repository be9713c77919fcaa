"""``AlertRule``: what to watch, when it is an alert, and whom to tell.

A rule reads one metric, keeps the data points whose attributes match ``where``, groups them by
the ``by`` attributes (one alert per group; no ``by``: one alert for the whole metric), reduces
each group to a number with ``aggregation`` and compares it with ``threshold``:

- ``value``: the current value (gauges, up-down counters, counters), added up over the group;
- ``rate``: the per-second increase over ``window`` (counters; histograms: requests per second);
- ``ratio``: the share of ``numerator``-matching points among ``denominator``-matching ones,
  over ``window`` for counters and histograms (their counts), now for gauges;
- ``mean``: sum / count of a histogram over ``window``;
- ``p50``, ``p75``, ``p90``, ``p95``, ``p99``: the quantile of a histogram over ``window``,
  interpolated within the bucket as Prometheus' ``histogram_quantile`` does.

Every field is validated when the rule is made; a bad one raises ``RuleError`` (an
``otelkit.ConfigError``) naming the field, the value and what is accepted. The attribute
conditions (``where``, ``numerator``, ``denominator``) are compiled by ``_matchers``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from otelkit._errors import ConfigError
from otelkit.alerting._matchers import (
    ATTRIBUTE,
    MATCHER_ACCEPTED,
    Matcher,
    compile_matchers,
    describe,
    scalar,
    text_of,
)
from otelkit.config import _alerting_parsers as _parsers
from otelkit.config._parse import Invalid

__all__ = [
    "AGGREGATIONS",
    "CHANNELS",
    "FIELDS",
    "OPERATORS",
    "QUANTILES",
    "SEVERITIES",
    "AlertRule",
    "Matcher",
    "RuleError",
    "format_duration",
]

QUANTILES: Mapping[str, float] = MappingProxyType(
    {"p50": 0.5, "p75": 0.75, "p90": 0.9, "p95": 0.95, "p99": 0.99}
)
AGGREGATIONS = ("value", "rate", "ratio", "mean", *QUANTILES)
WINDOWED = frozenset({"rate", "ratio", "mean", *QUANTILES})
OPERATORS: Mapping[str, str] = MappingProxyType(
    {
        ">": ">",
        ">=": ">=",
        "<": "<",
        "<=": "<=",
        "==": "==",
        "!=": "!=",
        "gt": ">",
        "ge": ">=",
        "gte": ">=",
        "lt": "<",
        "le": "<=",
        "lte": "<=",
        "eq": "==",
        "ne": "!=",
    }
)
SEVERITIES = ("info", "warning", "critical")
CHANNELS = ("log", "callback", "webhook", "smtp")
CHANNEL_ALIASES: Mapping[str, str] = MappingProxyType({"email": "smtp", "slack": "webhook"})

_NAME = re.compile(r"[^\x00-\x1f]{1,200}")
_METRIC = re.compile(r"[A-Za-z][A-Za-z0-9_.\-/]{0,254}")

# field → what is accepted, as error messages and the docs say it.
FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "name": "a non-empty name without control characters, unique among the rules",
        "metric": "an OpenTelemetry instrument name such as `http.server.request.duration`",
        "threshold": "a number",
        "aggregation": ", ".join(AGGREGATIONS),
        "operator": ", ".join(OPERATORS),
        "for": _parsers.DURATION_ACCEPTED,
        "severity": ", ".join(SEVERITIES),
        "window": _parsers.DURATION_ACCEPTED + ", greater than 0",
        "where": MATCHER_ACCEPTED,
        "numerator": MATCHER_ACCEPTED + " (aggregation `ratio` only; required there)",
        "denominator": MATCHER_ACCEPTED + " (aggregation `ratio` only)",
        "by": "a list of attribute names",
        "channels": "a list of " + ", ".join([*CHANNELS, *CHANNEL_ALIASES]),
        "labels": "a mapping of label name → text",
        "summary": "text",
        "repeat_interval": _parsers.DURATION_ACCEPTED + ", greater than 0",
    }
)


class RuleError(ConfigError):
    """A field of an alert rule is not valid; ``field`` and ``reason`` say which and why."""

    def __init__(self, rule: str | None, field: str, reason: str) -> None:
        self.rule = rule
        self.field = field
        self.reason = reason
        self.accepted = FIELDS.get(field, "")
        named = f"alert rule {rule!r}, " if rule else "alert rule: "
        super().__init__(f"{named}field {field!r}: {reason}. Accepted: {self.accepted}.")


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("must be a non-empty string")
    if not _NAME.fullmatch(value.strip()):
        raise Invalid("must not contain control characters (at most 200 characters)")
    return value.strip()


def _metric(value: object) -> str:
    if not isinstance(value, str) or not _METRIC.fullmatch(value.strip()):
        raise Invalid(f"{value!r} is not an instrument name")
    return value.strip()


def _choice(value: object, accepted: Iterable[str]) -> str:
    if not isinstance(value, str) or value.strip().lower() not in accepted:
        raise Invalid(f"{value!r} is not one of the accepted values")
    return value.strip().lower()


def _operator(value: object) -> str:
    if isinstance(value, str) and value.strip().lower() in OPERATORS:
        return OPERATORS[value.strip().lower()]
    if value in ("", None):  # YAML reads an unquoted `>` as an empty folded block
        raise Invalid('is empty (in YAML, quote it: operator: ">")')
    raise Invalid(f"{value!r} is not an operator")


def _channels(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise Invalid(f"expected a list of channel names, got {type(value).__name__}")
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise Invalid(f"{item!r} is not a channel name")
        name = CHANNEL_ALIASES.get(item.strip().lower(), item.strip().lower())
        if name not in CHANNELS:
            raise Invalid(f"{item!r} is not a channel")
        if name not in names:
            names.append(name)
    return tuple(names)


def _by(value: object) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise Invalid(f"expected a list of attribute names, got {type(value).__name__}")
    for item in items:
        if not isinstance(item, str) or not ATTRIBUTE.fullmatch(item):
            raise Invalid(f"{item!r} is not an attribute name")
    return tuple(dict.fromkeys(items))


def _labels(value: object) -> Mapping[str, str]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        raise Invalid(f"expected a mapping, got {type(value).__name__}")
    labels: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not ATTRIBUTE.fullmatch(key):
            raise Invalid(f"{key!r} is not a label name")
        if not scalar(item):
            raise Invalid(f"the value of {key!r} must be text")
        labels[key] = text_of(item)
    return MappingProxyType(labels)


def _optional_duration(value: object) -> float | None:
    return None if value is None else _parsers.positive_duration(value)


def _summary(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid("must be text")
    return value.strip()


@dataclass(frozen=True)
class AlertRule:
    """An in-process alert rule; see the module docstring and docs/alerting.md.

    ``for_duration``, ``window`` and ``repeat_interval`` are seconds (None: the
    ``OTELKIT_ALERT_WINDOW`` / ``OTELKIT_ALERT_REPEAT_INTERVAL`` defaults). ``channels`` None
    means every configured channel; an empty tuple means none (the alert still counts for
    health). ``labels`` are added to every alert of the rule.
    """

    name: str
    metric: str
    threshold: float
    aggregation: str = "value"
    operator: str = ">"
    for_duration: float = 0.0
    severity: str = "warning"
    window: float | None = None
    where: Mapping[str, object] = field(default_factory=dict)
    numerator: Mapping[str, object] | None = None
    denominator: Mapping[str, object] | None = None
    by: tuple[str, ...] = ()
    channels: tuple[str, ...] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""
    repeat_interval: float | None = None

    def __post_init__(self) -> None:
        rule = self.name if isinstance(self.name, str) else None
        checks: list[tuple[str, str, Callable[[Any], object]]] = [
            ("name", "name", _name),
            ("metric", "metric", _metric),
            ("threshold", "threshold", _parsers.finite_number),
            ("aggregation", "aggregation", lambda v: _choice(v, AGGREGATIONS)),
            ("operator", "operator", _operator),
            ("for_duration", "for", _parsers.duration),
            ("severity", "severity", lambda v: _choice(v, SEVERITIES)),
            ("window", "window", _optional_duration),
            ("by", "by", _by),
            ("channels", "channels", _channels),
            ("labels", "labels", _labels),
            ("summary", "summary", _summary),
            ("repeat_interval", "repeat_interval", _optional_duration),
        ]
        for attribute, shown, parse in checks:
            try:
                object.__setattr__(self, attribute, parse(getattr(self, attribute)))
            except Invalid as exc:
                raise RuleError(rule, shown, exc.reason) from None
        compiled: dict[str, tuple[Matcher, ...]] = {}
        for attribute in ("where", "numerator", "denominator"):
            spec = getattr(self, attribute)
            try:
                normalized, compiled[attribute] = compile_matchers(spec)
            except Invalid as exc:
                raise RuleError(rule, attribute, exc.reason) from None
            if attribute == "where" or spec is not None:
                object.__setattr__(self, attribute, normalized)
        if self.aggregation == "ratio" and not compiled["numerator"]:
            raise RuleError(rule, "numerator", "aggregation 'ratio' needs a numerator condition")
        for attribute in ("numerator", "denominator"):
            if self.aggregation != "ratio" and getattr(self, attribute) is not None:
                raise RuleError(
                    rule, attribute, f"only for aggregation 'ratio', not {self.aggregation!r}"
                )
        object.__setattr__(self, "_where", compiled["where"])
        object.__setattr__(self, "_numerator", compiled["numerator"])
        object.__setattr__(self, "_denominator", compiled["denominator"])

    def __hash__(self) -> int:
        return hash((self.name, self.metric, self.aggregation, self.operator, self.threshold))

    @property
    def quantile(self) -> float | None:
        """0.95 for ``p95``; None for the other aggregations."""
        return QUANTILES.get(self.aggregation)

    @property
    def windowed(self) -> bool:
        return self.aggregation in WINDOWED

    def matchers(self, which: str) -> tuple[Matcher, ...]:
        """The compiled conditions of ``where``, ``numerator`` or ``denominator``."""
        found: tuple[Matcher, ...] = getattr(self, f"_{which}")
        return found

    def summary_of(self, labels: Mapping[str, str], value: float | None) -> str:
        """The summary of one alert of the rule (the same for all: no templates here)."""
        return self.summary

    def annotations_of(self, labels: Mapping[str, str], value: float | None) -> dict[str, str]:
        """A Prometheus rule's annotations; an ``AlertRule`` has its summary only."""
        return {"summary": self.summary} if self.summary else {}

    def breached(self, value: float) -> bool:
        """Whether ``value`` satisfies the rule's condition (NaN never does)."""
        if math.isnan(value):
            return False
        threshold, operator = self.threshold, self.operator
        if operator == ">":
            return value > threshold
        if operator == ">=":
            return value >= threshold
        if operator == "<":
            return value < threshold
        if operator == "<=":
            return value <= threshold
        if operator == "==":
            return value == threshold
        return value != threshold

    def expression(self, window: float | None = None) -> str:
        """A one-line description: ``p95(http.server.request.duration)[5m] > 1``."""
        subject = self.metric
        if self.where:
            subject += "{" + describe(self.where) + "}"
        if self.aggregation == "ratio":
            ratio = describe(self.numerator or {})
            if self.denominator:
                ratio += " / " + describe(self.denominator)
            subject = f"ratio({subject}: {ratio})"
        elif self.aggregation != "value":
            subject = f"{self.aggregation}({subject})"
        span = self.window if self.window is not None else window
        if self.windowed and span is not None:
            subject += f"[{format_duration(span)}]"
        if self.by:
            subject += " by (" + ", ".join(self.by) + ")"
        return f"{subject} {self.operator} {self.threshold:g}"


def format_duration(seconds: float) -> str:
    """``300`` → ``5m``, ``5400`` → ``1h30m``, ``0.5`` → ``500ms``."""
    if 0 < seconds < 1:
        return f"{seconds * 1000:g}ms"
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if whole >= size:
            parts.append(f"{whole // size}{unit}")
            whole %= size
    return "".join(parts) or "0s"
