"""The per-severity alert routes: a webhook URL and e-mail recipients for each severity.

Declared here, beside ``_alerting`` which lists them with the other ``OTELKIT_ALERT*``
settings; ``AlertSettings.webhook_routes()`` and ``smtp_routes()`` resolve them against the
defaults (``OTELKIT_ALERT_WEBHOOK_URL``, ``OTELKIT_ALERT_SMTP_TO``).
"""

from __future__ import annotations

from typing import Any

from otelkit.config import _alerting_parsers as _parsers
from otelkit.config._setting import Setting

__all__ = ["routes"]


def routes(severities: tuple[str, ...]) -> tuple[Setting[Any], ...]:
    """Per-severity webhooks and recipients: Alertmanager-style routes without Alertmanager."""
    declarations: list[Setting[Any]] = []
    for severity in severities:
        declarations.append(
            Setting(
                key=f"alert_webhook_url_{severity}",
                env=f"OTELKIT_ALERT_WEBHOOK_URL_{severity.upper()}",
                parse=_parsers.webhook_url,
                default=None,
                accepted="an `http://` or `https://` URL",
                doc=f"Channel `webhook`: where `{severity}` alerts are POSTed instead of "
                "`OTELKIT_ALERT_WEBHOOK_URL` (a pager's or a team channel's webhook). Secret: "
                "never logged.",
                secret=True,
            )
        )
    for severity in severities:
        declarations.append(
            Setting(
                key=f"alert_smtp_to_{severity}",
                env=f"OTELKIT_ALERT_SMTP_TO_{severity.upper()}",
                parse=_parsers.optional_email_list,
                default=None,
                accepted="a comma list of e-mail addresses, or `none` (no e-mail for this "
                "severity)",
                doc=f"Channel `smtp`: the recipients of `{severity}` alerts instead of "
                "`OTELKIT_ALERT_SMTP_TO`.",
                default_doc="`OTELKIT_ALERT_SMTP_TO`",
            )
        )
    return tuple(declarations)
