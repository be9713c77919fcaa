"""The handle's SDK meter, with the Prometheus name check of every other instrument.

``telemetry.meter`` is the SDK's own meter; its instruments reach the same exposition as the
business API's, so two of them that map to one Prometheus name (``a.b`` and ``a_b``; a
histogram ``req`` and a counter ``req_count``) would give duplicate series that Prometheus
silently half-ingests. ``ClaimingMeter`` reserves each instrument's Prometheus names in the
registry before the SDK creates it, and refuses (``ConfigError``, naming both) one that
collides, whichever of the two was declared first. Asking again for the same instrument (name,
kind and unit) is allowed, as the SDK allows it: it hands back the same instrument; so is the
same name and kind as a business instrument: one metric in two scopes, which the exposition
keeps apart by ``otel_scope_name``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from opentelemetry.metrics import Meter

from otelkit._errors import ConfigError
from otelkit.metrics._fastpath._names import NameCollision
from otelkit.metrics._fastpath._registry import REGISTRY

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from opentelemetry.metrics import (
        CallbackT,
        Counter,
        Histogram,
        ObservableCounter,
        ObservableGauge,
        ObservableUpDownCounter,
        UpDownCounter,
    )

__all__ = ["ClaimingMeter"]

_lock = threading.Lock()
_claimed: set[tuple[str, str, str]] = set()
"""(name, kind, unit) of every instrument created through a ``ClaimingMeter``: the claims last
as long as the process (so do the registry's), whichever configuration made them."""


def _claim(name: str, kind: str, unit: str) -> None:
    with _lock:
        if (name, kind, unit) in _claimed:
            return
        try:
            REGISTRY.reserve(name, kind, unit)
        except NameCollision as exc:
            raise ConfigError(f"telemetry.meter: {kind} {name!r} refused: {exc}") from None
        _claimed.add((name, kind, unit))


class ClaimingMeter(Meter):
    """An SDK meter whose instruments first claim their Prometheus names (``REGISTRY``)."""

    def __init__(self, meter: Meter) -> None:
        super().__init__(meter.name, meter.version, meter.schema_url)
        self._meter = meter

    def _create(self, kind: str, create: Callable[..., Any], name: str, **kwargs: Any) -> Any:
        _claim(name, kind, kwargs.get("unit", "") or "")
        return create(name, **kwargs)

    def create_counter(self, name: str, unit: str = "", description: str = "") -> Counter:
        return self._create(  # type: ignore[no-any-return]
            "counter", self._meter.create_counter, name, unit=unit, description=description
        )

    def create_up_down_counter(
        self, name: str, unit: str = "", description: str = ""
    ) -> UpDownCounter:
        return self._create(  # type: ignore[no-any-return]
            "up_down_counter",
            self._meter.create_up_down_counter,
            name,
            unit=unit,
            description=description,
        )

    def create_histogram(
        self,
        name: str,
        unit: str = "",
        description: str = "",
        *,
        explicit_bucket_boundaries_advisory: Sequence[float] | None = None,
    ) -> Histogram:
        return self._create(  # type: ignore[no-any-return]
            "histogram",
            self._meter.create_histogram,
            name,
            unit=unit,
            description=description,
            explicit_bucket_boundaries_advisory=explicit_bucket_boundaries_advisory,
        )

    def create_gauge(self, name: str, unit: str = "", description: str = "") -> Any:
        # ``Any``: the API's synchronous gauge class is still private (``_Gauge``).
        return self._create(
            "gauge", self._meter.create_gauge, name, unit=unit, description=description
        )

    def create_observable_counter(
        self,
        name: str,
        callbacks: Sequence[CallbackT] | None = None,
        unit: str = "",
        description: str = "",
    ) -> ObservableCounter:
        return self._create(  # type: ignore[no-any-return]
            "counter",
            self._meter.create_observable_counter,
            name,
            callbacks=callbacks,
            unit=unit,
            description=description,
        )

    def create_observable_up_down_counter(
        self,
        name: str,
        callbacks: Sequence[CallbackT] | None = None,
        unit: str = "",
        description: str = "",
    ) -> ObservableUpDownCounter:
        return self._create(  # type: ignore[no-any-return]
            "up_down_counter",
            self._meter.create_observable_up_down_counter,
            name,
            callbacks=callbacks,
            unit=unit,
            description=description,
        )

    def create_observable_gauge(
        self,
        name: str,
        callbacks: Sequence[CallbackT] | None = None,
        unit: str = "",
        description: str = "",
    ) -> ObservableGauge:
        return self._create(  # type: ignore[no-any-return]
            "gauge",
            self._meter.create_observable_gauge,
            name,
            callbacks=callbacks,
            unit=unit,
            description=description,
        )
