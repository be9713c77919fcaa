"""The ``otelkit.health.status`` gauge: each readiness check as 1 (passing) or 0 (failing).

It is created once per meter provider and reads the registry it is given at each collection,
so the checks run then, unless a report younger than a second is cached. It takes the registry
as an argument (``_registry`` passes the process-wide one) rather than importing it, so the
registry can register the gauge without an import cycle.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

from otelkit._errors import guarded
from otelkit.metrics._spec import MetricSpec, own

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider

    from otelkit.health._registry import HealthRegistry

__all__ = ["CHECK_ATTRIBUTE", "METRICS", "METRIC_NAME", "SPEC", "register"]

METRIC_NAME = "otelkit.health.status"
CHECK_ATTRIBUTE = "otelkit.health.check"
SPEC = MetricSpec(
    METRIC_NAME,
    "observable_gauge",
    "{check}",
    "Whether each readiness check passes (1) or fails or times out (0).",
    (own(CHECK_ATTRIBUTE, description="The check's registered name."),),
    "health",
)
METRICS = (SPEC,)
"""The gauge, for the catalog; it is created from this declaration."""

_providers: weakref.WeakSet[MeterProvider] = weakref.WeakSet()
_providers_lock = threading.Lock()


def register(provider: MeterProvider, registry: HealthRegistry) -> None:
    """Create the ``otelkit.health.status`` gauge on ``provider`` (once per provider).

    At each collection it reports 1 (passing) or 0 (failing) per check, with the attribute
    ``otelkit.health.check``; the checks run then, unless a report younger than a second is
    cached.
    """
    with _providers_lock:
        if provider in _providers:
            return
        _providers.add(provider)
    from otelkit._version import __version__

    meter = provider.get_meter("otelkit.health", __version__)
    meter.create_observable_gauge(
        SPEC.name,
        callbacks=[_observer(registry)],
        unit=SPEC.unit,
        description=SPEC.description,
    )


def _observer(registry: HealthRegistry) -> Callable[[CallbackOptions], list[Observation]]:
    from opentelemetry.metrics import Observation

    @guarded("health.metric", default=[])
    def observe(options: CallbackOptions) -> list[Observation]:
        if not registry.checks:
            return []
        return [
            Observation(1 if result.passed else 0, {CHECK_ATTRIBUTE: result.name})
            for result in registry.check().checks
        ]

    return observe
