"""The ``prometheus`` exporter plugin: a pull endpoint rendered by otelkit itself.

Under a pre-fork server the processes share a directory and every scrape returns the total of
all of them (``_multiprocess/``): automatically for gunicorn, ``uvicorn --workers``,
Celery's prefork pool and any fork after ``init_telemetry()``, or wherever
``OTELKIT_PROMETHEUS_MULTIPROCESS_DIR`` says.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics.export import MetricReader, MetricsData
from opentelemetry.semconv.attributes.service_attributes import SERVICE_INSTANCE_ID

from otelkit._errors import ConfigError
from otelkit._sdk_compat import reader_registered
from otelkit.config import _parse
from otelkit.config._settings import Setting
from otelkit.exporters._plugin import ExporterPlugin
from otelkit.exporters.prometheus import _bind, _endpoint, _exposition, _native, _tls
from otelkit.exporters.prometheus._negotiation import CLASSIC, Format
from otelkit.metrics._fastpath._aggregation import prefer_exponential

if TYPE_CHECKING:
    import ssl

    from opentelemetry.sdk.resources import Resource

    from otelkit.config._parse import Secret
    from otelkit.exporters.prometheus._multiprocess import SharedMetrics


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
        self.shared: SharedMetrics | None = None
        """Set under a pre-fork server: scrapes add up the processes sharing a directory."""
        self.tls: ssl.SSLContext | None = None
        """The listener's TLS context (``_tls``), None for http."""
        self._shut_down = False

    @property
    def merges_fast_path(self) -> bool:
        """Whether collections include otelkit's fast instruments (not when they are shared:
        then the scrape reads them from the files of all processes)."""
        return self.shared is None

    def share(self, directory: Path, *, keep_instance_id: bool, exponential: bool = False) -> None:
        """From now on, keep the fast instruments in ``directory`` and scrape all of it (with
        the histograms' exponential buckets too when ``exponential``)."""
        from otelkit.exporters.prometheus import _multiprocess as multiprocess  # POSIX only: fcntl

        self.shared = multiprocess.SharedMetrics(
            directory,
            self.resource,
            self.collect_now,
            ready=lambda: reader_registered(self),  # registered with its MeterProvider
            keep_instance_id=keep_instance_id,
            exponential=exponential,
        )

    def after_fork_in_child(self, resource: Resource) -> None:
        """The child's resource, a new lock, a file of its own in the shared directory."""
        self.resource = resource
        self._scrape_lock = threading.Lock()
        if self.shared is not None:
            self.shared.after_fork_in_child()

    def collect_now(self) -> MetricsData | None:
        """One collection, returned (the SDK's collect() hands it to ``_receive_metrics``)."""
        if self._shut_down or not reader_registered(self):
            return None  # shutting down, or a scrape before the provider registered this
        with self._scrape_lock:
            self._latest = None
            self.collect()
            data, self._latest = self._latest, None
        return data

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        self._latest = metrics_data

    def scrape(self, fmt: Format = CLASSIC) -> bytes:
        shared = self.shared
        if shared is None:
            return _exposition.render(self.collect_now(), self.resource, fmt)
        return _exposition.render(shared.exposition(), shared.resource, fmt)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        # The listener may still serve a scrape until the plugin closes it: from now on
        # without this process's SDK metrics (the provider is shutting down).
        self._shut_down = True
        if self.shared is not None:
            self.shared.stop_publishing()

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True  # pull: nothing is pending; a scrape reads the live state

    def __repr__(self) -> str:
        return f"<PrometheusReader token={'set' if self.token else 'none'}>"


