"""``gauge()``: values read by a callback at every collection, on every configuration (and
``set_gauge()``'s, ``_set_gauge``, created with them).

The callbacks are kept here, so ``register_gauges`` can create them on the meter provider of
each configuration ``init_telemetry()`` builds, and ``gauge()`` creates a new one on the
running configuration at once. A callback that raises is logged once and skipped for that
collection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.metrics import CallbackOptions, Observation

from otelkit._errors import ConfigError, record_internal_error
from otelkit.metrics._business._attributes import clean
from otelkit.metrics._business._declared import Definition, call_site, declare, forget
from otelkit.metrics._business._instruments import SCOPE, check_name
from otelkit.metrics._business._set_gauge import register_last_values
from otelkit.metrics._fastpath import REGISTRY

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider

__all__ = ["gauge", "register_gauges"]


def gauge(
    name: str, callback: Callable[[], float | Mapping[tuple[tuple[str, Any], ...], float]]
) -> None:
    """Report ``callback()`` as the gauge ``name`` at every collection.

    The callback returns a number, or a mapping from attribute tuples
    (``(("queue", "high"),)``) to numbers. It is registered on the active configuration and on
    every later one; a callback that raises is logged once and skipped for that collection.
    """
    check_name(name, "gauge")
    if not callable(callback):
        raise ConfigError(f"gauge({name!r}, callback={callback!r}): the callback must be callable.")
    site = call_site(1)
    new = declare(
        name,
        Definition("observable_gauge", "", ""),
        what="gauge",
        site=site,
        open_attributes=True,
        catalog_description="Reported by gauge().",
    )
    try:
        if name in _gauges or REGISTRY.has(name):
            raise ConfigError(
                f"gauge({name!r}) at {site}: an instrument of that name already exists. Use one "
                "name per metric."
            )
        try:
            REGISTRY.claim(name, "gauge")
        except ValueError as exc:
            raise ConfigError(f"gauge({name!r}) is refused: {exc}. Rename one of them.") from None
    except ConfigError:
        if new:
            forget(name)
        raise
    _gauges[name] = callback
    from otelkit import _active

    active = _active.current()
    if active is not None and active._pipeline is not None:
        register_gauges(active._pipeline.meter_provider, {name: callback})


_gauges: dict[str, Callable[[], Any]] = {}


def register_gauges(
    provider: MeterProvider, gauges: Mapping[str, Callable[[], Any]] | None = None
) -> None:
    """Create the observable gauges on ``provider`` (all registered ones by default, and those
    of ``set_gauge()``)."""
    if gauges is None:
        register_last_values(provider)
    meter = provider.get_meter(SCOPE.name, SCOPE.version)
    for name, callback in (gauges if gauges is not None else _gauges).items():
        meter.create_observable_gauge(name, callbacks=[_observe(name, callback)])


def _observe(
    name: str, callback: Callable[[], Any]
) -> Callable[[CallbackOptions], list[Observation]]:
    def observe(options: CallbackOptions) -> list[Observation]:
        try:
            value = callback()
            if isinstance(value, Mapping):
                return [Observation(v, clean(dict(k))[1]) for k, v in value.items()]
            return [Observation(value)]
        except Exception as exc:
            record_internal_error(f"gauge {name}", exc)
            return []

    return observe
