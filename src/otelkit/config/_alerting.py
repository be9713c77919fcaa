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
from otelkit.config._setting import Setting, parse_table

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DEFAULT_RULES",
    "SMTP_TLS_MODES",
    "AlertSettings",
    "alert_settings",
    "load_alert_settings",
]

DEFAULT_RULES = ("cpu", "memory", "disk", "error_rate", "response_time")
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
    return bool(
        parsed["alert_rules_file"] or parsed["alert_webhook_url"] or parsed["alert_smtp_host"]
    )


def _declarations() -> tuple[Setting[Any], ...]:
    def rule_threshold(name: str, what: str, default: float) -> Setting[Any]:
        return Setting(
            f"alert_{name}_threshold",
            f"OTELKIT_ALERT_{name.upper()}_THRESHOLD",
            _parsers.ratio,
            default,
            _RATIO_ACCEPTED,
            f"Default rule `{name}`: fires when {what} is above this share.",
        )

    def rule_for(name: str, default: float) -> Setting[Any]:
        return Setting(
            f"alert_{name}_for_s",
            f"OTELKIT_ALERT_{name.upper()}_FOR",
            _parsers.duration,
            default,
            _FOR_ACCEPTED,
            f"Default rule `{name}`: how long the condition must hold before the alert fires.",
            keyword=f"alert_{name}_for",
            default_doc="`5m`",
        )

    return (
        Setting(
            "alert_interval_s",
            "OTELKIT_ALERT_INTERVAL",
            _parsers.positive_duration,
            15.0,
            _parsers.DURATION_ACCEPTED + ", greater than 0",
            "How often the in-process alert rules are evaluated.",
            keyword="alert_interval",
            default_doc="`15s`",
        ),
        Setting(
            "alert_window_s",
            "OTELKIT_ALERT_WINDOW",
            _parsers.positive_duration,
            300.0,
            _parsers.DURATION_ACCEPTED + ", greater than 0",
            "Look-back window of the `rate`, `ratio`, `mean` and percentile rules that do not "
            "set their own `window` (the default error-rate and latency rules among them).",
            keyword="alert_window",
            default_doc="`5m`",
        ),
        Setting(
            "alert_repeat_interval_s",
            "OTELKIT_ALERT_REPEAT_INTERVAL",
            _parsers.positive_duration,
            4 * 3600.0,
            _parsers.DURATION_ACCEPTED + ", greater than 0",
            "A firing alert is notified again after this long if it is still firing (rules may "
            "set their own `repeat_interval`).",
            keyword="alert_repeat_interval",
            default_doc="`4h`",
        ),
        Setting(
            "alert_default_rules",
            "OTELKIT_ALERT_DEFAULT_RULES",
            _default_rule_names,
            DEFAULT_RULES,
            "`all`, `none`, or a comma list of " + ", ".join(f"`{r}`" for r in DEFAULT_RULES),
            "Which built-in rules run (see docs/alerting.md); a rules-file rule with the same "
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
            "alert_error_rate_threshold",
            "OTELKIT_ALERT_ERROR_RATE_THRESHOLD",
            _parsers.ratio,
            0.05,
            _RATIO_ACCEPTED,
            "Default rule `error_rate`: fires when the share of failed HTTP server requests "
            "(5xx or an exception: those with `error.type`) over the window is above this.",
        ),
        rule_for("error_rate", 300.0),
        Setting(
            "alert_response_time_threshold_s",
            "OTELKIT_ALERT_RESPONSE_TIME_THRESHOLD",
            _parsers.positive_duration,
            1.0,
            _parsers.DURATION_ACCEPTED + ", greater than 0",
            "Default rule `response_time`: fires when the 95th percentile of "
            "`http.server.request.duration` over the window is above this.",
            keyword="alert_response_time_threshold",
            default_doc="`1s`",
        ),
        rule_for("response_time", 300.0),
        Setting(
            "alert_rules_file",
            "OTELKIT_ALERT_RULES_FILE",
            _parse.optional_text,
            None,
            "the path of a YAML rules file (schema in docs/alerting.md; needs `otelkit[alerting]`)",
            "More rules, validated when `init_telemetry()` runs.",
        ),
        Setting(
            "alert_webhook_url",
            "OTELKIT_ALERT_WEBHOOK_URL",
            _parsers.webhook_url,
            None,
            "an `http://` or `https://` URL (a Slack incoming webhook, or any JSON receiver)",
            "Channel `webhook`: where notifications are POSTed as JSON. Secret: never logged.",
            secret=True,
        ),
        Setting(
            "alert_webhook_timeout_s",
            "OTELKIT_ALERT_WEBHOOK_TIMEOUT",
            _parsers.positive_duration,
            5.0,
            _parsers.DURATION_ACCEPTED + ", greater than 0",
            "Channel `webhook`: time limit of one attempt.",
            keyword="alert_webhook_timeout",
            default_doc="`5s`",
        ),
        Setting(
            "alert_webhook_retries",
            "OTELKIT_ALERT_WEBHOOK_RETRIES",
            _parse.integer(0, 10),
            3,
            "an integer from 0 to 10",
            "Channel `webhook`: attempts after the first on a network error, a 5xx or a 429, "
            "with exponential backoff (0.5 s, 1 s, 2 s, …).",
        ),
        Setting(
            "alert_smtp_host",
            "OTELKIT_ALERT_SMTP_HOST",
            _parsers.host,
            None,
            "a host name or address",
            "Channel `smtp`: the mail server; setting it turns the channel on.",
        ),
        Setting(
            "alert_smtp_port",
            "OTELKIT_ALERT_SMTP_PORT",
            _parse.integer(1, 65535),
            25,
            "a port number",
            "Channel `smtp`: the mail server's port.",
        ),
        Setting(
            "alert_smtp_tls",
            "OTELKIT_ALERT_SMTP_TLS",
            _parse.choice(*SMTP_TLS_MODES),
            _smtp_tls_default,
            ", ".join(f"`{m}`" for m in SMTP_TLS_MODES),
            "Channel `smtp`: `starttls` upgrades the connection, `ssl` is TLS from the start; "
            "`off` is refused with a password unless the server is on loopback.",
            default_doc="`ssl` on port 465, `starttls` on 587, else `off`",
        ),
        Setting(
            "alert_smtp_from",
            "OTELKIT_ALERT_SMTP_FROM",
            _parsers.optional_email,
            None,
            "an e-mail address",
            "Channel `smtp`: the sender.",
            default_doc="`otelkit@<host name>`",
        ),
        Setting(
            "alert_smtp_to",
            "OTELKIT_ALERT_SMTP_TO",
            _parsers.email_list,
            (),
            "a comma list of e-mail addresses",
            "Channel `smtp`: the recipients (required with `OTELKIT_ALERT_SMTP_HOST`).",
            default_doc="—",
        ),
        Setting(
            "alert_smtp_user",
            "OTELKIT_ALERT_SMTP_USER",
            _parse.optional_text,
            None,
            "a user name",
            "Channel `smtp`: log in as this user (with `OTELKIT_ALERT_SMTP_PASSWORD`).",
        ),
        Setting(
            "alert_smtp_password",
            "OTELKIT_ALERT_SMTP_PASSWORD",
            _parse.secret,
            None,
            "any text",
            "Channel `smtp`: the password. Secret: never logged.",
            secret=True,
        ),
        Setting(
            "alert_smtp_timeout_s",
            "OTELKIT_ALERT_SMTP_TIMEOUT",
            _parsers.positive_duration,
            10.0,
            _parsers.DURATION_ACCEPTED + ", greater than 0",
            "Channel `smtp`: time limit of one delivery.",
            keyword="alert_smtp_timeout",
            default_doc="`10s`",
        ),
        Setting(
            "alerts",
            "OTELKIT_ALERTS",
            _parse.boolean,
            _alerts_default,
            "`on`/`off` (or `true`/`false`)",
            "In-process alerting: evaluate the rules on a background thread and notify the "
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
    alerts: bool = False
    service_name: str | None = None
    """Not an alerting setting: the service named in notifications."""

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
