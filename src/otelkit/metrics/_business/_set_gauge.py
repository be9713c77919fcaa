"""``set_gauge()``: a gauge set from the user's code, reporting the last value of each series.

Setting stores the value (one dict assignment); an observable gauge per name, created on every
configuration's meter provider (``register_last_values``), reports the stored values at each
collection. So a value set before ``init_telemetry()`` is exported once it runs, a gauge keeps
its last value across configurations (a current state, not an accumulation), and no SDK
instrument sits on the calling path.

Under a pre-fork server the gauge is one of the SDK's instruments, which each process publishes
for the scrape: every live process reports its own last value with a ``process.pid`` attribute
(prometheus_client's ``liveall``), and a process's values end with it. A forked child starts
with no values: what the parent set stays the parent's. Which figure a service-wide panel shows
is the query's choice (``max``, ``sum`` or ``min`` over ``process_pid``): otelkit cannot know
whether a value is each worker's share or one shared state every worker sets.

At most ``DEFAULT_CARDINALITY_LIMIT`` attribute sets per name: past it values go to the
``otel.metric.overflow=true`` series and each new set is counted in ``otelkit.dropped``
(``reason="cardinality_overflow"``).
"""

from __future__ import annotations

import os
import threading
from numbers import Real
from typing import TYPE_CHECKING, Any

from otelkit._errors import record_internal_error
from otelkit.metrics._business._adhoc import AdHoc
from otelkit.metrics._business._attributes import clean
from otelkit.metrics._business._declared import Definition
from otelkit.metrics._business._instruments import (
    SCOPE,
    NameClash,
    check_description,
    check_unit,
)
from otelkit.metrics._business._record import attributes_of
from otelkit.metrics._fastpath import (
    DEFAULT_CARDINALITY_LIMIT,
    OVERFLOW_ATTRIBUTES,
    REGISTRY,
    NameCollision,
    dropped,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider

__all__ = ["LastValues", "register_last_values", "set_gauge"]

_OVERFLOW = object()


class LastValues:
    """The last value of each attribute set of one ``set_gauge()`` name."""

    __slots__ = ("definition", "name", "values")

    def __init__(self, name: str, definition: Definition) -> None:
        self.name = name
        self.definition = definition
        self.values: dict[Any, tuple[Mapping[str, Any], float]] = {}

    def set(self, key: Any, attributes: Mapping[str, Any], value: float) -> None:
        values = self.values
        if key in values or len(values) < DEFAULT_CARDINALITY_LIMIT - 1:
            values[key] = (attributes, value)
            return
        if _OVERFLOW not in values or values[_OVERFLOW][1] != value:
            dropped("metrics", "cardinality_overflow")
        values[_OVERFLOW] = (OVERFLOW_ATTRIBUTES, value)

    def observe(self, options: CallbackOptions) -> list[Observation]:
        from opentelemetry.metrics import Observation

        return [Observation(value, dict(attrs)) for attrs, value in list(self.values.values())]


def set_gauge(
    name: str,
    value: float,
    /,
    *,
    unit: str | None = None,
    description: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    **more: Any,
) -> None:
    """Set the gauge ``name`` (created on first use) to ``value`` for these attributes.

    ``unit`` (default none) and ``description`` as for ``record()``: a bad or contradicting
    definition raises ``ConfigError`` at its first call; nothing else raises. A value that is
    no real number is dropped and counted in ``otelkit.dropped`` (``reason="invalid_value"``).
    """
    known = _known.get(name)
    gauge: LastValues | None
    if known is not None and unit == known.unit and description == known.description:
        gauge = known.instrument
    else:
        gauge = _gauges.declare(name, None, unit, description, 1)
        if gauge is None:
            return
    try:
        given: object = value  # callers are not type-checked
        if type(given) is not float and type(given) is not int:
            if isinstance(given, bool) or not isinstance(given, Real):
                dropped("metrics", "invalid_value")
                return
            value = float(given)
        if attributes is None:
            key, kept = clean(more)
        else:
            key, kept = attributes_of(name, "set_gauge", attributes, more)
        gauge.set(key, kept, value)
    except Exception as exc:
        record_internal_error("set_gauge", exc)


def _definition(name: str, buckets: Any, unit: Any, description: Any) -> Definition:
    return Definition(
        "gauge",
        check_unit("" if unit is None else unit, name, "set_gauge"),
        check_description("" if description is None else description, name, "set_gauge"),
    )


_lock = threading.Lock()
_all: dict[str, LastValues] = {}


def _make(name: str, definition: Definition) -> LastValues:
    try:
        REGISTRY.claim(name, "gauge", definition.unit)
    except NameCollision as exc:
        raise NameClash(f"set_gauge({name!r}) is refused: {exc}. Rename one of them.") from None
    gauge = LastValues(name, definition)
    with _lock:
        _all[name] = gauge
    from otelkit import _active

    active = _active.current()
    if active is not None and active._pipeline is not None:
        register_last_values(active._pipeline.meter_provider, (gauge,))
    return gauge


def register_last_values(
    provider: MeterProvider, gauges: tuple[LastValues, ...] | None = None
) -> None:
    """Create the observable gauges of ``set_gauge()`` on ``provider`` (all by default)."""
    if gauges is None:
        with _lock:
            gauges = tuple(_all.values())
    meter = provider.get_meter(SCOPE.name, SCOPE.version)
    for gauge in gauges:
        meter.create_observable_gauge(
            gauge.name,
            callbacks=[gauge.observe],
            unit=gauge.definition.unit,
            description=gauge.definition.description,
        )


def _forget_values_in_child() -> None:
    for gauge in _all.values():
        gauge.values = {}


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_values_in_child)

_gauges = AdHoc("set_gauge", _definition, _make, "Set with set_gauge().")
_known = _gauges.known
