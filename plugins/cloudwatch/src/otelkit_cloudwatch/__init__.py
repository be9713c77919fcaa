"""otelkit exporter plugin ``cloudwatch``: AWS CloudWatch through EMF or OTLP with SigV4.

``OTELKIT_CLOUDWATCH_MODE=emf`` (default) turns metrics into CloudWatch Embedded Metric Format
records written to CloudWatch Logs (PutLogEvents) or to stdout; ``otlp`` sends metrics, traces
and logs as OTLP/HTTP signed with SigV4 to the region's CloudWatch, X-Ray and CloudWatch Logs
OTLP endpoints. Everything is validated at ``init_telemetry()``.

otelkit imports this module when the plugin is chosen (or to place a keyword or variable that
no chosen plugin reads); botocore and the OTLP exporters are imported only by the factories.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader

from otelkit.exporters import (
    ConfigError,
    ExporterPlugin,
    InvalidValue,
    Setting,
    parse_choice,
    parse_name_list,
    parse_non_empty,
    parse_text,
    parse_url,
)
from otelkit_cloudwatch._emf import DEFAULT_DIMENSIONS, MAX_DIMENSIONS, EmfMetricExporter

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

__all__ = ["CloudWatchPlugin", "EmfMetricExporter"]

MODES = ("emf", "otlp")
OUTPUTS = ("logs", "stdout")
HISTOGRAMS = ("values", "statistics")
REGION_SHAPE = "an AWS region such as `eu-west-1` or `us-gov-west-1`"
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
# Log group names: 1-512 of letters, digits and _ - / . #
_LOG_GROUP = re.compile(r"[A-Za-z0-9_\-/.#]{1,512}")

# OTLP mode: per signal, the SigV4 service name and the regional endpoint.
OTLP_TARGETS = {
    "traces": ("xray", "https://xray.{region}.amazonaws.com/v1/traces"),
    "metrics": ("monitoring", "https://monitoring.{region}.amazonaws.com/v1/metrics"),
    "logs": ("logs", "https://logs.{region}.amazonaws.com/v1/logs"),
}
_PATHS = {"traces": "v1/traces", "metrics": "v1/metrics", "logs": "v1/logs"}


def _region(value: object) -> str:
    region = parse_text(value).lower()
    if not region:
        raise InvalidValue("must not be empty")
    if not _REGION.fullmatch(region):
        raise InvalidValue(f"{region!r} is not a region name")
    return region


def _log_group(value: object) -> str:
    name = parse_non_empty(value)
    if not _LOG_GROUP.fullmatch(name):
        raise InvalidValue("not a log group name")
    return name


def _namespace(value: object) -> str:
    name = parse_non_empty(value)
    if len(name) > 255 or name.startswith("AWS/") or ":" in name:
        raise InvalidValue("not a custom namespace (at most 255 characters, no ':', not AWS/)")
    return name


def _dimensions(value: object) -> tuple[str, ...]:
    names = parse_name_list(value)
    if len(names) > MAX_DIMENSIONS:
        raise InvalidValue(f"{len(names)} names; CloudWatch allows at most {MAX_DIMENSIONS}")
    return names


SETTINGS: tuple[Setting[Any], ...] = (
    Setting(
        key="region",
        env="AWS_REGION",
        parse=_region,
        accepted=REGION_SHAPE,
        doc="AWS region of the CloudWatch Logs / OTLP endpoints.",
        keyword="cloudwatch_region",
        required=True,
    ),
    Setting(
        key="mode",
        env="OTELKIT_CLOUDWATCH_MODE",
        parse=parse_choice(*MODES),
        default="emf",
        accepted=", ".join(f"`{m}`" for m in MODES),
        doc="`emf`: metrics as Embedded Metric Format records; `otlp`: OTLP/HTTP signed with "
        "SigV4.",
        keyword="cloudwatch_mode",
    ),
    Setting(
        key="output",
        env="OTELKIT_CLOUDWATCH_OUTPUT",
        parse=parse_choice(*OUTPUTS),
        default="logs",
        accepted=", ".join(f"`{o}`" for o in OUTPUTS),
        doc="EMF mode: `logs` (PutLogEvents) or `stdout` (Lambda, ECS/EKS with the CloudWatch "
        "agent).",
        keyword="cloudwatch_output",
    ),
    Setting(
        key="namespace",
        env="OTELKIT_CLOUDWATCH_NAMESPACE",
        parse=_namespace,
        accepted="a custom CloudWatch namespace (not `AWS/...`)",
        doc="EMF namespace of the metrics.",
        keyword="cloudwatch_namespace",
        default_doc="the service name",
    ),
    Setting(
        key="log_group",
        env="OTELKIT_CLOUDWATCH_LOG_GROUP",
        parse=_log_group,
        accepted="a log group name (letters, digits, `_-/.#`)",
        doc="EMF log group (created if missing); OTLP mode: the group of exported logs.",
        keyword="cloudwatch_log_group",
        default_doc="`/metrics/<service>`",
    ),
    Setting(
        key="dimensions",
        env="OTELKIT_CLOUDWATCH_DIMENSIONS",
        parse=_dimensions,
        default=DEFAULT_DIMENSIONS,
        accepted=f"a comma list of at most {MAX_DIMENSIONS} attribute keys",
        doc="Attributes (of the data point, else of the resource) that become EMF dimensions.",
        keyword="cloudwatch_dimensions",
        default_doc="the bounded attributes of otelkit's metric catalog",
    ),
    Setting(
        key="histograms",
        env="OTELKIT_CLOUDWATCH_HISTOGRAMS",
        parse=parse_choice(*HISTOGRAMS),
        default="values",
        accepted=", ".join(f"`{h}`" for h in HISTOGRAMS),
        doc="EMF histograms: `values` (bucket midpoints with counts, plus min/max/count/sum) or "
        "`statistics` (min/max/count/sum only).",
        keyword="cloudwatch_histograms",
    ),
    Setting(
        key="endpoint_url",
        env="OTELKIT_CLOUDWATCH_ENDPOINT_URL",
        parse=parse_url,
        accepted="an http:// or https:// URL",
        doc="Endpoint override (tests, VPC endpoints): CloudWatch Logs in EMF mode; in OTLP mode "
        "the base URL to which `/v1/<signal>` is appended.",
        keyword="cloudwatch_endpoint_url",
    ),
)


class CloudWatchPlugin(ExporterPlugin):
    name = "cloudwatch"
    signals = frozenset({"metrics", "traces", "logs"})
    settings = SETTINGS
    own_loggers = ("botocore", "urllib3", "requests")

    @property
    def mode(self) -> str:
        return str(self.options["mode"])

    @property
    def region(self) -> str:
        return str(self.options["region"])

    @property
    def namespace(self) -> str:
        return str(self.options["namespace"] or self.core.service_name)

    @property
    def log_group(self) -> str:
        given = self.options["log_group"]
        if given:
            return str(given)
        service = re.sub(r"[^A-Za-z0-9_\-/.#]", "_", self.core.service_name)
        return f"/metrics/{service}"[:512]

    def validate(self) -> None:
        if self.mode == "emf":
            for signal in ("traces", "logs"):
                if self.name in self.core.exporters_for(signal):
                    raise ConfigError(
                        f"OTEL_{signal.upper()}_EXPORTER (or init_telemetry(exporters=...)) "
                        f"sends {signal} to 'cloudwatch', but OTELKIT_CLOUDWATCH_MODE=emf "
                        "exports metrics only. Set OTELKIT_CLOUDWATCH_MODE=otlp to send traces "
                        "and logs too, or choose the exporter per signal "
                        "(exporters={'metrics': 'cloudwatch'})."
                    )
        if self.options["namespace"] is None:
            try:
                _namespace(self.core.service_name)
            except InvalidValue as exc:
                raise ConfigError(
                    f"the service name {self.core.service_name!r} cannot be the CloudWatch "
                    f"namespace ({exc.reason}): set OTELKIT_CLOUDWATCH_NAMESPACE."
                ) from None

    # --- EMF ---------------------------------------------------------------------------------

    def emf_exporter(self) -> EmfMetricExporter:
        from otelkit_cloudwatch._sinks import LogsSink, StdoutSink, log_stream_name

        sink: Any
        if self.options["output"] == "stdout":
            sink = StdoutSink()
            close = None
        else:
            client = self._client("logs")
            sink = LogsSink(client, self.log_group, log_stream_name(self.core.service_name))
            close = client.close
        return EmfMetricExporter(
            sink,
            self.namespace,
            self.options["dimensions"],
            self.options["histograms"],
            close=close,
        )

    def _session(self) -> Any:
        import botocore.session  # type: ignore[import-untyped]

        session = botocore.session.get_session()
        if session.get_credentials() is None:
            raise ConfigError(
                "the 'cloudwatch' exporter found no AWS credentials in botocore's chain "
                "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity, container "
                "or instance role). Configure one, or use OTELKIT_CLOUDWATCH_OUTPUT=stdout."
            )
        return session

    def _client(self, service: str) -> Any:
        from botocore.config import Config  # type: ignore[import-untyped]

        config = Config(
            retries={"mode": "standard", "total_max_attempts": 1},  # LogsSink retries itself
            connect_timeout=5,
            read_timeout=self.core.metric_export_timeout_ms / 1000,
            user_agent_extra="otelkit-cloudwatch",
        )
        return self._session().create_client(
            service,
            region_name=self.region,
            endpoint_url=self.options["endpoint_url"],
            config=config,
        )

    # --- OTLP --------------------------------------------------------------------------------

    def otlp_target(self, signal: str) -> tuple[str, str]:
        """(SigV4 service, endpoint URL) of one signal in OTLP mode."""
        service, template = OTLP_TARGETS[signal]
        base = self.options["endpoint_url"]
        if base is None:
            return service, template.format(region=self.region)
        parts = urlsplit(base)
        path = parts.path.rstrip("/") + "/" + _PATHS[signal]
        return service, urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))

    def _otlp_kwargs(self, signal: str) -> dict[str, Any]:
        try:
            from otelkit_cloudwatch._sigv4 import signed_session
        except ImportError as exc:  # requests
            raise _missing_otlp(exc) from None
        service, endpoint = self.otlp_target(signal)
        credentials = self._session().get_credentials()
        headers: dict[str, str] = {}
        if signal == "logs":
            headers = {
                "x-aws-log-group": self.log_group,
                "x-aws-log-stream": _stream(self.core.service_name),
            }
        return {
            "endpoint": endpoint,
            "headers": headers,
            "timeout": self.core.metric_export_timeout_ms / 1000,
            "session": signed_session(credentials, service, self.region),
        }

    # --- factories ---------------------------------------------------------------------------

    def metric_reader(self, resource: Resource) -> MetricReader:
        if self.mode == "emf":
            exporter: Any = self.emf_exporter()
        else:
            module = _otlp_module("metric_exporter")
            exporter = module.OTLPMetricExporter(**self._otlp_kwargs("metrics"))
        return PeriodicExportingMetricReader(
            exporter,
            export_interval_millis=self.core.metric_export_interval_ms,
            export_timeout_millis=self.core.metric_export_timeout_ms,
        )

    def id_generator(self) -> Any:
        """X-Ray needs the start time in the trace id's first 32 bits (in OTLP mode, the only
        one that exports traces)."""
        from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator

        return AwsXRayIdGenerator()

    def span_exporter(self, resource: Resource) -> Any:
        module = _otlp_module("trace_exporter")
        return module.OTLPSpanExporter(**self._otlp_kwargs("traces"))

    def log_exporter(self, resource: Resource) -> Any:
        module = _otlp_module("_log_exporter")
        return module.OTLPLogExporter(**self._otlp_kwargs("logs"))


def _stream(service: str) -> str:
    from otelkit_cloudwatch._sinks import log_stream_name

    return log_stream_name(service)


def _missing_otlp(exc: ImportError) -> ConfigError:
    return ConfigError(
        "OTELKIT_CLOUDWATCH_MODE=otlp needs opentelemetry-exporter-otlp-proto-http and requests, "
        f"which are not installed ({exc.name}): pip install 'otelkit-cloudwatch[otlp]'."
    )


def _otlp_module(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(f"opentelemetry.exporter.otlp.proto.http.{name}")
    except ImportError as exc:
        raise _missing_otlp(exc) from None
