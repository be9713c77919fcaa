"""The general settings: service identity, exporters, sampling, instrumentation, HTTP, shutdown.

Each is declared once as a ``Setting`` (keyword, env var, parser, default, accepted values, doc
line), in documentation order: a default may depend on the settings above it. The
``OTELKIT_ALERT*`` ones are declared in ``_alerting``; ``_settings`` puts both tables together
and builds the validated ``Settings``. The docs table (docs/configuration.md) is generated from
the same declarations.
"""

from __future__ import annotations

import os
import sys
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME

from otelkit.config import _parse
from otelkit.config._histogram import HISTOGRAM_AGGREGATION_SETTING
from otelkit.config._setting import Default, Setting, did_you_mean

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ENVIRONMENTS",
    "ENVIRONMENT_ALIASES",
    "EXEMPLAR_FILTERS",
    "INTEGRATIONS",
    "OTHER_KNOWN_VARIABLES",
    "PRODUCTION",
    "PRODUCTION_LIKE",
    "SAMPLERS",
    "SEMCONV_DURATION_BUCKETS",
    "SETTINGS",
    "SIGNALS",
]

PRODUCTION = "production"
ENVIRONMENTS = ("development", "staging", PRODUCTION)
ENVIRONMENT_ALIASES: Mapping[str, str] = MappingProxyType(
    {"dev": "development", "stage": "staging", "prod": PRODUCTION}
)
PRODUCTION_LIKE = frozenset({"staging", PRODUCTION})
"""Environments with production's defaults: staging rehearses what production runs."""
SIGNALS = ("metrics", "traces", "logs")
INTEGRATIONS = (
    "asgi",
    "wsgi",
    "sqlalchemy",
    "celery",
    "system",
    "logging",
    "httpx",
    "requests",
    "urllib3",
    "aiohttp",
)
EXEMPLAR_FILTERS = ("trace_based", "always_on", "always_off")
"""``OTEL_METRICS_EXEMPLAR_FILTER`` values, as the SDK names them."""
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
# Advisory boundaries of http.server.request.duration in the stable HTTP semantic conventions.
SEMCONV_DURATION_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    7.5,
    10.0,
)

# Variables read by otelkit but outside Settings (so they never trigger an "unknown" warning).
OTHER_KNOWN_VARIABLES: Mapping[str, str] = MappingProxyType(
    {
        "OTELKIT_REQUIRE_SERVERS": (
            "test fixtures: `1` turns a missing server binary (prometheus, postgres, redis) "
            "into an error instead of a skip"
        ),
    }
)


def _exporters_default(signal: str) -> Default:
    def default(parsed: Mapping[str, Any]) -> tuple[str, ...]:
        production = parsed["environment"] in PRODUCTION_LIKE
        if signal == "metrics":
            return ("otlp",) if production else ("prometheus",)
        if signal == "traces":
            return ("otlp",) if production else ("none",)
        return ("none",)

    return default


def _service_name_default(parsed: Mapping[str, Any]) -> str:
    from_resource = parsed["resource_attributes"].get(SERVICE_NAME)
    if from_resource:
        return str(from_resource)
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    script = script.removesuffix(".py")
    return script if script and script not in ("-c", "-m") else "unknown_service:python"


def _environment(value: object) -> str:
    name = _parse.text(value).lower()
    name = ENVIRONMENT_ALIASES.get(name, name)
    if name not in ENVIRONMENTS:
        known = (*ENVIRONMENTS, *ENVIRONMENT_ALIASES)
        raise _parse.Invalid(f"unknown environment{did_you_mean(name, known)}")
    return name


def _path(value: object) -> str:
    path = _parse.text(value)
    if not path.startswith("/") or any(c.isspace() or c in "?#" for c in path):
        raise _parse.Invalid(f"{path!r} is not a path starting with '/'")
    return path.rstrip("/") or "/"


def _instrument(value: object) -> tuple[str, ...]:
    names = _parse.name_list(value)
    if names in ((), ("none",)):
        return ()
    if names == ("auto",):
        return ("auto",)
    unknown = [n for n in names if n not in INTEGRATIONS]
    if unknown or not names:
        raise _parse.Invalid(
            f"unknown integration {unknown[0]!r}{did_you_mean(unknown[0], INTEGRATIONS)}"
            if unknown
            else "is empty"
        )
    return names


