"""Connects the alert engine to what sits above it: the metric catalog and the shared directory.

``alerting`` may import neither ``ops`` (the catalog) nor ``exporters`` (the pre-fork
directory): both sit beside or above it. The runtime knows all three and hands the engine
what it needs as plain values and callables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otelkit.runtime._pipeline import Pipeline

__all__ = ["known_metric_names", "wire_alerts"]


def known_metric_names() -> frozenset[str]:
    """Every metric name otelkit emits or the application declared, in both spellings
    (OpenTelemetry, and Prometheus' family and sample names). Imported when first needed:
    the catalog collects every integration's declarations (about 0.2 s, on the alert thread).
    """
    from otelkit.ops.catalog._catalog import everything

    names: set[str] = set()
    for spec in everything().metrics:
        names.update((spec.name, spec.prometheus_family, *spec.prometheus_series()))
    return frozenset(names)


def wire_alerts(pipeline: Pipeline, *, at_init: bool = False) -> None:
    """Share the evaluation with the server's other processes when the metrics are shared
    (one process evaluates the summed data); at init, also check the rules' metric names."""
    engine = pipeline.alerts
    if engine is None:
        return
    if at_init and engine.settings.alert_rules_file:  # the built-in rules read known metrics
        engine.check_metrics_with(known_metric_names)
    for plugin in pipeline.plugins.values():
        directory = getattr(plugin, "shared_directory", None)
        summed = getattr(plugin, "summed_metrics", None)
        if directory is not None and summed is not None:
            engine.share(directory, summed)
            return
