"""Settings: the whole table of declarations, and the frozen, validated result.

The table is composed here, one way: ``_core`` declares the general settings, ``_alerting`` the
``OTELKIT_ALERT*`` ones, and neither imports this module. ``load_core`` reads keyword >
environment > default for every one of them (``_setting.parse_table``), validates everything and
raises ``ConfigError`` naming the variable, the value and what is accepted; the runtime then
builds one ``Settings``. The docs table (docs/configuration.md) is generated from
``CORE_SETTINGS``.

The declaration type and the resolution helpers (``Setting``, ``did_you_mean``,
``source_name``…) and the constants of ``_core`` are re-exported: importers read them here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from otelkit._errors import ConfigError
from otelkit.config import _alerting, _core, _parse
from otelkit.config._core import (
    ENVIRONMENTS,
    INTEGRATIONS,
    OTHER_KNOWN_VARIABLES,
    PRODUCTION,
    PRODUCTION_LIKE,
    SAMPLERS,
    SEMCONV_DURATION_BUCKETS,
    SIGNALS,
)
from otelkit.config._environ import warn_small_otlp_timeout, warn_unknown_variables
from otelkit.config._setting import (
    Setting,
    check_keywords,
    did_you_mean,
    parse_setting,
    parse_table,
    source_name,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

__all__ = [
    "CORE_SETTINGS",
    "ENVIRONMENTS",
    "INTEGRATIONS",
    "OTHER_KNOWN_VARIABLES",
    "PRODUCTION",
    "PRODUCTION_LIKE",
    "SAMPLERS",
    "SEMCONV_DURATION_BUCKETS",
    "SIGNALS",
    "Setting",
    "Settings",
    "accepted_exporters",
    "check_keywords",
    "core_keywords",
    "did_you_mean",
    "load_core",
    "parse_setting",
    "parse_table",
    "source_name",
    "validate_exporter_names",
    "warn_unknown_variables",
]

CORE_SETTINGS: tuple[Setting[Any], ...] = (
    *_core.SETTINGS,
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
    health_liveness_path: str
    health_readiness_path: str
    http_implementation: str
    http_body_size: bool
    system_metrics: bool
    system_metrics_detail: bool
    http_client: bool
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
    alert_webhook_url_critical: _parse.Secret | None
    alert_webhook_url_warning: _parse.Secret | None
    alert_webhook_url_info: _parse.Secret | None
    alert_smtp_to_critical: tuple[str, ...] | None
    alert_smtp_to_warning: tuple[str, ...] | None
    alert_smtp_to_info: tuple[str, ...] | None
    alerts: bool
    metric_names_limit: int = 1000
    """Most metric names ``record()``, ``count()`` and ``set_gauge()`` may create at run time
    (``OTELKIT_METRIC_NAMES_LIMIT``)."""
    metrics_exemplar_filter: str = "trace_based"
    """``OTEL_METRICS_EXEMPLAR_FILTER``: ``trace_based``, ``always_on`` or ``always_off``."""
    histogram_aggregation: str = "explicit_bucket_histogram"
    """``OTELKIT_HISTOGRAM_AGGREGATION``: explicit or base-2 exponential buckets."""
    exporter_options: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    given_keywords: frozenset[str] = frozenset()
    """The keyword arguments ``init_telemetry()`` received (to name them in later errors)."""

    @property
    def production_like(self) -> bool:
        """``production`` or ``staging``: deployed, with production's defaults."""
        return self.environment in PRODUCTION_LIKE

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


def load_core(keywords: Mapping[str, object], environ: Mapping[str, str]) -> dict[str, Any]:
    """Parse the core table (no plugins): the first half of building ``Settings``."""
    parsed = parse_table(CORE_SETTINGS, keywords, environ)
    if parsed["health_liveness_path"] == parsed["health_readiness_path"]:
        setting = next(s for s in CORE_SETTINGS if s.key == "health_readiness_path")
        raise ConfigError(
            f"{source_name(setting, setting.kwarg in keywords)}="
            f"{parsed['health_readiness_path']!r} is not valid: it is also the liveness path. "
            f"Accepted: {setting.accepted}."
        )
    warn_small_otlp_timeout(environ, keywords)
    return parsed


def core_keywords() -> tuple[str, ...]:
    return tuple(s.kwarg for s in CORE_SETTINGS if s.kwarg is not None)


def validate_exporter_names(
    parsed: Mapping[str, Any],
    keywords: Mapping[str, object],
    available: Sequence[str],
    signals_of: Callable[[str], Collection[str]] | None = None,
) -> None:
    """Every named exporter must be an installed plugin.

    ``signals_of(name)`` says which signals a plugin exports (it may import the plugin; it is
    called only to word an error): the accepted list of a signal then names only the plugins
    that export it. Without it every installed name is listed.
    """
    for signal in SIGNALS:
        setting = next(s for s in CORE_SETTINGS if s.key == f"{signal}_exporters")
        for name in parsed[setting.key]:
            if name != "none" and name not in available:
                given = ",".join(parsed[setting.key])
                accepted = accepted_exporters(signal, available, signals_of)
                raise ConfigError(
                    f"{source_name(setting, setting.kwarg in keywords)}={given!r} is not valid: "
                    f"no {signal} exporter named {name!r} is installed"
                    f"{did_you_mean(name, accepted)}. Accepted: {', '.join(accepted)}."
                )


def accepted_exporters(
    signal: str,
    available: Sequence[str],
    signals_of: Callable[[str], Collection[str]] | None = None,
) -> list[str]:
    """The exporter names accepted for one signal, each once, sorted, ``none`` included."""
    names = {
        name
        for name in available
        if name == "none" or signals_of is None or signal in signals_of(name)
    }
    return sorted(names | {"none"})
