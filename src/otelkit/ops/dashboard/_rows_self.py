"""otelkit row: what otelkit itself could not deliver, and the errors it swallowed.

Every other row is only as complete as this one is quiet. The loss counters exist at 0 from
start-up for each configured exporter and batch processor, so the panels show 0, not "no
data", until something is lost; the series carry the SDK self-observability attributes
(``otel.component.type``, ``otel.component.name``, ``error.type``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.semconv._incubating.attributes.otel_attributes import (
    OTEL_COMPONENT_NAME,
    OTEL_COMPONENT_TYPE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from otelkit.ops.dashboard._model import Panel, Row, Target
from otelkit.ops.dashboard._promql import label, selector, sum_rate

if TYPE_CHECKING:
    from otelkit.ops.dashboard._names import Names

DROPPED = "otelkit.dropped"
FAILURES = "otelkit.export.failures"
INTERNAL_ERRORS = "otelkit.internal.errors"
KIND = label(OTEL_COMPONENT_TYPE)
NAME = label(OTEL_COMPONENT_NAME)
ERROR = label(ERROR_TYPE)


def rows(names: Names) -> tuple[Row, ...]:
    if DROPPED not in names or FAILURES not in names:
        return ()
    targets = [
        Target(
            sum_rate(selector(names.series(DROPPED)), (KIND, ERROR)),
            f"dropped: {{{{{KIND}}}}} {{{{{ERROR}}}}}",
        ),
        Target(
            sum_rate(selector(names.series(FAILURES)), (NAME, ERROR)),
            f"failed exports: {{{{{NAME}}}}} {{{{{ERROR}}}}}",
        ),
    ]
    if INTERNAL_ERRORS in names:
        targets.append(
            Target(
                sum_rate(selector(names.series(INTERNAL_ERRORS)), (KIND, ERROR)),
                f"internal errors: {{{{{KIND}}}}} {{{{{ERROR}}}}}",
            )
        )
    panel = Panel(
        "Telemetry lost",
        "timeseries",
        tuple(targets),
        unit="short",
        description="Per second: spans, log records and metric points otelkit did not "
        "deliver (a full queue, a failed export, a shutdown that could not wait, measurements "
        "refused or folded into the overflow series); failed exports by exporter and why; "
        "errors inside otelkit that were logged once and swallowed. 0 is healthy: every other "
        "panel is only as complete as this one is flat.",
        width=24,
    )
    return (Row("Telemetry pipeline (otelkit)", (panel,)),)
