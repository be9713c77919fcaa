"""The catalog: every metric otelkit can emit, from the declarations of the code that emits it.

Each integration declares its metrics next to the code that creates its instruments (a
``METRICS`` tuple), the business API adds each user declaration when it runs, and the
self-metrics are declared in ``_self``. ``builtin()`` collects the former, ``Catalog`` holds
one view of them (all, or those of one application) and answers the generators' questions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit.alerting import _dispatch as alerting_metrics
from otelkit.health import _gauge as health_gauge
from otelkit.instrumentation.celery import _recorder as celery_metrics
from otelkit.instrumentation.http import _metrics as http_metrics
from otelkit.instrumentation.http_client import _metrics as http_client_metrics
from otelkit.instrumentation.sqlalchemy import _recorder as db_metrics
from otelkit.instrumentation.system import _catalog as system_metrics
from otelkit.metrics._business._declared import INTEGRATION as BUSINESS
from otelkit.metrics._business._declared import declared
from otelkit.ops.catalog import _self
from otelkit.ops.catalog._spec import MetricSpec

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["ORDER", "Catalog", "builtin"]

ORDER = (
    "http",
    "http_client",
    "db",
    "celery",
    "system",
    "process",
    "health",
    "alerting",
    "otelkit",
    BUSINESS,
)
"""How integrations are listed (others, from future declarations, follow by name)."""


def builtin() -> tuple[MetricSpec, ...]:
    """Every metric otelkit itself can emit, whichever integrations run."""
    declarations = (
        *http_metrics.METRICS,
        *http_client_metrics.METRICS,
        *db_metrics.METRICS,
        *celery_metrics.METRICS,
        *system_metrics.METRICS,
        *health_gauge.METRICS,
        *alerting_metrics.METRICS,
        *_self.METRICS,
    )
    return tuple(MetricSpec.of(spec) for spec in declarations)


def _rank(integration: str) -> tuple[int, str]:
    return (ORDER.index(integration) if integration in ORDER else len(ORDER), integration)


class Catalog:
    """A set of metric specs, ordered by integration (``ORDER``) and then as declared.

    ``integrations()`` is what the metrics cover: every integration otelkit has, or, for a
    catalog of one application, only those it uses (``load_catalog``).
    """

    __slots__ = ("_by_name", "metrics")

    def __init__(self, metrics: Iterable[MetricSpec]) -> None:
        unique: dict[str, MetricSpec] = {}
        for spec in metrics:
            unique.setdefault(spec.name, MetricSpec.of(spec))  # otelkit's own name wins
        ordered = sorted(unique.values(), key=lambda s: _rank(s.integration))
        self.metrics: tuple[MetricSpec, ...] = tuple(ordered)
        self._by_name = unique

    def integrations(self) -> frozenset[str]:
        return frozenset(spec.integration for spec in self.metrics)

    def ordered_integrations(self) -> tuple[str, ...]:
        """``integrations()`` in the order the catalog lists them."""
        return tuple(sorted(self.integrations(), key=_rank))

    def by_integration(self, name: str) -> tuple[MetricSpec, ...]:
        return tuple(spec for spec in self.metrics if spec.integration == name)

    def business(self) -> tuple[MetricSpec, ...]:
        """The metrics the application declared itself (decorators, ``record``, ``gauge``)."""
        return self.by_integration(BUSINESS)

    def get(self, name: str) -> MetricSpec | None:
        """The spec of the OpenTelemetry metric ``name``, None if the catalog has none."""
        return self._by_name.get(name)

    def only(self, integrations: Iterable[str]) -> Catalog:
        """The catalog narrowed to ``integrations``."""
        wanted = frozenset(integrations)
        return Catalog(spec for spec in self.metrics if spec.integration in wanted)

    def __len__(self) -> int:
        return len(self.metrics)

    def __repr__(self) -> str:
        return f"Catalog({len(self.metrics)} metrics, {sorted(self.integrations())})"


def everything() -> Catalog:
    """otelkit's metrics and the business metrics declared in this process so far (the
    catalog of the application running in this process)."""
    return Catalog((*builtin(), *(MetricSpec.of(s) for s in declared())))
