"""How a metric is declared for the catalog: its name, instrument, unit and attributes.

Every part of otelkit that creates instruments declares them with these types next to the code
that creates them (a ``METRICS`` tuple), and the business API adds one per user declaration.
``otelkit.ops.catalog`` collects them into the one catalog that ``otelkit metrics``, the docs,
the alert rules and the dashboards read. They live here, below every feature that emits
metrics, so that each feature can declare without importing the catalog above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "INSTRUMENTS",
    "AttributeSpec",
    "AttributeStatus",
    "Instrument",
    "MetricSpec",
    "development",
    "own",
    "stable",
]

Instrument = Literal[
    "counter",
    "histogram",
    "updowncounter",
    "gauge",
    "observable_counter",
    "observable_updowncounter",
    "observable_gauge",
]
INSTRUMENTS: tuple[Instrument, ...] = (
    "counter",
    "histogram",
    "updowncounter",
    "gauge",
    "observable_counter",
    "observable_updowncounter",
    "observable_gauge",
)
AttributeStatus = Literal["stable", "development", "otelkit"]


@dataclass(frozen=True)
class AttributeSpec:
    """One attribute a metric may carry.

    ``status``: ``stable`` or ``development`` for a semantic-convention attribute (its
    stability in the conventions), ``otelkit`` for one of otelkit's own. ``values``: the values
    otelkit emits when they are a known, closed set (empty otherwise).
    """

    name: str
    status: AttributeStatus
    values: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class MetricSpec:
    """One metric otelkit can emit, as declared where its instrument is created.

    ``opt_in``: emitted only when a setting asks for it. ``integration``: the part of otelkit
    (or ``business`` for the user's own) that emits it, which is how the catalog groups it.
    ``open_attributes``: more attribute keys than ``attributes`` may come, chosen per call (a
    business metric whose attributes a function computes, ``record()``, ``gauge()``).
    """

    name: str
    instrument: Instrument
    unit: str
    description: str
    attributes: tuple[AttributeSpec, ...] = ()
    integration: str = ""
    opt_in: bool = False
    open_attributes: bool = False

    @property
    def monotonic(self) -> bool:
        """Whether the metric only goes up (a counter, exported as a monotonic sum)."""
        return self.instrument in ("counter", "observable_counter")

    def attribute_names(self) -> frozenset[str]:
        return frozenset(a.name for a in self.attributes)


def stable(name: str, *values: str, description: str = "") -> AttributeSpec:
    """A stable semantic-convention attribute."""
    return AttributeSpec(name, "stable", tuple(values), description)


def development(name: str, *values: str, description: str = "") -> AttributeSpec:
    """A semantic-convention attribute still in development."""
    return AttributeSpec(name, "development", tuple(values), description)


def own(name: str, *values: str, description: str = "") -> AttributeSpec:
    """An attribute of otelkit's own (no semantic convention names it)."""
    return AttributeSpec(name, "otelkit", tuple(values), description)
