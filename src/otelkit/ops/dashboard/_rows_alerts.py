"""Alerts row: what the generated alerting rules report right now, from Prometheus' ``ALERTS``.

The generated rules aggregate by ``job``, so their alerts carry the service and the row filters
on ``$service``; they carry no ``instance`` (an alert is about the service, not one replica).
"""

from __future__ import annotations

from otelkit.ops.dashboard._model import Panel, Row, Target
from otelkit.ops.dashboard._promql import SERVICE_LABEL, by

ALERTS = f'ALERTS{{{SERVICE_LABEL}=~"$service"}}'


def rows() -> tuple[Row, ...]:
    return (
        Row(
            "Alerts",
            (
                Panel(
                    "Alerts firing or pending",
                    "table",
                    (
                        Target(
                            by(("alertname", "alertstate", "severity"), ALERTS, "count"),
                            "series",
                            instant=True,
                        ),
                    ),
                    description="Each alert of the generated rules that is pending or firing now.",
                    width=12,
                ),
                Panel(
                    "Alerts by state and severity",
                    "timeseries",
                    (
                        Target(
                            by(("alertstate", "severity"), ALERTS, "count"),
                            "{{alertstate}} {{severity}}",
                        ),
                    ),
                    width=12,
                ),
            ),
        ),
    )
