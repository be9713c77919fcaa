"""Settings: one declarative table, one parser, one frozen result.

Every setting is declared once as a ``Setting`` (keyword, env var, parser, default, accepted
values, doc line). ``load_settings`` reads keyword > environment > default, validates everything
and raises ``ConfigError`` naming the variable, the value and what is accepted. The docs table
(docs/configuration.md) is generated from the same declarations.
"""

from __future__ import annotations

import difflib
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME

from otelkit._errors import ConfigError
from otelkit.config import _alerting, _parse

T = TypeVar("T")

PRODUCTION = "production"
SIGNALS = ("metrics", "traces", "logs")
INTEGRATIONS = ("asgi", "wsgi", "sqlalchemy", "celery", "system", "logging")
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

Default = Callable[[Mapping[str, Any]], object]


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One configurable value: where it comes from, how it is parsed, what it means.

    ``default`` is a value, or a function of the settings parsed before it (for defaults that
    depend on the environment). ``secret`` values are masked in errors and reprs; a
    ``required`` setting has no default and must be given.
    """

    key: str
    env: str | None
    parse: Callable[[object], T]
    default: object
    accepted: str
    doc: str
    keyword: str | None = None
    secret: bool = False
    default_doc: str | None = None
    required: bool = False
    merge: bool = False
    """For mappings: the keyword's entries are merged over the variable's instead of replacing."""

    @property
    def kwarg(self) -> str:
        return self.keyword if self.keyword is not None else self.key

    def default_value(self, parsed: Mapping[str, Any]) -> object:
        return self.default(parsed) if callable(self.default) else self.default

    def describe_default(self) -> str:
        if self.default_doc is not None:
            return self.default_doc
        if self.required:
            return "required"
        return "—" if self.default is None else f"`{_render(self.default)}`"


def _render(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(_render(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _exporters_default(signal: str) -> Default:
    def default(parsed: Mapping[str, Any]) -> tuple[str, ...]:
        production = parsed["environment"] == PRODUCTION
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


CORE_SETTINGS: tuple[Setting[Any], ...] = (
    Setting(
        "sdk_disabled",
        "OTEL_SDK_DISABLED",
        _parse.boolean,
        False,
        "`true` or `false`",
        "Turn otelkit and the SDK off: `init_telemetry()` installs no-op providers and serves "
        "nothing.",
    ),
    Setting(
        "environment",
        "OTELKIT_ENVIRONMENT",
        _parse.non_empty,
        "development",
        "any name; `production` switches the exporter defaults to OTLP",
        "`deployment.environment.name` of the resource.",
    ),
    Setting(
        "resource_attributes",
        "OTEL_RESOURCE_ATTRIBUTES",
        _parse.key_value_list,
        MappingProxyType({}),
        "`key=value` pairs separated by commas, values percent-encoded",
        "Extra resource attributes; the keyword's entries are merged over the variable's.",
        default_doc="—",
        merge=True,
    ),
    Setting(
        "service_name",
        "OTEL_SERVICE_NAME",
        _parse.non_empty,
        _service_name_default,
        "a non-empty name",
        "`service.name` of the resource.",
        default_doc="`service.name` from `OTEL_RESOURCE_ATTRIBUTES`, else the script name",
    ),
    Setting(
        "service_version",
        "OTELKIT_SERVICE_VERSION",
        _parse.optional_text,
        None,
        "any text",
        "`service.version` of the resource.",
    ),
    Setting(
        "metrics_exporters",
        "OTEL_METRICS_EXPORTER",
        _exporter_names,
        _exporters_default("metrics"),
        "a comma list of installed exporter plugins, or `none`",
        "Where metrics go.",
        default_doc="`prometheus`; `otlp` in production",
    ),
    Setting(
        "traces_exporters",
        "OTEL_TRACES_EXPORTER",
        _exporter_names,
        _exporters_default("traces"),
        "a comma list of installed exporter plugins, or `none`",
        "Where spans go.",
        default_doc="`none`; `otlp` in production",
    ),
    Setting(
        "logs_exporters",
        "OTEL_LOGS_EXPORTER",
        _exporter_names,
        _exporters_default("logs"),
        "a comma list of installed exporter plugins, or `none`",
        "Where log records go (stdlib logging is bridged when this is not `none`).",
        default_doc="`none`",
    ),
    Setting(
        "metric_export_interval_ms",
        "OTEL_METRIC_EXPORT_INTERVAL",
        _parse.positive_number,
        60000.0,
        "a number of milliseconds greater than 0",
        "Push interval of push exporters (OTLP, console).",
        keyword="metric_export_interval_ms",
    ),
    Setting(
        "metric_export_timeout_ms",
        "OTEL_METRIC_EXPORT_TIMEOUT",
        _parse.positive_number,
        30000.0,
        "a number of milliseconds greater than 0",
        "Time limit of one metric push.",
    ),
    Setting(
        "traces_sampler",
        "OTEL_TRACES_SAMPLER",
        _parse.choice(*SAMPLERS),
        "parentbased_always_on",
        ", ".join(f"`{s}`" for s in SAMPLERS),
        "Head sampler of the tracer provider.",
    ),
    Setting(
        "traces_sampler_arg",
        "OTEL_TRACES_SAMPLER_ARG",
        _sampler_arg,
        None,
        "a ratio in [0, 1] (for the `traceidratio` samplers)",
        "Sampling ratio; defaults to 1.0 for the ratio samplers.",
    ),
    Setting(
        "instrument",
        "OTELKIT_INSTRUMENT",
        _instrument,
        ("auto",),
        "`auto`, `none`, or a comma list of " + ", ".join(f"`{i}`" for i in INTEGRATIONS),
        "Which libraries `init_telemetry()` instruments.",
    ),
    Setting(
        "http_buckets",
        "OTELKIT_HTTP_BUCKETS",
        _parse.number_list,
        SEMCONV_DURATION_BUCKETS,
        "a comma list of non-negative, strictly increasing numbers (seconds)",
        "Boundaries of `http.server.request.duration`.",
        default_doc="the semantic-convention advisory buckets (0.005 … 10)",
    ),
    Setting(
        "http_excluded_urls",
        "OTELKIT_HTTP_EXCLUDED_URLS",
        _url_paths,
        ("/healthz", "/readyz", "/metrics"),
        "a comma list of paths, each starting with `/`; `/p/*` excludes `/p` and below",
        "Requests to these paths are not measured (health probes, scrapes).",
    ),
    Setting(
        "http_implementation",
        "OTELKIT_HTTP_IMPLEMENTATION",
        _parse.choice("otelkit", "contrib"),
        "otelkit",
        "`otelkit` (the lean middleware) or `contrib` (opentelemetry-instrumentation-asgi/-wsgi)",
        "Which middleware `instrument_app()` installs; `contrib` needs `otelkit[contrib]`.",
    ),
    Setting(
        "http_body_size",
        "OTELKIT_HTTP_BODY_SIZE",
        _parse.boolean,
        False,
        "`on`/`off` (or `true`/`false`)",
        "Also record `http.server.request.body.size` and `http.server.response.body.size`.",
    ),
    Setting(
        "system_metrics",
        "OTELKIT_SYSTEM_METRICS",
        _parse.boolean,
        True,
        "`on`/`off` (or `true`/`false`)",
        "System and process metrics (CPU, memory, disk, network, threads, file descriptors) "
        "from psutil; needs `otelkit[system]`.",
    ),
    Setting(
        "shutdown_timeout_s",
        "OTELKIT_SHUTDOWN_TIMEOUT",
        _parse.positive_number,
        5.0,
        "a number of seconds greater than 0",
        "Upper bound of the flush at exit and on SIGTERM.",
        keyword="shutdown_timeout",
    ),
    *_alerting.alert_settings(),  # OTELKIT_ALERT*: in-process alerting (docs/alerting.md)
)


@dataclass(frozen=True)
class Settings:
    """The validated configuration: built once by ``init_telemetry()``, never changed."""

    sdk_disabled: bool
    environment: str
    resource_attributes: Mapping[str, str]
    service_name: str
    service_version: str | None
    metrics_exporters: tuple[str, ...]
    traces_exporters: tuple[str, ...]
    logs_exporters: tuple[str, ...]
    metric_export_interval_ms: float
    metric_export_timeout_ms: float
    traces_sampler: str
    traces_sampler_arg: float | None
    instrument: tuple[str, ...]
    http_buckets: tuple[float, ...]
    http_excluded_urls: tuple[str, ...]
    http_implementation: str
    http_body_size: bool
    system_metrics: bool
    shutdown_timeout_s: float
    # In-process alerting, declared in otelkit.config._alerting (same names as AlertSettings).
    alert_interval_s: float
    alert_window_s: float
    alert_repeat_interval_s: float
    alert_default_rules: tuple[str, ...]
    alert_cpu_threshold: float
    alert_cpu_for_s: float
    alert_memory_threshold: float
    alert_memory_for_s: float
    alert_disk_threshold: float
    alert_disk_for_s: float
    alert_error_rate_threshold: float
    alert_error_rate_for_s: float
    alert_response_time_threshold_s: float
    alert_response_time_for_s: float
    alert_rules_file: str | None
    alert_webhook_url: _parse.Secret | None
    alert_webhook_timeout_s: float
    alert_webhook_retries: int
    alert_smtp_host: str | None
    alert_smtp_port: int
    alert_smtp_tls: str
    alert_smtp_from: str | None
    alert_smtp_to: tuple[str, ...]
    alert_smtp_user: str | None
    alert_smtp_password: _parse.Secret | None
    alert_smtp_timeout_s: float
    alerts: bool
    exporter_options: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    given_keywords: frozenset[str] = frozenset()
    """The keyword arguments ``init_telemetry()`` received (to name them in later errors)."""

    def exporters_for(self, signal: str) -> tuple[str, ...]:
        """The plugin names chosen for a signal, without ``none``."""
        names: tuple[str, ...] = getattr(self, f"{signal}_exporters")
        return tuple(n for n in names if n != "none")

    @property
    def plugin_names(self) -> tuple[str, ...]:
        """Every chosen plugin, each once, in the order of first mention."""
        seen: dict[str, None] = {}
        for signal in SIGNALS:
            seen.update(dict.fromkeys(self.exporters_for(signal)))
        return tuple(seen)


def did_you_mean(word: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def source_name(setting: Setting[Any], from_keyword: bool) -> str:
    """How an error names a setting: its keyword if one was given, else its variable."""
    if from_keyword or not setting.env:
        return f"init_telemetry({setting.kwarg}=...)"
    return setting.env


def _shown(setting: Setting[Any], raw: object) -> str:
    if setting.secret:
        return "'***'"
    shown = repr(raw)
    return shown if len(shown) <= 80 else shown[:77] + "…"


def parse_setting(
    setting: Setting[T],
    keywords: Mapping[str, object],
    environ: Mapping[str, str],
    parsed: Mapping[str, Any],
    owner: str | None = None,
) -> T:
    """Resolve one setting: keyword > environment > default, validated.

    ``owner`` names the exporter plugin that declared the setting, for the error messages.
    """
    in_environment = setting.env is not None and environ.get(setting.env, "").strip()
    if setting.merge and in_environment and keywords.get(setting.kwarg) is not None:
        base: Any = parse_setting(setting, {}, environ, parsed, owner)
        override: Any = parse_setting(setting, keywords, {}, parsed, owner)
        merged: Any = MappingProxyType({**base, **override})
        return merged  # type: ignore[no-any-return]
    if setting.kwarg in keywords and keywords[setting.kwarg] is not None:
        raw: object = keywords[setting.kwarg]
        from_keyword = True
    elif in_environment:
        raw = environ[setting.env]  # type: ignore[index]
        from_keyword = False
    elif setting.required:
        needed_by = f"the {owner!r} exporter" if owner else "otelkit"
        raise ConfigError(
            f"{setting.env or setting.kwarg} is not set, and {needed_by} needs it "
            f"(or init_telemetry({setting.kwarg}=...)). Accepted: {setting.accepted}."
        )
    else:
        return setting.default_value(parsed)  # type: ignore[return-value]
    try:
        return setting.parse(raw)
    except _parse.Invalid as exc:
        raise ConfigError(
            f"{source_name(setting, from_keyword)}={_shown(setting, raw)} is not valid: "
            f"{exc.reason}. Accepted: {setting.accepted}."
        ) from None


def parse_table(
    table: Sequence[Setting[Any]],
    keywords: Mapping[str, object],
    environ: Mapping[str, str],
    owner: str | None = None,
) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for setting in table:
        parsed[setting.key] = parse_setting(setting, keywords, environ, parsed, owner)
    return parsed


def check_keywords(keywords: Mapping[str, object], known: Sequence[str]) -> None:
    for name in keywords:
        if name not in known:
            raise ConfigError(
                f"init_telemetry() got an unknown keyword argument {name!r}"
                f"{did_you_mean(name, known)}. Accepted: {', '.join(sorted(known))}."
            )


def warn_unknown_variables(environ: Mapping[str, str], known: Sequence[str]) -> None:
    """Warn about ``OTELKIT_*`` variables nobody reads: usually a typo."""
    for name in sorted(environ):
        if name.startswith("OTELKIT_") and name not in known:
            warnings.warn(
                f"otelkit: unknown environment variable {name}{did_you_mean(name, known)}; "
                "it is ignored.",
                UserWarning,
                stacklevel=4,
            )


def load_core(keywords: Mapping[str, object], environ: Mapping[str, str]) -> dict[str, Any]:
    """Parse the core table (no plugins): the first half of building ``Settings``."""
    return parse_table(CORE_SETTINGS, keywords, environ)


def core_keywords() -> tuple[str, ...]:
    return tuple(s.kwarg for s in CORE_SETTINGS if s.kwarg is not None)


def validate_exporter_names(
    parsed: Mapping[str, Any], keywords: Mapping[str, object], available: Sequence[str]
) -> None:
    """Every named exporter must be an installed plugin that supports the signal."""
    for signal in SIGNALS:
        setting = next(s for s in CORE_SETTINGS if s.key == f"{signal}_exporters")
        for name in parsed[setting.key]:
            if name != "none" and name not in available:
                given = ",".join(parsed[setting.key])
                raise ConfigError(
                    f"{source_name(setting, setting.kwarg in keywords)}={given!r} is not valid: "
                    f"no exporter plugin named {name!r} is installed"
                    f"{did_you_mean(name, available)}. Accepted: "
                    f"{', '.join(sorted([*available, 'none']))}."
                )
