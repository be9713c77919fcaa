"""The ``otlp`` exporter plugin: gRPC or HTTP/protobuf, metrics, traces and logs.

Every standard ``OTEL_EXPORTER_OTLP_*`` variable and its per-signal form is validated here, at
``init_telemetry()``, and the resolved values are passed to the SDK exporters explicitly. Two
points where the SDK deviates from the specification follow the specification instead (see
docs/architecture.md): the default protocol is ``http/protobuf`` and timeouts are milliseconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import Aggregation, ExponentialBucketHistogramAggregation

from otelkit._errors import ConfigError
from otelkit._sdk_otlp import own_span_encoding
from otelkit.config import _parse, _redact
from otelkit.exporters._otlp_spans import encode_spans
from otelkit.exporters._plugin import ExporterPlugin, Setting

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from opentelemetry.sdk.resources import Resource

PROTOCOLS = ("grpc", "http/protobuf")
COMPRESSIONS = ("none", "gzip")
TEMPORALITIES = ("cumulative", "delta", "lowmemory")
HISTOGRAM_AGGREGATIONS = ("explicit_bucket_histogram", "base2_exponential_bucket_histogram")
_DEFAULT_PORTS = {"grpc": 4317, "http/protobuf": 4318}
_SIGNAL_PATHS = {"traces": "v1/traces", "metrics": "v1/metrics", "logs": "v1/logs"}


def _headers(value: object) -> Mapping[str, _parse.Secret]:
    """Header values are credentials more often than not: keep them out of every repr."""
    pairs = _parse.key_value_list(value)
    return MappingProxyType({k.lower(): _parse.Secret(v) for k, v in pairs.items()})


def _file(value: object) -> str:
    path = _parse.non_empty(value)
    if not os.path.isfile(path):
        raise _parse.Invalid(f"no readable file at {path!r}")
    return path


def _settings_for(signal: str | None) -> tuple[Setting[Any], ...]:
    infix = f"{signal.upper()}_" if signal else ""
    prefix = f"OTEL_EXPORTER_OTLP_{infix}"
    scope = f"{signal} " if signal else ""
    key = f"{signal}_" if signal else ""

    def setting(
        name: str, parse: Any, accepted: str, doc: str, secret: bool = False
    ) -> Setting[Any]:
        env = prefix + name
        return Setting(
            key=key + name.lower(),
            env=env,
            parse=parse,
            accepted=accepted,
            doc=doc,
            keyword=env.removeprefix("OTEL_EXPORTER_").lower(),
            secret=secret,
            default_doc="—" if signal else None,
        )

    return (
        setting(
            "ENDPOINT",
            _redact.secret_url,
            "an http:// or https:// URL",
            f"OTLP {scope}endpoint"
            + (
                " (used as is)."
                if signal
                else "; `/v1/<signal>` is appended for http/protobuf. Default: "
                "`http://localhost:4318` (http/protobuf) or `http://localhost:4317` (grpc)."
            ),
        ),
        setting(
            "PROTOCOL",
            _parse.choice(*PROTOCOLS),
            ", ".join(f"`{p}`" for p in PROTOCOLS),
            f"OTLP {scope}transport. Default: `http/protobuf`."
            if not signal
            else f"OTLP {scope}transport.",
        ),
        setting(
            "HEADERS",
            _headers,
            "`key=value` pairs separated by commas, values percent-encoded",
            f"Headers of every {scope}export request (values are never logged).",
            secret=True,
        ),
        setting(
            "TIMEOUT",
            _parse.duration("ms", positive=True),
            _parse.duration_accepted("ms"),
            f"Time limit of one {scope}export, in milliseconds (default 10000).",
        ),
        setting(
            "COMPRESSION",
            _parse.choice(*COMPRESSIONS),
            ", ".join(f"`{c}`" for c in COMPRESSIONS),
            f"Compression of {scope}export requests (default none).",
        ),
        setting(
            "CERTIFICATE",
            _file,
            "a path to a PEM file",
            f"CA bundle to verify the {scope}endpoint.",
        ),
        setting("CLIENT_KEY", _file, "a path to a PEM file", f"Client key for {scope}mTLS."),
        setting(
            "CLIENT_CERTIFICATE",
            _file,
            "a path to a PEM file",
            f"Client certificate for {scope}mTLS.",
        ),
        setting(
            "INSECURE",
            _parse.boolean,
            "`true` or `false`",
            f"gRPC only: plaintext {scope}connection even for a non-http:// endpoint.",
        ),
    )


_EXTRA = (
    Setting(
        key="metrics_temporality_preference",
        env="OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
        parse=_parse.choice(*TEMPORALITIES),
        accepted=", ".join(f"`{t}`" for t in TEMPORALITIES),
        doc="Aggregation temporality of pushed metrics (default cumulative).",
        keyword="otlp_metrics_temporality_preference",
    ),
    Setting(
        key="metrics_default_histogram_aggregation",
        env="OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
        parse=_parse.choice(*HISTOGRAM_AGGREGATIONS),
        accepted=", ".join(f"`{a}`" for a in HISTOGRAM_AGGREGATIONS),
        doc="Histogram aggregation of pushed metrics (default explicit buckets).",
        keyword="otlp_metrics_default_histogram_aggregation",
    ),
)


@dataclass(frozen=True)
class SignalConfig:
    """What one signal's exporter is built from, after per-signal > generic > default."""

    protocol: str
    endpoint: str
    headers: Mapping[str, _parse.Secret]
    timeout_s: float
    compression: str
    certificate: str | None
    client_key: str | None
    client_certificate: str | None
    insecure: bool | None

    @property
    def plain_headers(self) -> dict[str, str]:
        return {k: v.value for k, v in self.headers.items()}


