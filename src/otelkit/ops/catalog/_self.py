"""otelkit's telemetry about itself: errors it swallowed, exports that failed, data it dropped.

The loss counters are counted through ``metrics._fastpath._drops`` from the runtime, the
exporters and the business API, and created on first use by the fast registry; they are
declared here under the names ``_drops`` gives them, where the catalog (and so the generated
rules and dashboards) reads them. The completeness test checks the units against what is
emitted.
"""

from __future__ import annotations

from opentelemetry.semconv._incubating.attributes.otel_attributes import (
    OTEL_COMPONENT_NAME,
    OTEL_COMPONENT_TYPE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from otelkit.metrics._fastpath._drops import DROPPED, EXPORT_FAILURES, INTERNAL_ERRORS
from otelkit.metrics._spec import MetricSpec, development, stable

__all__ = ["INTEGRATION", "METRICS"]

INTEGRATION = "otelkit"

_TYPE = development(
    OTEL_COMPONENT_TYPE,
    description="The kind of component: batching_span_processor, otlp_http_span_exporter, "
    "otelkit_metric_store, otelkit_<part> for otelkit's own parts.",
)
_NAME = development(
    OTEL_COMPONENT_NAME,
    description="The instance: <type>/<exporter plugin> (absent for otelkit's own parts).",
)
_ERROR = stable(ERROR_TYPE, description="The exception's class name.")
_FAILURE = stable(
    ERROR_TYPE,
    "timeout",
    "unavailable",
    "rejected",
    "exception",
    "failed",
    description="Why the export failed.",
)
_LOSS = stable(
    ERROR_TYPE,
    "queue_full",
    "export_failed",
    "shutdown_timeout",
    "cardinality_overflow",
    "invalid_attribute",
    "invalid_name",
    "name_limit",
    "name_collision",
    "invalid_value",
    "invalid_definition",
    description="Why the items were not delivered.",
)

METRICS = (
    MetricSpec(
        INTERNAL_ERRORS,
        "counter",
        "{error}",
        "Errors inside otelkit that were logged and swallowed instead of reaching the application.",
        (_TYPE, _ERROR),
        INTEGRATION,
    ),
    MetricSpec(
        EXPORT_FAILURES,
        "counter",
        "{export}",
        "Exports that failed, by exporter and error type.",
        (_TYPE, _NAME, _FAILURE),
        INTEGRATION,
    ),
    MetricSpec(
        DROPPED,
        "counter",
        "{item}",
        "Items otelkit did not deliver: spans and log records (full queue, failed export), "
        "attribute sets folded into the overflow series, invalid attribute values, refused "
        "metric names, what a shutdown could not wait for.",
        (_TYPE, _NAME, _LOSS),
        INTEGRATION,
    ),
)
