"""otelkit's own alerts: telemetry that could not be exported or was dropped.

Both mean the numbers every other rule reads may be incomplete, so they are warnings in
their own right: a quiet dashboard is not proof of a healthy service if data is being lost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.semconv._incubating.attributes.otel_attributes import (
    OTEL_COMPONENT_NAME,
    OTEL_COMPONENT_TYPE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from otelkit.ops.rules._context import RULES_PREFIX, by
from otelkit.ops.rules._model import Alert, Group, Record, Runbook

if TYPE_CHECKING:
    from otelkit.ops.rules._context import Context

__all__ = ["self_groups"]

FAILURES = "otelkit.export.failures"
DROPPED = "otelkit.dropped"


def self_groups(ctx: Context) -> list[Group]:
    w = ctx.window
    kind = ctx.label(FAILURES, OTEL_COMPONENT_TYPE)
    component = ctx.label(FAILURES, OTEL_COMPONENT_NAME)
    reason = ctx.label(FAILURES, ERROR_TYPE)
    failures = f"job_component:otelkit_export_failures:rate{w}"
    dropped = f"job_component:otelkit_dropped:rate{w}"
    records = (
        Record(
            failures,
            f"sum {by(kind, component, reason)} "
            f"(rate({ctx.series(FAILURES)}{ctx.selector()}[{w}]))",
        ),
        Record(
            dropped,
            f"sum {by(kind, component, reason)} (rate({ctx.series(DROPPED)}{ctx.selector()}[{w}]))",
        ),
    )
    queries = (failures, dropped, 'otelkit_internal_errors_total{job="<service>"}')
    alerts = (
        Alert(
            "OtelkitExportFailing",
            f"{failures} > 0",
            600.0,
            "warning",
            "{{ $labels.job }}: exports of {{ $labels." + kind + " }} fail",
            f"{{{{ $labels.{component} }}}} of {{{{ $labels.job }}}} failed "
            '{{ printf "%.3g" $value }}'
            f" exports per second over the last {w} "
            f"({{{{ $labels.{reason} }}}}), for 10 minutes.",
            Runbook(
                "An exporter cannot deliver telemetry (OTLP endpoint, cloud back end): traces, "
                "metrics or logs are missing there.",
                queries,
                (
                    "the collector or back end is down or unreachable",
                    "credentials expired (API key, connection string)",
                    "payloads rejected: too large, or quota exceeded",
                ),
            ),
        ),
        Alert(
            "OtelkitDroppingData",
            f"{dropped} > 0",
            600.0,
            "warning",
            "{{ $labels.job }}: {{ $labels." + kind + " }} drops telemetry",
            f"{{{{ $labels.{kind} }}}} of {{{{ $labels.job }}}} dropped "
            '{{ printf "%.3g" $value }}'
            f" items per second over the last {w} "
            f"({{{{ $labels.{reason} }}}}), for 10 minutes.",
            Runbook(
                "otelkit discards telemetry to protect the application (full queues, "
                "cardinality limits, invalid attributes).",
                queries,
                (
                    "an export back end too slow for the volume: queues overflow",
                    "an attribute with unbounded values (ids, URLs) hitting the cardinality cap",
                    "invalid attribute values from application code",
                ),
            ),
        ),
    )
    return [Group(f"{RULES_PREFIX}-otelkit", (*records, *alerts))]
