"""What every rule module is given: the catalog, the service, the thresholds; PromQL helpers.

Series names come from the catalog only (``series()``), so a renamed metric fails generation
and the tests instead of silently producing rules over series that no longer exist.
Aggregations keep ``job`` (the service: Prometheus' job is ``service.name``) and the
dimension the alert is about (route, pool, task), never ``instance`` or ``process_pid``:
pre-fork workers and replicas are added up before any ratio or quantile is taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from otelkit.ops.rules._model import duration

if TYPE_CHECKING:
    from otelkit.ops.catalog import Catalog
    from otelkit.ops.rules._thresholds import Thresholds

__all__ = ["RULES_PREFIX", "Context", "MissingMetric"]

RULES_PREFIX = "otelkit"
"""Every group name starts with it, so the generated groups are easy to tell apart."""


class MissingMetric(LookupError):
    """A rule needs a metric the catalog does not (or no longer) declare."""


@dataclass(frozen=True)
class Context:
    catalog: Catalog
    thresholds: Thresholds
    service: str | None = None
    runbook_url: str = ""
    noncritical_checks: frozenset[str] = frozenset()
    """Health checks registered with ``critical=False`` (known when the app is imported)."""
    http_buckets: tuple[float, ...] = ()
    """The HTTP duration buckets (``OTELKIT_HTTP_BUCKETS``); empty: the default ones."""

    @property
    def window(self) -> str:
        """The rate window of the threshold rules, as PromQL writes it (``5m``)."""
        return duration(self.thresholds.window_s)

    def has(self, integration: str) -> bool:
        return integration in self.catalog.integrations()

    def series(self, otel_name: str, suffix: str = "") -> str:
        """The Prometheus series of a catalog metric: ``suffix`` ``_bucket``/``_count``/``_sum``
        for a histogram; a counter's ``_total`` is added by itself."""
        spec = self.catalog.get(otel_name)
        if spec is None:
            raise MissingMetric(f"the metric catalog has no metric {otel_name!r}")
        for name in spec.prometheus_series():
            if name.endswith(suffix) and (suffix or len(spec.prometheus_series()) == 1):
                return name
        raise MissingMetric(f"{otel_name!r} has no series ending in {suffix!r}")

    def label(self, otel_name: str, attribute: str) -> str:
        """The Prometheus label of one of a metric's attributes (fails if it has no such one)."""
        spec = self.catalog.get(otel_name)
        if spec is None:
            raise MissingMetric(f"the metric catalog has no metric {otel_name!r}")
        names = [a.name for a in spec.attributes]
        if attribute not in names:
            raise MissingMetric(f"{otel_name!r} has no attribute {attribute!r} (it has {names})")
        return spec.prometheus_labels()[names.index(attribute)]

    def selector(self, *matchers: str) -> str:
        """``{job="svc", matcher...}`` (or only the matchers without a service)."""
        parts = [f'job="{self.service}"'] if self.service else []
        parts.extend(matchers)
        return "{" + ", ".join(parts) + "}" if parts else ""

    def runbook(self, alert: str) -> str:
        return f"{self.runbook_url}#{alert.lower()}"


def by(*labels: str) -> str:
    """``by (job, ...)``: every aggregation keeps the service."""
    return "by (" + ", ".join(("job", *labels)) + ")"
