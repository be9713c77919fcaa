"""The ``OTELKIT_ALERT*`` settings, declared like every other otelkit setting.

``alert_settings()`` returns the declarations; ``otelkit.config._settings`` appends them to its
table, so they are parsed, validated and documented with the rest (docs/configuration.md). The
dependency runs one way: this module builds on ``_setting`` (the declaration type and its
parser), never on ``_settings``, which imports it.

``AlertSettings`` is the alerting slice of ``Settings`` (the same field names): ``AlertEngine``
takes either, so the engine can be built and tested without a whole
configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from otelkit.config import _alerting_parsers as _parsers
from otelkit.config import _parse
from otelkit.config._alerting_routes import routes
from otelkit.config._setting import Setting, parse_table

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DEFAULT_RULES",
    "SEVERITIES",
    "SMTP_TLS_MODES",
    "AlertSettings",
    "alert_settings",
    "load_alert_settings",
]

DEFAULT_RULES = ("cpu", "memory", "disk", "error_rate", "response_time")
SEVERITIES = ("critical", "warning", "info")
SMTP_TLS_MODES = ("starttls", "ssl", "off")

_RATIO_ACCEPTED = "a share in [0, 1] such as `0.8`, or a percentage such as `80%`"
_FOR_ACCEPTED = _parsers.DURATION_ACCEPTED + "; `0` fires at the first evaluation"


def _default_rule_names(value: object) -> tuple[str, ...]:
    names = _parse.name_list(value)
    if names == ("all",):
        return DEFAULT_RULES
    if names in ((), ("none",)):
        return ()
    for name in names:
        if name not in DEFAULT_RULES:
            raise _parse.Invalid(f"unknown default rule {name!r}")
    return names


def _smtp_tls_default(parsed: Mapping[str, Any]) -> str:
    port = parsed["alert_smtp_port"]
    return "ssl" if port == 465 else "starttls" if port == 587 else "off"


def _alerts_default(parsed: Mapping[str, Any]) -> bool:
    routed = any(parsed[f"alert_webhook_url_{severity}"] for severity in SEVERITIES)
    return bool(
        parsed["alert_rules_file"]
        or parsed["alert_webhook_url"]
        or routed
        or parsed["alert_smtp_host"]
    )


def _declarations() -> tuple[Setting[Any], ...]:
    def rule_threshold(name: str, what: str, default: float) -> Setting[Any]:
        return Setting(
            key=f"alert_{name}_threshold",
            env=f"OTELKIT_ALERT_{name.upper()}_THRESHOLD",
            parse=_parsers.ratio,
            default=default,
            accepted=_RATIO_ACCEPTED,
            doc=f"Default rule `{name}`: fires when {what} is above this share.",
        )

    def rule_for(name: str, default: float) -> Setting[Any]:
        return Setting(
            key=f"alert_{name}_for_s",
            env=f"OTELKIT_ALERT_{name.upper()}_FOR",
            parse=_parsers.duration,
            default=default,
            accepted=_FOR_ACCEPTED,
            doc=f"Default rule `{name}`: how long the condition must hold before the alert fires.",
            keyword=f"alert_{name}_for",
            default_doc="`5m`",
        )

    return (
        Setting(
            key="alert_interval_s",
            env="OTELKIT_ALERT_INTERVAL",
            parse=_parsers.positive_duration,
            default=15.0,
            accepted=_parsers.DURATION_ACCEPTED + ", greater than 0",
            doc="How often the in-process alert rules are evaluated.",
            keyword="alert_interval",
            default_doc="`15s`",
        ),
        Setting(
            key="alert_window_s",
            env="OTELKIT_ALERT_WINDOW",
            parse=_parsers.positive_duration,
            default=300.0,
            accepted=_parsers.DURATION_ACCEPTED + ", greater than 0",
            doc="Look-back window of the `rate`, `ratio`, `mean` and percentile rules that do not "
            "set their own `window` (the default error-rate and latency rules among them).",
            keyword="alert_window",
            default_doc="`5m`",
        ),
        Setting(
            key="alert_repeat_interval_s",
            env="OTELKIT_ALERT_REPEAT_INTERVAL",
            parse=_parsers.positive_duration,
            default=4 * 3600.0,
            accepted=_parsers.DURATION_ACCEPTED + ", greater than 0",
            doc="A firing alert is notified again after this long if it is still firing (rules may "
            "set their own `repeat_interval`).",
            keyword="alert_repeat_interval",
            default_doc="`4h`",
        ),
        Setting(
            key="alert_default_rules",
            env="OTELKIT_ALERT_DEFAULT_RULES",
            parse=_default_rule_names,
            default=DEFAULT_RULES,
            accepted="`all`, `none`, or a comma list of "
            + ", ".join(f"`{r}`" for r in DEFAULT_RULES),
            doc="Which built-in rules run (see docs/alerting.md); a rules-file rule with the same "
            "name replaces a built-in one.",
            default_doc="`all`",
        ),
        rule_threshold("cpu", "the busy share of all CPUs (`system.cpu.utilization`)", 0.8),
        rule_for("cpu", 300.0),
        rule_threshold("memory", "the used share of memory (`system.memory.utilization`)", 0.8),
        rule_for("memory", 300.0),
        rule_threshold(
            "disk", "the used share of a filesystem (`system.filesystem.utilization`)", 0.8
        ),
        rule_for("disk", 300.0),
        Setting(
            key="alert_error_rate_threshold",
            env="OTELKIT_ALERT_ERROR_RATE_THRESHOLD",
            parse=_parsers.ratio,
            default=0.05,
            accepted=_RATIO_ACCEPTED,
            doc="Default rule `error_rate`: fires when the share of failed HTTP server requests "
            "(5xx or an exception: those with `error.type`) over the window is above this.",
        ),
        rule_for("error_rate", 300.0),
        Setting(
            key="alert_response_time_threshold_s",
            env="OTELKIT_ALERT_RESPONSE_TIME_THRESHOLD",
            parse=_parsers.positive_duration,
            default=1.0,
            accepted=_parsers.DURATION_ACCEPTED + ", greater than 0",
            doc="Default rule `response_time`: fires when the 95th percentile of "
            "`http.server.request.duration` over the window is above this.",
            keyword="alert_response_time_threshold",
            default_doc="`1s`",
        ),
        rule_for("response_time", 300.0),
        Setting(
            key="alert_rules_file",
            env="OTELKIT_ALERT_RULES_FILE",
            parse=_parse.optional_text,
            default=None,
            accepted="the path of a YAML rules file (schema in docs/alerting.md; needs "
            "`otelkit[alerting]`)",
            doc="More rules, validated when `init_telemetry()` runs.",
        ),
        Setting(
            key="alert_webhook_url",
            env="OTELKIT_ALERT_WEBHOOK_URL",
            parse=_parsers.webhook_url,
            default=None,
            accepted="an `http://` or `https://` URL (a Slack incoming webhook, or any JSON "
            "receiver)",
            doc="Channel `webhook`: where notifications are POSTed as JSON (every severity without "
            "a URL of its own, `OTELKIT_ALERT_WEBHOOK_URL_<SEVERITY>`). Secret: never logged.",
            secret=True,
        ),
        Setting(
            key="alert_webhook_timeout_s",
            env="OTELKIT_ALERT_WEBHOOK_TIMEOUT",
            parse=_parsers.positive_duration,
            default=5.0,
            accepted=_parsers.DURATION_ACCEPTED + ", greater than 0",
            doc="Channel `webhook`: time limit of one attempt.",
            keyword="alert_webhook_timeout",
            default_doc="`5s`",
        ),
        Setting(
            key="alert_webhook_retries",
            env="OTELKIT_ALERT_WEBHOOK_RETRIES",
            parse=_parse.integer(0, 10),
            default=3,
            accepted="an integer from 0 to 10",
            doc="Channel `webhook`: attempts after the first on a network error, a 5xx or a 429, "
            "with exponential backoff (0.5 s, 1 s, 2 s, …).",
        ),
        Setting(
            key="alert_smtp_host",
            env="OTELKIT_ALERT_SMTP_HOST",
            parse=_parsers.host,
            default=None,
            accepted="a host name or address",
            doc="Channel `smtp`: the mail server; setting it turns the channel on.",
        ),
        Setting(
            key="alert_smtp_port",
            env="OTELKIT_ALERT_SMTP_PORT",
            parse=_parse.integer(1, 65535),
            default=25,
            accepted="a port number",
            doc="Channel `smtp`: the mail server's port.",
        ),
        Setting(
            key="alert_smtp_tls",
            env="OTELKIT_ALERT_SMTP_TLS",
            parse=_parse.choice(*SMTP_TLS_MODES),
            default=_smtp_tls_default,
            accepted=", ".join(f"`{m}`" for m in SMTP_TLS_MODES),
            doc="Channel `smtp`: `starttls` upgrades the connection, `ssl` is TLS from the start; "
            "`off` is refused with a password unless the server is on loopback.",
            default_doc="`ssl` on port 465, `starttls` on 587, else `off`",
        ),
        Setting(
            key="alert_smtp_from",
            env="OTELKIT_ALERT_SMTP_FROM",
            parse=_parsers.optional_email,
            default=None,
            accepted="an e-mail address",
            doc="Channel `smtp`: the sender.",
            default_doc="`otelkit@<host name>`",
        ),
        Setting(
            key="alert_smtp_to",
            env="OTELKIT_ALERT_SMTP_TO",
            parse=_parsers.email_list,
            default=(),
            accepted="a comma list of e-mail addresses",
            doc="Channel `smtp`: the recipients of every severity without recipients of its own "
            "(`OTELKIT_ALERT_SMTP_TO_<SEVERITY>`); with `OTELKIT_ALERT_SMTP_HOST`, this or one of "
            "those is required.",
            default_doc="—",
        ),
        Setting(
            key="alert_smtp_user",
            env="OTELKIT_ALERT_SMTP_USER",
            parse=_parse.optional_text,
            default=None,
            accepted="a user name",
            doc="Channel `smtp`: log in as this user (with `OTELKIT_ALERT_SMTP_PASSWORD`).",
        ),
        Setting(
            key="alert_smtp_password",
            env="OTELKIT_ALERT_SMTP_PASSWORD",
            parse=_parse.secret,
            default=None,
            accepted="any text",
            doc="Channel `smtp`: the password. Secret: never logged.",
            secret=True,
        ),
        Setting(
            key="alert_smtp_timeout_s",
            env="OTELKIT_ALERT_SMTP_TIMEOUT",
            parse=_parsers.positive_duration,
            default=10.0,
            accepted=_parsers.DURATION_ACCEPTED + ", greater than 0",
            doc="Channel `smtp`: time limit of one delivery.",
            keyword="alert_smtp_timeout",
            default_doc="`10s`",
        ),
        *routes(SEVERITIES),
        Setting(
            key="alerts",
            env="OTELKIT_ALERTS",
            parse=_parse.boolean,
            default=_alerts_default,
            accepted="`on`/`off` (or `true`/`false`)",
            doc="In-process alerting: evaluate the rules on a background thread and notify the "
            "channels (docs/alerting.md).",
            default_doc="`off`; `on` when a rules file, a webhook URL or an SMTP host is set",
        ),
    )


_DECLARATIONS = _declarations()


def alert_settings() -> tuple[Setting[Any], ...]:
    """The declarations, in documentation order (a default may depend on those above it)."""
    return _DECLARATIONS


@dataclass(frozen=True)
class AlertSettings:
    """The alerting fields of ``otelkit.config._settings.Settings``, with the same names."""

    alert_interval_s: float = 15.0
    alert_window_s: float = 300.0
    alert_repeat_interval_s: float = 4 * 3600.0
    alert_default_rules: tuple[str, ...] = DEFAULT_RULES
    alert_cpu_threshold: float = 0.8
    alert_cpu_for_s: float = 300.0
    alert_memory_threshold: float = 0.8
    alert_memory_for_s: float = 300.0
    alert_disk_threshold: float = 0.8
    alert_disk_for_s: float = 300.0
    alert_error_rate_threshold: float = 0.05
    alert_error_rate_for_s: float = 300.0
    alert_response_time_threshold_s: float = 1.0
    alert_response_time_for_s: float = 300.0
    alert_rules_file: str | None = None
    alert_webhook_url: _parse.Secret | None = None
    alert_webhook_timeout_s: float = 5.0
    alert_webhook_retries: int = 3
    alert_smtp_host: str | None = None
    alert_smtp_port: int = 25
    alert_smtp_tls: str = "off"
    alert_smtp_from: str | None = None
    alert_smtp_to: tuple[str, ...] = ()
    alert_smtp_user: str | None = None
    alert_smtp_password: _parse.Secret | None = None
    alert_smtp_timeout_s: float = 10.0
    alert_webhook_url_critical: _parse.Secret | None = None
    alert_webhook_url_warning: _parse.Secret | None = None
    alert_webhook_url_info: _parse.Secret | None = None
    alert_smtp_to_critical: tuple[str, ...] | None = None
    alert_smtp_to_warning: tuple[str, ...] | None = None
    alert_smtp_to_info: tuple[str, ...] | None = None
    alerts: bool = False
    service_name: str | None = None
    """Not an alerting setting: the service named in notifications."""

    def webhook_routes(self) -> dict[str, _parse.Secret]:
        """Severity → webhook URL; the severities with none are not sent on the channel."""
        routes: dict[str, _parse.Secret] = {}
        for severity in SEVERITIES:
            url = getattr(self, f"alert_webhook_url_{severity}") or self.alert_webhook_url
            if url is not None:
                routes[severity] = url
        return routes

    def smtp_routes(self) -> dict[str, tuple[str, ...]]:
        """Severity → recipients (every severity; an empty tuple gets no e-mail)."""
        routes: dict[str, tuple[str, ...]] = {}
        for severity in SEVERITIES:
            own = getattr(self, f"alert_smtp_to_{severity}")
            routes[severity] = self.alert_smtp_to if own is None else own
        return routes

    @classmethod
    def of(cls, settings: object) -> AlertSettings:
        """The alerting slice of a ``Settings`` (or an ``AlertSettings``, returned as it is)."""
        if isinstance(settings, AlertSettings):
            return settings
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


def load_alert_settings(
    keywords: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
) -> AlertSettings:
    """Parse only the alerting settings (keyword > environment > default), validated.

    ``init_telemetry()`` parses them with the rest of the configuration; this is for building
    an ``AlertEngine`` on its own (tests, benchmarks).
    """
    parsed = parse_table(alert_settings(), keywords or {}, environ or {})
    service = (keywords or {}).get("service_name")
    return AlertSettings(**parsed, service_name=service if isinstance(service, str) else None)
