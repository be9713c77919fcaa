"""``init_telemetry()`` and the ``Telemetry`` handle it returns."""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict

from opentelemetry import _logs as logs_api
from opentelemetry import metrics as metrics_api
from opentelemetry import trace as trace_api

from otelkit import _active
from otelkit._errors import short_config_errors
from otelkit._version import __version__
from otelkit.config import _redact
from otelkit.metrics._fastpath._meter import ClaimingMeter
from otelkit.runtime import _fork
from otelkit.runtime import _integrations as integrations
from otelkit.runtime._announce import announce
from otelkit.runtime._load import instantiate, load_settings
from otelkit.runtime._pipeline import Pipeline, build
from otelkit.runtime._processors import give_up
from otelkit.runtime._resource import build_resource
from otelkit.runtime._shutdown import ExitHooks, Lane, run_with_deadline

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry.metrics import Meter
    from opentelemetry.trace import Tracer
    from typing_extensions import Unpack

    from otelkit.alerting._engine import AlertEngine
    from otelkit.config._settings import Settings
    from otelkit.health._registry import HealthRegistry

logger = logging.getLogger("otelkit")

_lock = threading.RLock()


def _new_lock_in_child() -> None:
    """A thread of the parent may have held the lock at the fork: the child gets its own."""
    global _lock
    _lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)
_globals_installed = False
_reconfiguration_explained = False
"""Whether the warning that the global providers stay on the first configuration was logged."""

ExportersArg = str | Sequence[str] | Mapping[str, str | Sequence[str]]


class PluginKeywords(TypedDict, total=False):
    """The keywords of the built-in exporter plugins, typed. Those of other plugins are
    accepted at run time (validated against the chosen plugins' settings at ``init_telemetry()``)
    but are outside the typed signature: prefer their environment variables."""

    prometheus_host: str | None
    prometheus_port: int | None
    prometheus_token: str | None
    prometheus_multiprocess_dir: str | None
    prometheus_tls_cert: str | None
    prometheus_tls_key: str | None
    otlp_endpoint: str | None
    otlp_protocol: str | None
    otlp_headers: Mapping[str, str] | str | None
    otlp_timeout: float | None
    otlp_compression: str | None
    otlp_certificate: str | None
    otlp_client_key: str | None
    otlp_client_certificate: str | None
    otlp_insecure: bool | None
    otlp_traces_endpoint: str | None
    otlp_traces_protocol: str | None
    otlp_traces_headers: Mapping[str, str] | str | None
    otlp_traces_timeout: float | None
    otlp_traces_compression: str | None
    otlp_traces_certificate: str | None
    otlp_traces_client_key: str | None
    otlp_traces_client_certificate: str | None
    otlp_traces_insecure: bool | None
    otlp_metrics_endpoint: str | None
    otlp_metrics_protocol: str | None
    otlp_metrics_headers: Mapping[str, str] | str | None
    otlp_metrics_timeout: float | None
    otlp_metrics_compression: str | None
    otlp_metrics_certificate: str | None
    otlp_metrics_client_key: str | None
    otlp_metrics_client_certificate: str | None
    otlp_metrics_insecure: bool | None
    otlp_logs_endpoint: str | None
    otlp_logs_protocol: str | None
    otlp_logs_headers: Mapping[str, str] | str | None
    otlp_logs_timeout: float | None
    otlp_logs_compression: str | None
    otlp_logs_certificate: str | None
    otlp_logs_client_key: str | None
    otlp_logs_client_certificate: str | None
    otlp_logs_insecure: bool | None
    otlp_metrics_temporality_preference: str | None
    otlp_metrics_default_histogram_aggregation: str | None