def _join_path(base: str, tail: str) -> str:
    parts = urlsplit(base)
    path = parts.path.rstrip("/") + "/" + tail
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


class OtlpPlugin(ExporterPlugin):
    name = "otlp"
    signals = frozenset({"metrics", "traces", "logs"})
    own_loggers = ("urllib3", "requests", "grpc")
    settings = (
        *_settings_for(None),
        *(s for sig in _SIGNAL_PATHS for s in _settings_for(sig)),
        *_EXTRA,
    )

    def __init__(self, options: Mapping[str, Any], core: Any) -> None:
        self._exporters: list[PerProcess] = []
        super().__init__(options, core)

    def resolve(self, signal: str) -> SignalConfig:
        """Per-signal value, else the generic one, else the specification's default."""
        options = self.options

        def pick(name: str) -> Any:
            own = options[f"{signal}_{name}"]
            return own if own is not None else options[name]

        protocol = pick("protocol") or "http/protobuf"
        endpoint = options[f"{signal}_endpoint"]
        if endpoint is None:
            base = options["endpoint"] or f"http://localhost:{_DEFAULT_PORTS[protocol]}"
            endpoint = _join_path(base, _SIGNAL_PATHS[signal]) if protocol != "grpc" else base
        headers = pick("headers") or {}
        timeout_ms = pick("timeout") or 10_000.0
        return SignalConfig(
            protocol=protocol,
            endpoint=endpoint,
            headers=headers,
            timeout_s=timeout_ms / 1000.0,
            compression=pick("compression") or "none",
            certificate=pick("certificate"),
            client_key=pick("client_key"),
            client_certificate=pick("client_certificate"),
            insecure=pick("insecure"),
        )

    def validate(self) -> None:
        for signal in self.signals:
            config = self.resolve(signal)
            if (config.client_key is None) != (config.client_certificate is None):
                raise ConfigError(
                    "OTEL_EXPORTER_OTLP_CLIENT_KEY and OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE "
                    f"(or their {signal.upper()} forms) must be set together for mTLS; only one "
                    "is set."
                )

    def metric_reader(self, resource: Resource) -> MetricReader:
        config = self.resolve("metrics")
        preferences = {
            "preferred_temporality": _temporality(self.options["metrics_temporality_preference"]),
            "preferred_aggregation": _aggregation(
                self.options["metrics_default_histogram_aggregation"]
            ),
        }
        if config.protocol == "grpc":
            module = _import("opentelemetry.exporter.otlp.proto.grpc.metric_exporter", config)
            kwargs = self._grpc_kwargs(config)
        else:
            module = _import("opentelemetry.exporter.otlp.proto.http.metric_exporter", config)
            kwargs = self._http_kwargs(config)
        exporter = self._per_process(lambda: module.OTLPMetricExporter(**kwargs, **preferences))
        return PeriodicExportingMetricReader(
            exporter,
            export_interval_millis=self.core.metric_export_interval_ms,
            export_timeout_millis=self.core.metric_export_timeout_ms,
        )

    def span_exporter(self, resource: Resource) -> Any:
        config = self.resolve("traces")
        if config.protocol == "grpc":
            _import("opentelemetry.exporter.otlp.proto.grpc.trace_exporter", config)
            kwargs = self._grpc_kwargs(config)
        else:
            _import("opentelemetry.exporter.otlp.proto.http.trace_exporter", config)
            kwargs = self._http_kwargs(config)
        grpc = config.protocol == "grpc"  # the SDK's exporter, sending otelkit's encoding
        return self._per_process(lambda: own_span_encoding(encode_spans, kwargs, grpc=grpc))

    def log_exporter(self, resource: Resource) -> Any:
        config = self.resolve("logs")
        if config.protocol == "grpc":
            module = _import("opentelemetry.exporter.otlp.proto.grpc._log_exporter", config)
            kwargs = self._grpc_kwargs(config)
        else:
            module = _import("opentelemetry.exporter.otlp.proto.http._log_exporter", config)
            kwargs = self._http_kwargs(config)
        return self._per_process(lambda: module.OTLPLogExporter(**kwargs))

    def _per_process(self, build: Callable[[], Any]) -> Any:
        exporter = PerProcess(build)
        self._exporters.append(exporter)
        return exporter

    def after_fork_in_child(self, resource: Resource) -> None:
        """New exporters: the inherited ones share the parent's connection (an HTTP keep-alive
        socket, a gRPC channel), and two processes writing one socket corrupt each other."""
        for exporter in self._exporters:
            exporter.rebuild()

    @staticmethod
    def _http_kwargs(config: SignalConfig) -> dict[str, Any]:
        from opentelemetry.exporter.otlp.proto.http import Compression

        return {
            "endpoint": config.endpoint,
            "headers": config.plain_headers,
            "timeout": config.timeout_s,
            "compression": Compression(config.compression),
            "certificate_file": config.certificate,
            "client_key_file": config.client_key,
            "client_certificate_file": config.client_certificate,
        }

    @staticmethod
    def _grpc_kwargs(config: SignalConfig) -> dict[str, Any]:
        import grpc

        parts = urlsplit(config.endpoint)
        insecure = config.insecure if config.insecure is not None else parts.scheme == "http"
        credentials = None
        if not insecure:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(config.certificate),
                private_key=_read(config.client_key),
                certificate_chain=_read(config.client_certificate),
            )
        return {
            "endpoint": config.endpoint,
            "insecure": insecure,
            "credentials": credentials,
            "headers": config.plain_headers,
            "timeout": config.timeout_s,
            "compression": (
                grpc.Compression.Gzip
                if config.compression == "gzip"
                else grpc.Compression.NoCompression
            ),
        }