def _url_paths(value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else _parse.iterable(value)
    paths = tuple(dict.fromkeys(p for p in (_parse.text(item) for item in items) if p))
    for path in paths:
        if not path.startswith("/") or any(c.isspace() for c in path):
            raise _parse.Invalid(f"{path!r} is not a path starting with '/'")
    return paths


def _sampler_arg(value: object) -> float | None:
    if isinstance(value, str) and not value.strip():
        return None
    return _parse.unit_interval(value)


def _exporter_names(value: object) -> tuple[str, ...]:
    names = _parse.name_list(value)
    if not names:
        raise _parse.Invalid("is empty")
    if "none" in names and len(names) > 1:
        raise _parse.Invalid("'none' cannot be combined with other exporters")
    return names


SETTINGS: tuple[Setting[Any], ...] = (
    Setting(
        key="sdk_disabled",
        env="OTEL_SDK_DISABLED",
        parse=_parse.boolean,
        default=False,
        accepted="`true` or `false`",
        doc="Turn otelkit and the SDK off: `init_telemetry()` installs no-op providers and serves "
        "nothing.",
    ),
    Setting(
        key="environment",
        env="OTELKIT_ENVIRONMENT",
        parse=_environment,
        default="development",
        accepted="`development` (or `dev`), `staging` (or `stage`), `production` (or `prod`), "
        "in any case",
        doc="`deployment.environment.name` of the resource. `production` and `staging` switch "
        "the exporter defaults to OTLP; staging differs from production only in this name.",
    ),
    Setting(
        key="resource_attributes",
        env="OTEL_RESOURCE_ATTRIBUTES",
        parse=_parse.key_value_list,
        default=MappingProxyType({}),
        accepted="`key=value` pairs separated by commas, values percent-encoded",
        doc="Extra resource attributes; the keyword's entries are merged over the variable's.",
        default_doc="—",
        merge=True,
    ),
    Setting(
        key="service_name",
        env="OTEL_SERVICE_NAME",
        parse=_parse.non_empty,
        default=_service_name_default,
        accepted="a non-empty name",
        doc="`service.name` of the resource.",
        default_doc="`service.name` from `OTEL_RESOURCE_ATTRIBUTES`, else the script name",
    ),
    Setting(
        key="service_version",
        env="OTELKIT_SERVICE_VERSION",
        parse=_parse.optional_text,
        default=None,
        accepted="any text",
        doc="`service.version` of the resource.",
    ),
    Setting(
        key="metrics_exporters",
        env="OTEL_METRICS_EXPORTER",
        parse=_exporter_names,
        default=_exporters_default("metrics"),
        accepted="a comma list of installed exporter plugins, or `none`",
        doc="Where metrics go.",
        default_doc="`prometheus`; `otlp` in production",
    ),
    Setting(
        key="traces_exporters",
        env="OTEL_TRACES_EXPORTER",
        parse=_exporter_names,
        default=_exporters_default("traces"),
        accepted="a comma list of installed exporter plugins, or `none`",
        doc="Where spans go.",
        default_doc="`none`; `otlp` in production",
    ),
    Setting(
        key="logs_exporters",
        env="OTEL_LOGS_EXPORTER",
        parse=_exporter_names,
        default=_exporters_default("logs"),
        accepted="a comma list of installed exporter plugins, or `none`",
        doc="Where log records go (stdlib logging is bridged when this is not `none`).",
        default_doc="`none`",
    ),
    Setting(
        key="metric_export_interval_ms",
        env="OTEL_METRIC_EXPORT_INTERVAL",
        parse=_parse.duration("ms", positive=True),
        default=60000.0,
        accepted=_parse.duration_accepted("ms"),
        doc="Push interval of push exporters (OTLP, console).",
        keyword="metric_export_interval_ms",
    ),
    Setting(
        key="metric_export_timeout_ms",
        env="OTEL_METRIC_EXPORT_TIMEOUT",
        parse=_parse.duration("ms", positive=True),
        default=30000.0,
        accepted=_parse.duration_accepted("ms"),
        doc="Time limit of one metric push.",
    ),
    Setting(
        key="metrics_exemplar_filter",
        env="OTEL_METRICS_EXEMPLAR_FILTER",
        parse=_parse.choice(*EXEMPLAR_FILTERS),
        default="trace_based",
        accepted=", ".join(f"`{f}`" for f in EXEMPLAR_FILTERS),
        doc="Which measurements keep an exemplar (trace and span id): those taken while a "
        "sampled span is current, all, or none.",
    ),
    HISTOGRAM_AGGREGATION_SETTING,
    Setting(
        key="traces_sampler",
        env="OTEL_TRACES_SAMPLER",
        parse=_parse.choice(*SAMPLERS),
        default="parentbased_always_on",
        accepted=", ".join(f"`{s}`" for s in SAMPLERS),
        doc="Head sampler of the tracer provider.",
    ),
    Setting(
        key="traces_sampler_arg",
        env="OTEL_TRACES_SAMPLER_ARG",
        parse=_sampler_arg,
        default=None,
        accepted="a ratio in [0, 1] (for the `traceidratio` samplers)",
        doc="Sampling ratio; defaults to 1.0 for the ratio samplers.",
    ),
    Setting(
        key="instrument",
        env="OTELKIT_INSTRUMENT",
        parse=_instrument,
        default=("auto",),
        accepted="`auto`, `none`, or a comma list of " + ", ".join(f"`{i}`" for i in INTEGRATIONS),
        doc="Which libraries `init_telemetry()` instruments.",
    ),
    Setting(
        key="http_buckets",
        env="OTELKIT_HTTP_BUCKETS",
        parse=_parse.number_list,
        default=SEMCONV_DURATION_BUCKETS,
        accepted="a comma list of non-negative, strictly increasing numbers (seconds)",
        doc="Boundaries of `http.server.request.duration`.",
        default_doc="the semantic-convention advisory buckets (0.005 … 10)",
    ),
    Setting(
        key="http_excluded_urls",
        env="OTELKIT_HTTP_EXCLUDED_URLS",
        parse=_url_paths,
        default=("/healthz", "/readyz", "/metrics"),
        accepted="a comma list of paths, each starting with `/`; `/p/*` excludes `/p` and below",
        doc="Requests to these paths are not measured (health probes, scrapes).",
    ),
    Setting(
        key="health_liveness_path",
        env="OTELKIT_HEALTH_LIVENESS_PATH",
        parse=_path,
        default="/healthz",
        accepted="a path starting with `/`",
        doc="Where liveness is answered: on the metrics listener and in `health_app()`, "
        "`health_wsgi()`, `health_router()` and `health_blueprint()` (below their mount point).",
    ),
    Setting(
        key="health_readiness_path",
        env="OTELKIT_HEALTH_READINESS_PATH",
        parse=_path,
        default="/readyz",
        accepted="a path starting with `/`, other than the liveness path",
        doc="Where readiness (the checks' report) is answered, in the same places.",
    ),
    Setting(
        key="http_implementation",
        env="OTELKIT_HTTP_IMPLEMENTATION",
        parse=_parse.choice("otelkit", "contrib"),
        default="otelkit",
        accepted="`otelkit` (the lean middleware) or `contrib` "
        "(opentelemetry-instrumentation-asgi/-wsgi)",
        doc="Which middleware `instrument_app()` installs; `contrib` needs `otelkit[contrib]`.",
    ),
    Setting(
        key="http_body_size",
        env="OTELKIT_HTTP_BODY_SIZE",
        parse=_parse.boolean,
        default=False,
        accepted="`on`/`off` (or `true`/`false`)",
        doc="Also record `http.server.request.body.size` and `http.server.response.body.size`.",
    ),
    Setting(
        key="system_metrics",
        env="OTELKIT_SYSTEM_METRICS",
        parse=_parse.boolean,
        default=True,
        accepted="`on`/`off` (or `true`/`false`)",
        doc="System and process metrics (CPU, memory, disk, network, threads, file descriptors) "
        "from psutil; needs `otelkit[system]`.",
    ),
    Setting(
        key="system_metrics_detail",
        env="OTELKIT_SYSTEM_METRICS_DETAIL",
        parse=_parse.boolean,
        default=False,
        accepted="`on`/`off` (or `true`/`false`)",
        doc="Also report CPU time per logical CPU (`system.cpu.time`), network packets and "
        "errors per interface, and processes by state; more series, and a scan of every "
        "process at each collection.",
    ),
    Setting(
        key="http_client",
        env="OTELKIT_HTTP_CLIENT",
        parse=_parse.boolean,
        default=True,
        accepted="`on`/`off` (or `true`/`false`)",
        doc="Outgoing HTTP calls (httpx, requests/urllib3, aiohttp): "
        "`http.client.request.duration` and client spans carrying the trace context.",
    ),
    Setting(
        key="shutdown_timeout_s",
        env="OTELKIT_SHUTDOWN_TIMEOUT",
        parse=_parse.duration("s", positive=True),
        default=5.0,
        accepted=_parse.duration_accepted("s"),
        doc="Upper bound of the flush at exit and on SIGTERM.",
        keyword="shutdown_timeout",
    ),
    Setting(
        key="metric_names_limit",
        env="OTELKIT_METRIC_NAMES_LIMIT",
        parse=_parse.integer(1, 1_000_000),
        default=1000,
        accepted="an integer from 1 to 1000000",
        doc="Most metric names `record()`, `count()` and `set_gauge()` may create at run time; "
        "values of further new names are dropped and counted in `otelkit.dropped`.",
    ),
)