class Telemetry:
    """The handle ``init_telemetry()`` returns: the configured meter, tracer and settings.

    ``force_flush()`` and ``shutdown()`` are bounded by ``timeout`` seconds (default
    ``OTELKIT_SHUTDOWN_TIMEOUT``). ``shutdown()`` is idempotent; after it, ``init_telemetry()``
    may configure a new pipeline.
    """

    def __init__(self, settings: Settings, pipeline: Pipeline | None) -> None:
        self.settings = settings
        self._pipeline = pipeline
        self._shut_down = False
        self._shutdown_lock = threading.Lock()
        self._lanes = {signal: Lane() for signal in ("metrics", "traces", "logs")}
        if pipeline is None:  # OTEL_SDK_DISABLED: the API's no-op implementations
            self.meter: Meter = metrics_api.NoOpMeter("otelkit")
            self.tracer: Tracer = trace_api.NoOpTracer()
        else:
            self.meter = ClaimingMeter(pipeline.meter_provider.get_meter("otelkit", __version__))
            self.tracer = pipeline.tracer_provider.get_tracer("otelkit", __version__)
        self.alerts: AlertEngine | None = pipeline.alerts if pipeline is not None else None
        """In-process alerting, None unless ``OTELKIT_ALERTS`` is on: ``.rules``, ``.alerts()``,
        ``.status()``, ``.add_rule(rule)``."""
        self._hooks = ExitHooks(flush=self.force_flush, shutdown=self.shutdown)
        self._integrations: list[Callable[[], None]] = []

    @property
    def health(self) -> HealthRegistry:
        """The process's readiness checks: ``.checks``, ``.check()`` for a report now."""
        from otelkit.health._registry import HEALTH

        return HEALTH

    @property
    def enabled(self) -> bool:
        """False when ``OTEL_SDK_DISABLED`` turned otelkit off."""
        return self._pipeline is not None

    @property
    def tracing(self) -> bool:
        """True when spans are exported somewhere (instrumentations skip spans otherwise)."""
        return self._pipeline is not None and self._pipeline.tracing

    def force_flush(self, timeout: float | None = None) -> bool:
        """Export everything recorded so far, within ``timeout`` seconds.

        False if anything was not delivered: an export of any signal failed (returned FAILURE
        or raised) since the previous flush, or a signal's flush did not finish in time.
        At most one flush per signal is in flight: a flush that times out leaves its thread
        running (a stuck exporter cannot be interrupted), and the next flush of that signal
        waits for it within its own deadline, then flushes; if it is still running at the
        deadline, that signal is not flushed again and the call returns False. Repeated
        timed-out flushes therefore hold at most one thread per signal.
        """
        pipeline = self._pipeline
        if pipeline is None or self._shut_down:
            return True
        seconds = self.settings.shutdown_timeout_s if timeout is None else timeout
        millis = seconds * 1000

        done = run_with_deadline(
            {
                "metrics flush": lambda: pipeline.meter_provider.force_flush(millis),
                "traces flush": lambda: pipeline.tracer_provider.force_flush(int(millis)),
                "logs flush": lambda: pipeline.logger_provider.force_flush(int(millis)),
            },
            seconds,
            lanes={f"{signal} flush": lane for signal, lane in self._lanes.items()},
        )
        return self._delivered(pipeline) and done

    @staticmethod
    def _delivered(pipeline: Pipeline) -> bool:
        """False if an export failed since the previous check (which every signal passes)."""
        failed = {signal: outcome.checkpoint() for signal, outcome in pipeline.outcomes.items()}
        for signal, count in failed.items():
            if count:
                logger.warning("otelkit: %d %s export(s) failed", count, signal)
        return not any(failed.values())

    def shutdown(self, timeout: float | None = None) -> bool:
        """Flush and stop every signal, release the listener; harmless when called again.

        False if anything was not delivered (as ``force_flush()``) or a signal did not stop in
        time; how many spans and log records failed to export since start-up is logged.
        """
        with self._shutdown_lock:
            if self._shut_down:
                return True
            self._shut_down = True
        self._hooks.uninstall()
        with _lock:
            if _active.current() is self:
                _active.set_current(None)
        integrations.uninstall(self._integrations)
        pipeline = self._pipeline
        if pipeline is None:
            return True
        seconds = self.settings.shutdown_timeout_s if timeout is None else timeout
        millis = seconds * 1000
        if pipeline.log_handler is not None:
            logging.getLogger().removeHandler(pipeline.log_handler)
        if pipeline.alerts is not None:
            # First: its thread collects from one of the readers about to shut down.
            pipeline.alerts.stop(timeout=seconds / 2)

        done = run_with_deadline(
            {
                "metrics shutdown": lambda: pipeline.meter_provider.shutdown(millis),
                "traces shutdown": pipeline.tracer_provider.shutdown,
                "logs shutdown": pipeline.logger_provider.shutdown,
            },
            seconds,
        )
        left = give_up(pipeline.outcomes.values())  # still queued or exporting: dropped
        if left:
            logger.warning(
                "otelkit: shutdown gave up after %.1f s on %d span(s) and %d log record(s) "
                "not yet delivered (otelkit.dropped, error.type=shutdown_timeout)",
                seconds,
                left.get("traces", 0),
                left.get("logs", 0),
            )
        pipeline.close()
        delivered = self._delivered(pipeline)
        spans, records, points = (
            outcome.undelivered if (outcome := pipeline.outcomes.get(s)) else 0
            for s in ("traces", "logs", "metrics")
        )
        if spans or records or points:
            logger.warning(
                "otelkit: %d span(s), %d log record(s) and %d metric point(s) could not be "
                "delivered since start-up",
                spans,
                records,
                points,
            )
        return delivered and done

    def __repr__(self) -> str:
        state = "shut down" if self._shut_down else ("enabled" if self.enabled else "disabled")
        return f"<Telemetry service={self.settings.service_name!r} {state}>"


