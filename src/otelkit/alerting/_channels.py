"""Where notifications go: the ``log`` and ``callback`` channels, and ``build_channels()``,
which makes every channel the settings configure (validated at init).

The ``Channel`` protocol and ``DeliveryError`` are in ``_delivery``, which the concrete channels
(``_webhook``, ``_smtp``) import; this module imports them, never the other way round, and only
when the settings configure them.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import TYPE_CHECKING, ClassVar

from otelkit._errors import ConfigError
from otelkit.alerting import _callbacks
from otelkit.alerting._alert import RESOLVED
from otelkit.alerting._delivery import DeliveryError

if TYPE_CHECKING:
    from otelkit.alerting._alert import Alert
    from otelkit.alerting._delivery import Channel
    from otelkit.config._alerting import AlertSettings

__all__ = [
    "CallbackChannel",
    "LogChannel",
    "build_channels",
    "is_loopback",
]

ALERT_LOGGER = "otelkit.alerts"


class _UntilLoggingIsConfigured(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes alerts to stderr while the root logger has no handler of its own.

    Once the application configures logging (``basicConfig``, dictConfig, a framework), its
    handlers get the records and this one stays silent, so nothing is printed twice.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not logging.getLogger().handlers and bool(super().filter(record))


def make_visible(logger: logging.Logger) -> None:
    """Give the alert logger a stderr handler of its own (once), and let INFO through.

    Without it, an application that never configured logging would see firing alerts only
    through Python's last-resort handler (WARNING and above), and resolved ones never.
    """
    if any(isinstance(h, _UntilLoggingIsConfigured) for h in logger.handlers):
        return
    handler = _UntilLoggingIsConfigured()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)


class LogChannel:
    """Logs each notification on the ``otelkit.alerts`` logger.

    Firing alerts log at ERROR (critical), WARNING (warning) or INFO (info); resolved ones at
    INFO. The record carries the structured fields as ``record.otelkit_alert``. The logger
    gets a stderr handler of its own that writes while the root logger has none
    (``make_visible``): alerts show without any logging set up.
    """

    name = "log"
    _LEVELS: ClassVar[dict[str, int]] = {
        "critical": logging.ERROR,
        "warning": logging.WARNING,
        "info": logging.INFO,
    }

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger(ALERT_LOGGER)
        make_visible(self.logger)

    def send(self, alert: Alert) -> None:
        level = logging.INFO if alert.state == RESOLVED else self._LEVELS[alert.severity]
        self.logger.log(level, "%s", alert.text, extra={"otelkit_alert": alert.to_dict()})


class CallbackChannel:
    """Calls every ``on_alert`` callback; one that raises does not stop the others."""

    name = "callback"

    def send(self, alert: Alert) -> None:
        registered = _callbacks.callbacks()
        failed: list[str] = []
        for callback in registered:
            try:
                callback(alert)
            except Exception as exc:
                failed.append(type(exc).__name__)
        if failed:
            raise DeliveryError(
                f"{len(failed)} of {len(registered)} on_alert callbacks raised "
                f"({', '.join(dict.fromkeys(failed))})"
            )


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def build_channels(settings: AlertSettings) -> dict[str, Channel]:
    """``log`` and ``callback`` always; ``webhook`` and ``smtp`` when configured.

    Raises ``ConfigError`` for an incomplete or unsafe SMTP configuration.
    """
    channels: dict[str, Channel] = {"log": LogChannel(), "callback": CallbackChannel()}
    webhook_routes = settings.webhook_routes()
    if webhook_routes:
        from otelkit.alerting._webhook import WebhookChannel

        channels["webhook"] = WebhookChannel(
            settings.alert_webhook_url,
            timeout=settings.alert_webhook_timeout_s,
            retries=settings.alert_webhook_retries,
            routes=webhook_routes,
        )
    if settings.alert_smtp_host is not None:
        channels["smtp"] = _smtp_channel(settings)
    return channels


def _smtp_channel(settings: AlertSettings) -> Channel:
    from otelkit.alerting._smtp import SmtpChannel

    host = settings.alert_smtp_host or ""
    routes = settings.smtp_routes()
    if not any(routes.values()):
        raise ConfigError(
            "OTELKIT_ALERT_SMTP_TO is not set, and the smtp alert channel "
            "(OTELKIT_ALERT_SMTP_HOST) needs it or one of OTELKIT_ALERT_SMTP_TO_CRITICAL, "
            "_WARNING, _INFO (or init_telemetry(alert_smtp_to=...)). "
            "Accepted: a comma list of e-mail addresses."
        )
    if (settings.alert_smtp_user is None) != (settings.alert_smtp_password is None):
        given, missing = (
            ("OTELKIT_ALERT_SMTP_USER", "OTELKIT_ALERT_SMTP_PASSWORD")
            if settings.alert_smtp_user is not None
            else ("OTELKIT_ALERT_SMTP_PASSWORD", "OTELKIT_ALERT_SMTP_USER")
        )
        raise ConfigError(
            f"{given} is set but {missing} is not: the smtp alert channel logs in with both. "
            "Accepted: both set, or neither."
        )
    if (
        settings.alert_smtp_password is not None
        and settings.alert_smtp_tls == "off"
        and not is_loopback(host)
    ):
        raise ConfigError(
            f"OTELKIT_ALERT_SMTP_TLS='off' would send OTELKIT_ALERT_SMTP_PASSWORD in clear to "
            f"{host!r}. Accepted: `starttls` or `ssl` (`off` only for a server on loopback)."
        )
    return SmtpChannel(
        host,
        settings.alert_smtp_port,
        tls=settings.alert_smtp_tls,
        sender=settings.alert_smtp_from or f"otelkit@{socket.gethostname() or 'localhost'}",
        recipients=settings.alert_smtp_to,
        routes=routes,
        user=settings.alert_smtp_user,
        password=settings.alert_smtp_password,
        timeout=settings.alert_smtp_timeout_s,
    )
