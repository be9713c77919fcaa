"""The metric names otelkit emits, from the metric catalog, for checking alert rules.

The catalog (``otelkit.ops.catalog``) is the one list of what otelkit emits; the command reads
the OpenTelemetry name and the Prometheus name of each entry. ``known_metrics()`` returns None
when the catalog cannot be built, and the check that needs it says it was skipped rather than
failing the whole command.
"""

from __future__ import annotations

__all__ = ["known_metrics"]


def known_metrics() -> dict[str, str] | None:
    """OpenTelemetry name → Prometheus family name of every metric in the catalog."""
    try:
        from otelkit.ops.catalog import load_catalog

        catalog = load_catalog()
    except Exception:  # a broken declaration: report the check skipped, not a traceback
        return None
    return {spec.name: spec.prometheus_name for spec in catalog.metrics} or None