@short_config_errors
def init_telemetry(
    service_name: str | None = None,
    *,
    environment: str | None = None,
    exporters: ExportersArg | None = None,
    instrument: str | Sequence[str] | None = None,
    resource_attributes: Mapping[str, str] | str | None = None,
    resource_detectors: str | Sequence[str] | None = None,
    sdk_disabled: bool | None = None,
    service_version: str | None = None,
    metrics_exporters: str | Sequence[str] | None = None,
    traces_exporters: str | Sequence[str] | None = None,
    logs_exporters: str | Sequence[str] | None = None,
    metric_export_interval_ms: float | None = None,
    metric_export_timeout_ms: float | None = None,
    metrics_exemplar_filter: str | None = None,
    histogram_aggregation: str | None = None,
    traces_sampler: str | None = None,
    traces_sampler_arg: float | None = None,
    http_buckets: str | Sequence[float] | None = None,
    http_excluded_urls: str | Sequence[str] | None = None,
    health_liveness_path: str | None = None,
    health_readiness_path: str | None = None,
    http_implementation: str | None = None,
    http_body_size: bool | None = None,
    system_metrics: bool | None = None,
    system_metrics_detail: bool | None = None,
    http_client: bool | None = None,
    shutdown_timeout: float | None = None,
    metric_names_limit: int | None = None,
    alert_interval: float | str | None = None,
    alert_window: float | str | None = None,
    alert_repeat_interval: float | str | None = None,
    alert_default_rules: str | Sequence[str] | None = None,
    alert_cpu_threshold: float | str | None = None,
    alert_cpu_for: float | str | None = None,
    alert_memory_threshold: float | str | None = None,
    alert_memory_for: float | str | None = None,
    alert_disk_threshold: float | str | None = None,
    alert_disk_for: float | str | None = None,
    alert_error_rate_threshold: float | str | None = None,
    alert_error_rate_for: float | str | None = None,
    alert_response_time_threshold: float | str | None = None,
    alert_response_time_for: float | str | None = None,
    alert_rules_file: str | None = None,
    alert_webhook_url: str | None = None,
    alert_webhook_timeout: float | str | None = None,
    alert_webhook_retries: int | None = None,
    alert_smtp_host: str | None = None,
    alert_smtp_port: int | None = None,
    alert_smtp_tls: str | None = None,
    alert_smtp_from: str | None = None,
    alert_smtp_to: str | Sequence[str] | None = None,
    alert_smtp_user: str | None = None,
    alert_smtp_password: str | None = None,
    alert_smtp_timeout: float | str | None = None,
    alert_webhook_url_critical: str | None = None,
    alert_webhook_url_warning: str | None = None,
    alert_webhook_url_info: str | None = None,
    alert_smtp_to_critical: str | Sequence[str] | None = None,
    alert_smtp_to_warning: str | Sequence[str] | None = None,
    alert_smtp_to_info: str | Sequence[str] | None = None,
    alerts: bool | None = None,
    **plugin_settings: Unpack[PluginKeywords],
) -> Telemetry:
    """Configure metrics, traces and logs for this process; call once at start-up.

    Every argument overrides its environment variable (see docs/configuration.md), which
    overrides the default. All configuration is validated here: a bad value raises
    ``ConfigError`` before anything is started. A second call warns and returns the first
    handle. Besides the core keywords, those of the built-in plugins are typed
    (``PluginKeywords``); those of other installed plugins are accepted at run time, and any
    other keyword is a ``ConfigError`` naming the closest known one.
    """
    # Every parameter, as given (the typed ones are exactly the core settings' keywords).
    arguments = {k: v for k, v in locals().items() if k != "plugin_settings"}
    keywords = {**arguments, **plugin_settings}
    keywords = {k: v for k, v in keywords.items() if v is not None}
    global _globals_installed, _reconfiguration_explained
    with _lock:
        running = _active.current()
        if running is not None:
            warnings.warn(
                "otelkit: init_telemetry() was already called; the first configuration stays "
                "in effect and its handle is returned (call .shutdown() on it to reconfigure).",
                RuntimeWarning,
                stacklevel=2,
            )
            return running
        loaded = load_settings(keywords, os.environ)
        settings = loaded.settings
        _redact.protect(settings)  # before anything can log an endpoint or a header
        if settings.sdk_disabled:
            logger.info("otelkit: OTEL_SDK_DISABLED is set; telemetry is off")
            telemetry = Telemetry(settings, None)
            _active.set_current(telemetry)
            return telemetry

        integrations.check(settings)  # a missing extra fails before anything starts
        _fork.install()
        plugins = instantiate(loaded)
        if "prometheus" in settings.exporters_for("metrics"):
            from otelkit.status._http import install as serve_status  # /status on that port

            serve_status()
        resource = build_resource(settings, loaded.resource_detectors)
        pipeline = build(settings, plugins, resource)
        if not _globals_installed:
            metrics_api.set_meter_provider(pipeline.meter_provider)
            trace_api.set_tracer_provider(pipeline.tracer_provider)
            logs_api.set_logger_provider(pipeline.logger_provider)
            _globals_installed = True
        elif not _reconfiguration_explained:
            _reconfiguration_explained = (
                True  # once per process: tests reconfigure hundreds of times
            )
            logger.warning(
                "otelkit: the OpenTelemetry global providers can be set once per process; "
                "they stay on the first configuration. Use the handle's .meter and .tracer."
            )
        telemetry = Telemetry(settings, pipeline)
        telemetry._hooks.install()
        _active.set_current(telemetry)
        telemetry._integrations = integrations.install(telemetry)
        if pipeline.alerts is not None:
            from otelkit.runtime._alerting import wire_alerts

            wire_alerts(pipeline, at_init=True)
            pipeline.alerts.start()
        logger.debug("otelkit: telemetry configured: %r", settings)
        announce(settings, pipeline.plugins)
        return telemetry
