"""The ``azure_monitor`` exporter plugin: metrics, traces and logs to Application Insights.

A separate distribution (``otelkit-azure-monitor``) so that ``pip install otelkit`` never pulls
the Azure SDK. Choose it with ``OTEL_METRICS_EXPORTER`` / ``OTEL_TRACES_EXPORTER`` /
``OTEL_LOGS_EXPORTER=azure_monitor`` and set ``APPLICATIONINSIGHTS_CONNECTION_STRING``; the
connection string is validated at ``init_telemetry()``. The exporters come from
``azure-monitor-opentelemetry-exporter`` and are imported only when a factory runs, so loading
the plugin stays cheap.

Cloud role name and instance are what the Azure exporter derives from the resource:
``ai.cloud.role`` = ``service.namespace.service.name`` (or ``service.name``),
``ai.cloud.roleInstance`` = ``k8s.pod.name``, else ``service.instance.id``, else the host name.

Delivery: a failed request is first retried inside the request by the Azure SDK's HTTP pipeline
(500/503/504, and any status with a ``Retry-After`` header). If it still fails with a retryable
status (401, 403, 408, 429, 500, 502, 503, 504) or a network error, the envelopes are written to
the offline storage directory and sent again by a later successful export of the same process
once their retry interval has passed (``OTELKIT_AZURE_MONITOR_STORAGE_RETRY_INTERVAL``, or the
``Retry-After`` of a 429). Stored envelopes are kept at most 48 hours and 50 MiB.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader

from otelkit.exporters import (
    ConfigError,
    ExporterPlugin,
    InvalidValue,
    Setting,
    parse_boolean,
    parse_non_empty,
    parse_positive_number,
    parse_text,
    parse_url,
)

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

__all__ = ["AzureMonitorPlugin", "ConnectionString", "parse_connection_string"]

CONNECTION_STRING_SHAPE = (
    "`InstrumentationKey=<guid>;IngestionEndpoint=https://...` (the resource's connection "
    "string, from its Overview page in the Azure portal)"
)
DEFAULT_INGESTION_ENDPOINT = "https://dc.services.visualstudio.com"
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9]*")


@dataclass(frozen=True, repr=False)
class ConnectionString:
    """A validated connection string; its repr never shows the instrumentation key."""

    instrumentation_key: str
    """Lower case, as the Azure exporter requires."""
    ingestion_endpoint: str | None
    """None when the endpoint follows from ``EndpointSuffix`` (sovereign clouds)."""
    value: str
    """The normalized string handed to the exporter."""

    def __repr__(self) -> str:
        return f"ConnectionString(instrumentation_key='***', endpoint={self.ingestion_endpoint!r})"


def _masked(pairs: list[tuple[str, str]]) -> str:
    return ";".join(f"{key}=***" for key, _ in pairs) or "nothing"


def parse_connection_string(value: object) -> ConnectionString:
    """``Key=Value;...`` with an ``InstrumentationKey`` GUID; no value appears in a reason."""
    raw = parse_text(value)
    pairs: list[tuple[str, str]] = []
    for segment in raw.split(";"):
        segment = segment.strip()
        if not segment:
            continue
        key, sep, item = segment.partition("=")
        key, item = key.strip(), item.strip()
        if not sep or not _KEY.fullmatch(key):
            raise InvalidValue(f"entry {len(pairs) + 1} is not Key=Value")
        if "=" in item:
            raise InvalidValue(f"the value of {key} contains '='")
        pairs.append((key, item))
    shape = f"got {_masked(pairs)}"
    found: dict[str, tuple[str, str]] = {}
    for key, item in pairs:
        if key.lower() in found:
            raise InvalidValue(f"{key} is given twice ({shape})")
        found[key.lower()] = (key, item)
    if "instrumentationkey" not in found:
        raise InvalidValue(f"no InstrumentationKey ({shape})")
    ikey = found["instrumentationkey"][1]
    if not _GUID.fullmatch(ikey):
        raise InvalidValue(f"the InstrumentationKey is not a GUID ({shape})")
    auth = found.get("authorization")
    if auth is not None and auth[1].lower() != "ikey":
        raise InvalidValue(f"Authorization must be ikey when given ({shape})")
    endpoint: str | None = None
    if "ingestionendpoint" in found:
        try:
            endpoint = parse_url(found["ingestionendpoint"][1]).rstrip("/")
        except InvalidValue:
            raise InvalidValue(
                f"IngestionEndpoint is not an http:// or https:// URL with a host ({shape})"
            ) from None
    elif "endpointsuffix" not in found:
        endpoint = DEFAULT_INGESTION_ENDPOINT  # explicit, so no other variable can change it
    normalized = {**found, "instrumentationkey": ("InstrumentationKey", ikey.lower())}
    if endpoint is not None:
        normalized["ingestionendpoint"] = ("IngestionEndpoint", endpoint)
    text = ";".join(f"{key}={item}" for key, item in normalized.values())
    return ConnectionString(ikey.lower(), endpoint, text)


def _directory(value: object) -> str:
    return parse_non_empty(value)


class AzureMonitorPlugin(ExporterPlugin):
    """Application Insights through ``azure-monitor-opentelemetry-exporter``."""

    name = "azure_monitor"
    signals = frozenset({"metrics", "traces", "logs"})
    own_loggers = ("azure", "urllib3", "requests")
    settings = (
        Setting(
            key="connection_string",
            env="APPLICATIONINSIGHTS_CONNECTION_STRING",
            parse=parse_connection_string,
            accepted=CONNECTION_STRING_SHAPE,
            doc="Application Insights resource to send to (never logged).",
            keyword="azure_monitor_connection_string",
            secret=True,
            required=True,
        ),
        Setting(
            key="storage_directory",
            env="OTELKIT_AZURE_MONITOR_STORAGE_DIRECTORY",
            parse=_directory,
            accepted="a directory path (created if missing)",
            doc="Where envelopes that could not be sent wait for their retry.",
            keyword="azure_monitor_storage_directory",
            default_doc="a per-user directory under the system temp directory",
        ),
        Setting(
            key="disable_offline_storage",
            env="OTELKIT_AZURE_MONITOR_DISABLE_OFFLINE_STORAGE",
            parse=parse_boolean,
            default=False,
            accepted="`true` or `false`",
            doc="`true` drops envelopes that still fail after the in-request retries instead of "
            "storing them on disk for a later retry.",
            keyword="azure_monitor_disable_offline_storage",
        ),
        Setting(
            key="storage_retry_interval_s",
            env="OTELKIT_AZURE_MONITOR_STORAGE_RETRY_INTERVAL",
            parse=parse_positive_number,
            default=60.0,
            accepted="a number of seconds greater than 0",
            doc="How long stored envelopes wait before a later successful export sends them again "
            "(a 429's `Retry-After` takes precedence).",
            keyword="azure_monitor_storage_retry_interval",
        ),
    )

    def validate(self) -> None:
        if self.options["disable_offline_storage"] and self.options["storage_directory"]:
            raise ConfigError(
                f"{self.source('storage_directory')} is set but "
                f"{self.source('disable_offline_storage')} is true: nothing would be stored "
                "there. Unset one of them."
            )

    def exporter_kwargs(self) -> dict[str, Any]:
        """What every Azure exporter is built with (the connection string in the clear)."""
        connection: ConnectionString = self.options["connection_string"]
        kwargs: dict[str, Any] = {
            "connection_string": connection.value,
            "disable_offline_storage": self.options["disable_offline_storage"],
            "storage_min_retry_interval": self.options["storage_retry_interval_s"],
        }
        if self.options["storage_directory"]:
            kwargs["storage_directory"] = self.options["storage_directory"]
        return kwargs

    def metric_reader(self, resource: Resource) -> MetricReader:
        module = _import("azure.monitor.opentelemetry.exporter")
        exporter = module.AzureMonitorMetricExporter(**self.exporter_kwargs())
        return PeriodicExportingMetricReader(
            exporter,
            export_interval_millis=self.core.metric_export_interval_ms,
            export_timeout_millis=self.core.metric_export_timeout_ms,
        )

    def span_exporter(self, resource: Resource) -> Any:
        module = _import("azure.monitor.opentelemetry.exporter")
        return module.AzureMonitorTraceExporter(**self.exporter_kwargs())

    def log_exporter(self, resource: Resource) -> Any:
        module = _import("azure.monitor.opentelemetry.exporter")
        return module.AzureMonitorLogExporter(**self.exporter_kwargs())


def _import(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            f"the azure_monitor exporter needs azure-monitor-opentelemetry-exporter, which does "
            f"not import ({exc.name}: {exc}): pip install otelkit-azure-monitor."
        ) from None