def _temporality(preference: str | None) -> dict[type, AggregationTemporality]:
    """The specification's table for OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE."""
    cumulative, delta = AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA
    table: dict[type, AggregationTemporality] = {
        Counter: cumulative,
        UpDownCounter: cumulative,
        Histogram: cumulative,
        ObservableCounter: cumulative,
        ObservableUpDownCounter: cumulative,
        ObservableGauge: cumulative,
        # The synchronous Gauge is cumulative whatever the preference: the reader's default,
        # so it needs no entry (its class is private to the SDK, ``_Gauge``).
    }
    if preference in ("delta", "lowmemory"):
        table[Counter] = table[Histogram] = delta
    if preference == "delta":
        table[ObservableCounter] = delta
    return table


def _aggregation(choice: str | None) -> dict[type, Aggregation]:
    if choice == "base2_exponential_bucket_histogram":
        return {Histogram: ExponentialBucketHistogramAggregation()}
    return {}


def _read(path: str | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as handle:
        return handle.read()


def _import(module: str, config: SignalConfig) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = (
            "opentelemetry-exporter-otlp-proto-grpc"
            if config.protocol == "grpc"
            else "opentelemetry-exporter-otlp-proto-http"
        )
        raise ConfigError(
            f"the otlp exporter with protocol {config.protocol!r} needs {package}, which is not "
            f"installed ({exc.name}): pip install 'otelkit[otlp]'."
        ) from None


class PerProcess:
    """An exporter that ``rebuild()`` replaces; everything else is the current one's."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._exporter = build()

    def rebuild(self) -> None:
        self._exporter = self._build()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._exporter, name)
