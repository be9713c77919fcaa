"""The metrics the dashboard reads, by their OpenTelemetry names, resolved through the catalog.

The Prometheus names (``http.server.request.duration`` -> ``..._seconds_bucket``) come from the
metric catalog, never from this package, so the dashboard reads exactly what otelkit emits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otelkit.ops.catalog import Catalog, MetricSpec


class Names:
    """Looks metrics up in a catalog by OpenTelemetry name."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def __contains__(self, name: str) -> bool:
        return self._catalog.get(name) is not None

    def spec(self, name: str) -> MetricSpec:
        found = self._catalog.get(name)
        if found is None:
            raise LookupError(f"the catalog has no metric {name!r}")
        return found

    def series(self, name: str, suffix: str = "") -> str:
        """The Prometheus series of ``name`` ending in ``suffix`` (``_bucket``, ``_count``...)."""
        return series_of(self.spec(name), suffix)


def series_of(spec: MetricSpec, suffix: str = "") -> str:
    """The one Prometheus series of ``spec`` ending in ``suffix`` (its only one without)."""
    names = tuple(spec.prometheus_series())
    for candidate in names:
        if candidate.endswith(suffix) if suffix else len(names) == 1:
            return candidate
    raise LookupError(f"{spec.name} has no Prometheus series ending in {suffix!r}: {names}")
