"""The ``console`` exporter plugin: every signal printed to stdout, for local debugging."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter, LogRecordExporter
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SpanExporter

from otelkit.exporters._plugin import ExporterPlugin

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource


class ConsolePlugin(ExporterPlugin):
    name = "console"
    signals = frozenset({"metrics", "traces", "logs"})
    batch = False  # print each span as it ends: this is for watching, not for throughput

    def metric_reader(self, resource: Resource) -> MetricReader:
        return PeriodicExportingMetricReader(
            ConsoleMetricExporter(),
            export_interval_millis=self.core.metric_export_interval_ms,
            export_timeout_millis=self.core.metric_export_timeout_ms,
        )

    def span_exporter(self, resource: Resource) -> SpanExporter:
        return ConsoleSpanExporter()

    def log_exporter(self, resource: Resource) -> LogRecordExporter:
        return ConsoleLogRecordExporter()
