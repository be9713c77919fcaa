"""Alerts about the in-process alerting itself: notifications that could not be delivered.

An alert that fires but reaches nobody is worse than none, since the team believes it is
covered; Prometheus watches the channels of the in-process engine the way Alertmanager's own
``alertmanager_notifications_failed_total`` is watched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit.ops.rules._context import RULES_PREFIX, by
from otelkit.ops.rules._model import Alert, Group, Runbook

if TYPE_CHECKING:
    from otelkit.ops.rules._context import Context

__all__ = ["alerting_groups"]

NOTIFICATIONS = "otelkit.alert.notifications"


def alerting_groups(ctx: Context) -> list[Group]:
    w = ctx.window
    channel = ctx.label(NOTIFICATIONS, "channel")
    outcome = ctx.label(NOTIFICATIONS, "outcome")
    failed = ctx.selector(f'{outcome}=~"failed|dropped"')
    series = ctx.series(NOTIFICATIONS)
    expr = f"sum {by(channel)} (rate({series}{failed}[{w}])) > 0"
    alert = Alert(
        "AlertNotificationsFailing",
        expr,
        600.0,
        "warning",
        "{{ $labels.job }}: alert notifications through {{ $labels." + channel + " }} fail",
        f"{{{{ $labels.{channel} }}}} of {{{{ $labels.job }}}} failed to deliver "
        '{{ printf "%.3g" $value }}'
        f" notifications per second over the last {w}, for 10 minutes.",
        Runbook(
            "The in-process alerting engine cannot deliver notifications through a channel: "
            "its alerts reach nobody.",
            (f'sum {by(channel, outcome)} (rate({series}{{job="<service>"}}[5m]))',),
            (
                "the webhook URL or SMTP server is wrong or unreachable",
                "credentials of the channel expired or were revoked",
                "the receiver rate-limits: notifications are dropped",
            ),
        ),
    )
    return [Group(f"{RULES_PREFIX}-alerting", (alert,))]
