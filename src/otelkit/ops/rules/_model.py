"""The shapes a rule file is built from: recording rules, alerts with their runbooks, groups.

Plain frozen dataclasses, independent of YAML: the integration modules build them, ``_render``
writes them as a Prometheus rule file and ``_runbooks`` as the runbook page, so the alert, its
``runbook_url`` and its runbook section cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SEVERITIES", "Alert", "Group", "Record", "Runbook", "duration", "seconds"]

SEVERITIES = ("critical", "warning", "info")
"""``critical`` pages, ``warning`` goes to chat, ``info`` is only logged (see Alertmanager)."""


@dataclass(frozen=True)
class Runbook:
    """What an on-call reader needs first: what it means, what to query, what usually causes it."""

    meaning: str
    queries: tuple[str, ...]
    causes: tuple[str, ...]


@dataclass(frozen=True)
class Record:
    """A recording rule: ``expr`` evaluated and stored as the series ``name``."""

    name: str
    expr: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    """An alerting rule, with the runbook section its ``runbook_url`` points at."""

    name: str
    expr: str
    for_s: float
    severity: str
    summary: str
    description: str
    runbook: Runbook
    labels: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")


@dataclass(frozen=True)
class Group:
    """A rule group: Prometheus evaluates its rules in order, every ``interval`` (or globally)."""

    name: str
    rules: tuple[Record | Alert, ...]
    interval: str | None = None


def duration(seconds: float) -> str:
    """A Prometheus duration: ``300`` -> ``5m``, ``90`` -> ``1m30s``, ``0.5`` -> ``500ms``."""
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    if millis:
        parts.append(f"{millis}ms")
    return "".join(parts)


def seconds(value: float) -> str:
    """A threshold as people write it: ``2.5s``, ``500ms``, ``30s``."""
    return f"{value * 1000:g}ms" if value < 1 else f"{value:g}s"