class PrometheusPlugin(ExporterPlugin):
    name = "prometheus"
    signals = frozenset({"metrics"})
    settings = (
        Setting(
            key="host",
            env="OTEL_EXPORTER_PROMETHEUS_HOST",
            parse=_parse.non_empty,
            default="127.0.0.1",
            accepted="an interface address or host name (`0.0.0.0` exposes it to the network)",
            doc="Address the `/metrics` listener binds to; loopback by default.",
            keyword="prometheus_host",
        ),
        Setting(
            key="port",
            env="OTEL_EXPORTER_PROMETHEUS_PORT",
            parse=_parse.integer(0, 65535),
            default=9464,
            accepted="an integer port in 0..65535; 0 turns the listener off (use `metrics_app()`)",
            doc="Port of the `/metrics` listener.",
            keyword="prometheus_port",
        ),
        Setting(
            key="token",
            env="OTELKIT_PROMETHEUS_TOKEN",
            parse=_parse.secret,
            default=None,
            accepted="any text without spaces",
            doc="If set, `/metrics` requires `Authorization: Bearer <token>` (401 otherwise).",
            keyword="prometheus_token",
            secret=True,
        ),
        Setting(
            key="multiprocess_dir",
            env="OTELKIT_PROMETHEUS_MULTIPROCESS_DIR",
            parse=_parse.optional_text,
            default=None,
            accepted="a directory path, created if missing (mode 0700)",
            doc="Where the processes of a pre-fork server add up their metrics, so that one scrape "
            "returns the total of all workers. Found automatically under gunicorn, `uvicorn "
            "--workers`, Celery prefork and after a fork; set it for other servers, or to "
            "choose the place (see docs/deploying.md).",
            keyword="prometheus_multiprocess_dir",
        ),
        *_tls.SETTINGS,
    )

    def __init__(self, options: Any, core: Any) -> None:
        self._listener: _endpoint.Listener | None = None
        self._reader: PrometheusReader | None = None
        self.not_listening: str | None = None
        """The reloader whose watching process this is, when the listener is left to its child."""
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
        reader.tls = _tls.server_context(
            self.options["tls_cert"],
            self.options["tls_key"],
            (self.source("tls_cert"), self.source("tls_key")),
        )
        directory = self._shared_directory()
        if directory is not None:
            exponential = self.core.histogram_aggregation == _native.EXPONENTIAL
            if exponential:  # before the series move into the file: they take a window there
                prefer_exponential(reader)
            # Before the listener: its first scrape must already add up the directory (a
            # worker answering with its own empty numbers would take a counter back to zero).
            try:
                reader.share(
                    directory, keep_instance_id=self._instance_id_given, exponential=exponential
                )
            except OSError as exc:
                raise ConfigError(self._directory_error(directory, exc)) from None
        self.not_listening = _bind.reloader_parent() if self.options["port"] else None
        if self.options["port"] and self.not_listening is None:
            try:
                self._listener = _bind.listen(
                    self.options["host"],
                    self.options["port"],
                    reader,
                    (self.source("host"), self.source("port")),
                    reuse_port=directory is not None,
                    movable=self._port_movable,
                )
            except ConfigError:
                if reader.shared is not None:
                    reader.shared.close()
                raise
        self._reader = reader
        _endpoint.set_current(reader)
        return reader

    @property
    def _port_movable(self) -> bool:
        """A taken port may move on: the default port, outside production (and staging)."""
        explicit = "prometheus_port" in self.core.given_keywords or bool(
            os.environ.get("OTEL_EXPORTER_PROMETHEUS_PORT", "").strip()
        )
        return not explicit and not self.core.production_like

    def _shared_directory(self) -> Path | None:
        configured = self.options["multiprocess_dir"]
        if configured:
            return Path(configured).expanduser()
        if os.name != "posix":
            return None
        from otelkit.exporters.prometheus import _multiprocess as multiprocess

        supervisor = multiprocess.detect_supervisor()
        if supervisor is None:
            return None
        try:
            return multiprocess.automatic_directory(supervisor)
        except OSError as exc:
            raise ConfigError(self._directory_error(None, exc)) from None

    def _directory_error(self, directory: Path | None, exc: OSError) -> str:
        reason = exc.strerror or str(exc)
        if directory is None or not self.options["multiprocess_dir"]:
            return (
                "otelkit runs under a pre-fork server and cannot create its shared metrics "
                f"directory in the temporary directory ({reason}). Set "
                f"{self.source('multiprocess_dir')} to a writable directory."
            )
        return (
            f"{self.source('multiprocess_dir')}={str(directory)!r}: cannot use it as the shared "
            f"metrics directory ({reason}). Accepted: a writable directory path (created if "
            "missing)."
        )

    @property
    def _instance_id_given(self) -> bool:
        return SERVICE_INSTANCE_ID in self.core.resource_attributes

    def before_fork(self) -> None:
        """The first fork makes this process the head of a group sharing a directory."""
        reader = self._reader
        if reader is not None and reader.shared is None:
            from otelkit.exporters.prometheus import _multiprocess as multiprocess

            directory = multiprocess.automatic_directory(os.getpid())
            reader.share(directory, keep_instance_id=self._instance_id_given)

    def after_fork_in_child(self, resource: Resource) -> None:
        reader = self._reader
        if reader is None:
            return
        reader.after_fork_in_child(resource)
        if self._listener is not None:
            self._listener.after_fork_in_child()

    @property
    def address(self) -> tuple[str, int] | None:
        """Where the listener serves (host, port), or None when it is off."""
        return (str(self._listener.host), self._listener.port) if self._listener else None

    @property
    def shared_directory(self) -> Path | None:
        """The directory the processes share, when this process is one of several."""
        shared = self._reader.shared if self._reader is not None else None
        return shared.directory if shared is not None else None

    def summed_metrics(self) -> MetricsData | None:
        """The whole server's metrics, as a scrape returns them (None when not shared): what
        the process that evaluates the alert rules for the server reads."""
        shared = self._reader.shared if self._reader is not None else None
        return shared.exposition(native=False) if shared is not None else None

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._reader is not None:
            _endpoint.clear_current(self._reader)
            if self._reader.shared is not None:
                self._reader.shared.close()  # last: the listener may have been scraping
