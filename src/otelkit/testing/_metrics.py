"""One metric as a test reads it: its series, summed over the attributes the test names.

``telemetry.counter("orders.placed")`` returns a ``Counter`` holding that metric's points as
collected at that moment; ``.value(tier="gold")`` adds up the series recorded with
``tier="gold"`` (whatever their other attributes). The readings print their series, so a
failed ``assert`` shows what was recorded instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otelkit.testing._match import describe, matches, resolve

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["Counter", "Gauge", "Histogram", "MetricReading", "UpDownCounter", "kind_of"]


def kind_of(data: Any) -> str:
    """The instrument kind a collected metric's data shows (``counter``, ``histogram``, ...)."""
    kind = type(data).__name__
    if kind == "Sum":
        return "counter" if data.is_monotonic else "updowncounter"
    if kind in ("Histogram", "ExponentialHistogram"):
        return "histogram"
    return "gauge"


class MetricReading:
    """The points of one metric, collected once; subclasses say how they add up."""

    kind = "metric"

    def __init__(self, name: str, points: Sequence[Any], unit: str = "", note: str = "") -> None:
        self.name = name
        self.unit = unit
        self._points = tuple(points)
        self._note = note

    def _known(self) -> set[str]:
        return {key for point in self._points for key in (point.attributes or {})}

    def points(self, attributes: Mapping[str, Any] | None = None, /, **keywords: Any) -> list[Any]:
        """The points of the series recorded with these attributes (all without any)."""
        wanted = resolve(attributes, keywords, self._known())
        return [p for p in self._points if matches(p.attributes, wanted)]

    def series(self) -> list[dict[str, Any]]:
        """The attribute sets recorded, one per series."""
        return [dict(p.attributes or {}) for p in self._points]

    def _show(self, point: Any) -> str:
        return str(point.value)

    def __repr__(self) -> str:
        if not self._points:
            return f"<{self.kind} {self.name!r}: nothing recorded{self._note}>"
        shown = ", ".join(f"{describe(p.attributes)}: {self._show(p)}" for p in self._points)
        return f"<{self.kind} {self.name!r}: {shown}>"


class Counter(MetricReading):
    kind = "counter"

    def value(self, attributes: Mapping[str, Any] | None = None, /, **keywords: Any) -> float:
        """The total of the series recorded with these attributes (0 when none was)."""
        total: float = sum((p.value for p in self.points(attributes, **keywords)), 0)
        return total


class UpDownCounter(Counter):
    kind = "updowncounter"


class Gauge(MetricReading):
    kind = "gauge"

    def value(
        self, attributes: Mapping[str, Any] | None = None, /, **keywords: Any
    ) -> float | None:
        """The last value of the one series recorded with these attributes (None if none;
        an ``AssertionError`` if several match, since gauges do not add up)."""
        found = self.points(attributes, **keywords)
        if len(found) > 1:
            raise AssertionError(
                f"{len(found)} series of the gauge {self.name!r} match "
                f"{describe(resolve(attributes, keywords, self._known()))}: {self!r}; "
                "name more attributes"
            )
        return found[0].value if found else None


class Histogram(MetricReading):
    kind = "histogram"

    def count(self, attributes: Mapping[str, Any] | None = None, /, **keywords: Any) -> int:
        """How many values the series with these attributes recorded (0 when none)."""
        return sum(p.count for p in self.points(attributes, **keywords))

    def sum(self, attributes: Mapping[str, Any] | None = None, /, **keywords: Any) -> float:
        """The sum of the values the series with these attributes recorded."""
        total: float = sum((p.sum for p in self.points(attributes, **keywords)), 0)
        return total

    def _show(self, point: Any) -> str:
        return f"count={point.count} sum={point.sum:g}"


READINGS: dict[str, type[MetricReading]] = {
    "counter": Counter,
    "updowncounter": UpDownCounter,
    "gauge": Gauge,
    "histogram": Histogram,
}
