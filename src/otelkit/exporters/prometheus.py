"""The ``prometheus`` exporter plugin: a pull endpoint rendered by otelkit itself."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics.export import MetricReader, MetricsData

from otelkit import _parse
from otelkit._config import Setting
from otelkit._errors import ConfigError
from otelkit._plugins import ExporterPlugin
from otelkit.exporters import _endpoint, _exposition

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

    from otelkit._parse import Secret


class PrometheusReader(MetricReader):
    """A pull reader: each scrape collects (cumulative) and renders the text exposition."""

    def __init__(
        self,
        resource: Resource,
        token: Secret | None,
        cardinality_limits: dict[type, int] | None = None,
    ) -> None:
        super().__init__(cardinality_limits=cardinality_limits)
        self.resource = resource
        self.token = token
        self._scrape_lock = threading.Lock()
        self._latest: MetricsData | None = None

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        self._latest = metrics_data

    def scrape(self) -> bytes:
        with self._scrape_lock:
            self._latest = None
            self.collect()
            data, self._latest = self._latest, None
        return _exposition.render(data, self.resource)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True  # pull: nothing is pending; a scrape reads the live state

    def __repr__(self) -> str:
        return f"<PrometheusReader token={'set' if self.token else 'none'}>"


class PrometheusPlugin(ExporterPlugin):
    name = "prometheus"
    signals = frozenset({"metrics"})
    settings = (
        Setting(
            "host",
            "OTEL_EXPORTER_PROMETHEUS_HOST",
            _parse.non_empty,
            "127.0.0.1",
            "an interface address or host name (`0.0.0.0` exposes it to the network)",
            "Address the `/metrics` listener binds to; loopback by default.",
            keyword="prometheus_host",
        ),
        Setting(
            "port",
            "OTEL_EXPORTER_PROMETHEUS_PORT",
            _parse.integer(0, 65535),
            9464,
            "an integer port in 0..65535; 0 turns the listener off (use `metrics_app()`)",
            "Port of the `/metrics` listener.",
            keyword="prometheus_port",
        ),
        Setting(
            "token",
            "OTELKIT_PROMETHEUS_TOKEN",
            _parse.secret,
            None,
            "any text without spaces",
            "If set, `/metrics` requires `Authorization: Bearer <token>` (401 otherwise).",
            keyword="prometheus_token",
            secret=True,
        ),
    )

    def __init__(self, options: Any, core: Any) -> None:
        self._listener: _endpoint.Listener | None = None
        self._reader: PrometheusReader | None = None
        super().__init__(options, core)

    def validate(self) -> None:
        token: Secret | None = self.options["token"]
        if token is not None and any(c.isspace() for c in token.value):
            raise ConfigError(
                "OTELKIT_PROMETHEUS_TOKEN='***' is not valid: it contains whitespace, which no "
                "Authorization header can carry. Accepted: any text without spaces."
            )

    def metric_reader(self, resource: Resource) -> MetricReader:
        reader = PrometheusReader(resource, self.options["token"])
        if self.options["port"]:
            self._listener = _endpoint.Listener(
                self.options["host"],
                self.options["port"],
                reader,
                (self.source("host"), self.source("port")),
            )
        self._reader = reader
        _endpoint.set_current(reader)
        return reader

    @property
    def address(self) -> tuple[str, int] | None:
        """Where the listener serves (host, port), or None when it is off."""
        return (str(self._listener.host), self._listener.port) if self._listener else None

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._reader is not None:
            _endpoint.clear_current(self._reader)
