"""Builds the SDK providers from validated settings and the chosen plugins."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.semconv.metrics.http_metrics import HTTP_SERVER_REQUEST_DURATION

from otelkit import _sdk_compat, _sdk_export
from otelkit.health._registry import register_metrics as register_health_metrics
from otelkit.instrumentation.logging import OtelLogHandler
from otelkit.metrics._business import register_gauges
from otelkit.metrics._business._names import set_limit as set_metric_names_limit
from otelkit.metrics._fastpath import REGISTRY, sdk_exemplar_filter
from otelkit.metrics._fastpath import use_filter as use_exemplar_filter
from otelkit.metrics._fastpath._aggregation import forget_preferences, prefer_exponential
from otelkit.runtime import _failures
from otelkit.runtime._outcome import (
    Outcome,
    RecordingLogRecordExporter,
    RecordingSpanExporter,
)
from otelkit.runtime._processors import log_record_processor, metric_exporter, span_processor
from otelkit.tracing._sampling import parent_based

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.resources import Resource

    from otelkit.alerting._engine import AlertEngine
    from otelkit.config._settings import Settings
    from otelkit.exporters._plugin import ExporterPlugin


@dataclass
class Pipeline:
    """The providers and what feeds them; ``close()`` releases the plugins' resources."""

    resource: Resource
    meter_provider: MeterProvider
    tracer_provider: TracerProvider
    logger_provider: LoggerProvider
    plugins: Mapping[str, ExporterPlugin]
    tracing: bool = False
    """Whether any span exporter is configured (instrumentations skip spans otherwise)."""
    log_handler: OtelLogHandler | None = None
    readers: list[MetricReader] = field(default_factory=list)
    """The readers built with the provider (``REGISTRY.readers()`` also has those added later)."""
    alerts: AlertEngine | None = None
    """In-process alerting (``OTELKIT_ALERTS``): started by init_telemetry(), stopped first at
    shutdown; its reader is one of ``readers``."""
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    """Failed exports, by signal (``_outcome``)."""

    def close(self) -> None:
        """After the providers shut down: release the plugins, detach the fast instruments."""
        for plugin in self.plugins.values():
            plugin.close()
        REGISTRY.detach()
        _failures.uninstall_filter()


def build_sampler(settings: Settings) -> Sampler:
    kind = settings.traces_sampler
    ratio = 1.0 if settings.traces_sampler_arg is None else settings.traces_sampler_arg
    root: Sampler
    if kind.endswith("always_off"):
        root = ALWAYS_OFF
    elif kind.endswith("traceidratio"):
        root = TraceIdRatioBased(ratio)
    else:
        root = ALWAYS_ON
    return parent_based(root) if kind.startswith("parentbased_") else root  # light spans inline it


_EXPONENTIAL = "base2_exponential_bucket_histogram"
_EXPORTER_AGGREGATION = "metrics_default_histogram_aggregation"
"""An exporter's own histogram preference (OTLP's standard variable), honoured by the fast path."""


def build_views(settings: Settings) -> list[View]:
    return [
        View(
            instrument_name=HTTP_SERVER_REQUEST_DURATION,
            aggregation=ExplicitBucketHistogramAggregation(settings.http_buckets),
        )
    ]


def build(
    settings: Settings, plugins: Mapping[str, ExporterPlugin], resource: Resource
) -> Pipeline:
    """Create readers and exporters first (they may raise ConfigError), then the providers.

    If a plugin fails half way, the plugins built so far are closed before the error propagates,
    so a failed ``init_telemetry()`` leaves no listener or thread behind. The private SDK seams
    are probed first: the features whose seam changed take the public SDK path.
    """
    _sdk_compat.probe_all()
    readers: list[MetricReader] = []
    span_processors = []
    log_processors = []
    alerts: AlertEngine | None = None
    outcomes = {signal: Outcome(signal) for signal in ("metrics", "traces", "logs")}
    set_metric_names_limit(settings.metric_names_limit)
    use_exemplar_filter(settings.metrics_exemplar_filter)
    forget_preferences()
    try:
        if settings.alerts:  # first: its rules file and channels may raise ConfigError
            from otelkit.alerting._engine import AlertEngine

            alerts = AlertEngine(settings)
        for name in settings.exporters_for("metrics"):
            readers.append(plugins[name].metric_reader(resource))
            if _EXPONENTIAL in (
                settings.histogram_aggregation,
                settings.exporter_options.get(name, {}).get(_EXPORTER_AGGREGATION),
            ):
                prefer_exponential(readers[-1])
            report = _failures.report_for(plugins[name], "metrics", "metric points")
            _sdk_export.wrap_reader_exporter(
                readers[-1],
                partial(metric_exporter, outcome=outcomes["metrics"], report=report),
            )
        for name in settings.exporters_for("traces"):
            span_inner = plugins[name].span_exporter(resource)
            report = _failures.report_for(plugins[name], "traces", "spans")
            exporter = RecordingSpanExporter(span_inner, outcomes["traces"], report)
            span_processors.append(
                span_processor(exporter, span_inner, report.component, batch=plugins[name].batch)
            )
        for name in settings.exporters_for("logs"):
            log_inner = plugins[name].log_exporter(resource)
            report = _failures.report_for(plugins[name], "logs", "log records")
            log_exporter = RecordingLogRecordExporter(log_inner, outcomes["logs"], report)
            log_processors.append(
                log_record_processor(
                    log_exporter, log_inner, report.component, batch=plugins[name].batch
                )
            )
        _failures.install_filter()
    except BaseException:
        for reader in readers:
            reader.shutdown()
        for plugin in plugins.values():
            plugin.close()
        raise

    if alerts is not None:
        readers.append(alerts.reader)
    meter_provider = MeterProvider(
        metric_readers=readers,
        resource=resource,
        exemplar_filter=sdk_exemplar_filter(settings.metrics_exemplar_filter),
        views=build_views(settings),
        shutdown_on_exit=False,
    )
    REGISTRY.attach(readers, resource, meter_provider)
    register_gauges(meter_provider)
    register_health_metrics(meter_provider)
    id_generator = next(
        (
            ids
            for name in settings.exporters_for("traces")
            if (ids := plugins[name].id_generator()) is not None
        ),
        None,
    )
    tracer_provider = TracerProvider(
        resource=resource,
        sampler=build_sampler(settings),
        shutdown_on_exit=False,
        id_generator=id_generator,
    )
    for processor in span_processors:
        tracer_provider.add_span_processor(processor)
    logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
    for log_processor in log_processors:
        logger_provider.add_log_record_processor(log_processor)
    handler = None
    if log_processors:
        own = tuple(name for plugin in plugins.values() for name in plugin.own_loggers)
        handler = OtelLogHandler(logger_provider, skipped=own)
        logging.getLogger().addHandler(handler)
    return Pipeline(
        resource,
        meter_provider,
        tracer_provider,
        logger_provider,
        plugins,
        tracing=bool(span_processors),
        log_handler=handler,
        readers=readers,
        alerts=alerts,
        outcomes=outcomes,
    )
