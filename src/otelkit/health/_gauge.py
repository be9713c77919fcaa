"""The health metrics: each check's result and latency, and the overall status.

- ``otelkit.health.status``: each readiness check as 1 (passing) or 0 (failing);
- ``otelkit.health.overall.status``: the report's status as one series, 0 healthy, 1 degraded,
  2 unhealthy. A number rather than a ``status`` attribute: one series whose value changes,
  not a series per status (or one whose label changes), so ``max`` over workers and replicas
  is the worst of them, an alert is ``>= 2`` with a ``for`` that survives a change, and no
  stale series is left behind;
- ``otelkit.health.check.duration``: how long each check took, per run, in seconds, with
  ``error.type`` on a failure (the exception's class, ``timeout``, or ``_OTHER`` for a check
  that returned False). A fast histogram, recorded by the registry after each run.

The gauges are created once per meter provider and read the registry they are given at each
collection, so the checks run then, unless a report younger than a second is cached. They take
the registry as an argument (``_registry`` passes the process-wide one) rather than importing
it, so the registry can register them without an import cycle.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE, ErrorTypeValues

from otelkit._errors import guarded
from otelkit._version import __version__
from otelkit.config._core import SEMCONV_DURATION_BUCKETS
from otelkit.metrics._fastpath import REGISTRY, FastHistogram
from otelkit.metrics._spec import MetricSpec, own, stable

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider

    from otelkit.health._registry import HealthRegistry
    from otelkit.health._report import HealthReport

__all__ = [
    "CHECK_ATTRIBUTE",
    "DURATION",
    "METRICS",
    "METRIC_NAME",
    "OVERALL",
    "SPEC",
    "record_durations",
    "register",
]

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
OVERALL = MetricSpec(
    "otelkit.health.overall.status",
    "observable_gauge",
    "{status}",
    "The overall health status: 0 healthy, 1 degraded (a non-critical check or a status source "
    "fails), 2 unhealthy (a critical check fails: not ready).",
    (),
    "health",
)
DURATION = MetricSpec(
    "otelkit.health.check.duration",
    "histogram",
    "s",
    "How long each readiness check took, per run (a check that timed out: its timeout).",
    (
        own(CHECK_ATTRIBUTE, description="The check's registered name."),
        stable(
            ERROR_TYPE,
            description="Why the check failed: the exception's class, timeout, or _OTHER "
            "when it returned False.",
        ),
    ),
    "health",
)
METRICS = (SPEC, OVERALL, DURATION)
"""The health metrics, for the catalog; they are created from these declarations."""

_SCOPE = InstrumentationScope("otelkit.health", __version__)
_durations: list[FastHistogram] = []


def _duration_histogram() -> FastHistogram:
    if not _durations:
        _durations.append(
            REGISTRY.histogram(
                DURATION.name,
                unit=DURATION.unit,
                description=DURATION.description,
                scope=_SCOPE,
                boundaries=SEMCONV_DURATION_BUCKETS,
            )
        )
    return _durations[0]


@guarded("health.metric")
def record_durations(report: HealthReport) -> None:
    """Record each check's latency in this run (``otelkit.health.check.duration``)."""
    histogram = _duration_histogram()
    for result in report.checks:
        attributes: dict[str, str] = {CHECK_ATTRIBUTE: result.name}
        if not result.passed:
            attributes[ERROR_TYPE] = result.error or ErrorTypeValues.OTHER.value
        key = tuple(sorted(attributes.items()))
        histogram.record(key, attributes, result.latency_ms / 1000)


_providers: weakref.WeakSet[MeterProvider] = weakref.WeakSet()
_providers_lock = threading.Lock()


def register(provider: MeterProvider, registry: HealthRegistry) -> None:
    """Create the health gauges on ``provider`` (once per provider).

    At each collection ``otelkit.health.status`` reports 1 (passing) or 0 (failing) per check,
    with the attribute ``otelkit.health.check``, and ``otelkit.health.overall.status`` the
    report's status; the checks run then, unless a report younger than a second is cached.
    """
    with _providers_lock:
        if provider in _providers:
            return
        _providers.add(provider)
    meter = provider.get_meter("otelkit.health", __version__)
    meter.create_observable_gauge(
        SPEC.name,
        callbacks=[_observer(registry)],
        unit=SPEC.unit,
        description=SPEC.description,
    )
    meter.create_observable_gauge(
        OVERALL.name,
        callbacks=[_overall(registry)],
        unit=OVERALL.unit,
        description=OVERALL.description,
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


def _overall(registry: HealthRegistry) -> Callable[[CallbackOptions], list[Observation]]:
    from opentelemetry.metrics import Observation

    from otelkit.health._report import SEVERITY

    @guarded("health.metric", default=[])
    def observe(options: CallbackOptions) -> list[Observation]:
        return [Observation(SEVERITY[registry.check().status])]

    return observe
