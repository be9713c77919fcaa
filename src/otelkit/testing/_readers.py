"""What the ``memory`` exporter of a configuration recorded, read directly.

Configure the in-memory exporter, then read what was recorded::

    telemetry = otelkit.init_telemetry("svc", exporters="memory")
    ...
    assert otelkit.testing.points(telemetry, "http.server.request.duration")[0].count == 3

The ``telemetry`` fixture (``_capture``) builds on these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk.metrics.export import MetricsData
    from opentelemetry.sdk.trace import ReadableSpan

    from otelkit.exporters.memory import MemoryPlugin
    from otelkit.runtime._telemetry import Telemetry

__all__ = ["logs", "metrics", "points", "spans"]


def _memory(telemetry: Telemetry) -> MemoryPlugin:
    from otelkit.exporters.memory import MemoryPlugin

    pipeline = telemetry._pipeline
    plugin = pipeline.plugins.get("memory") if pipeline is not None else None
    if not isinstance(plugin, MemoryPlugin):
        raise RuntimeError(
            "otelkit.testing needs the memory exporter: init_telemetry(exporters='memory')"
        )
    return plugin


def metrics(telemetry: Telemetry) -> MetricsData | None:
    """Collect now (cumulative) and return everything recorded so far."""
    reader = _memory(telemetry).reader
    if reader is None:
        raise RuntimeError("the memory exporter is not configured for metrics")
    return reader.get_metrics_data()


def points(telemetry: Telemetry, name: str) -> list[Any]:
    """The data points of one metric, across scopes, in collection order."""
    data = metrics(telemetry)
    found: list[Any] = []
    for resource_metrics in data.resource_metrics if data is not None else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


def spans(telemetry: Telemetry) -> tuple[ReadableSpan, ...]:
    """Every span ended so far."""
    exporter = _memory(telemetry).spans
    if exporter is None:
        raise RuntimeError("the memory exporter is not configured for traces")
    return exporter.get_finished_spans()


def logs(telemetry: Telemetry) -> tuple[ReadableLogRecord, ...]:
    """Every log record emitted so far."""
    exporter = _memory(telemetry).logs
    if exporter is None:
        raise RuntimeError("the memory exporter is not configured for logs")
    return tuple(exporter.get_finished_logs())
