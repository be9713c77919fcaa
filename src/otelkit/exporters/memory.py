"""The ``memory`` exporter plugin: everything kept in memory, for tests.

Read it through ``otelkit.testing`` rather than directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, LogRecordExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otelkit.exporters._plugin import ExporterPlugin

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import SpanExporter


class MemoryPlugin(ExporterPlugin):
    name = "memory"
    signals = frozenset({"metrics", "traces", "logs"})
    batch = False  # a span is visible to the test as soon as it ends

    reader: InMemoryMetricReader | None = None
    spans: InMemorySpanExporter | None = None
    logs: InMemoryLogRecordExporter | None = None

    def metric_reader(self, resource: Resource) -> MetricReader:
        self.reader = InMemoryMetricReader()
        return self.reader

    def span_exporter(self, resource: Resource) -> SpanExporter:
        self.spans = InMemorySpanExporter()
        return self.spans

    def log_exporter(self, resource: Resource) -> LogRecordExporter:
        self.logs = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
        return self.logs
