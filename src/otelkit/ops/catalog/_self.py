"""otelkit's telemetry about itself: errors it swallowed, exports that failed, data it dropped.

The loss counters are counted through ``metrics._fastpath._drops`` from the runtime, the
exporters and the business API, and created on first use by the fast registry; they are
declared here under the names ``_drops`` gives them, where the catalog (and so the generated
rules and dashboards) reads them. The completeness test checks the units against what is
emitted.
"""

from __future__ import annotations

from otelkit.metrics._fastpath._drops import DROPPED, EXPORT_FAILURES, INTERNAL_ERRORS
from otelkit.metrics._spec import MetricSpec, own

__all__ = ["INTEGRATION", "METRICS"]

INTEGRATION = "otelkit"

_COMPONENT = own("component", description="The part of otelkit concerned (a module or plugin).")
_REASON = own("reason", description="Why: the kind of error or of loss.")

METRICS = (
    MetricSpec(
        INTERNAL_ERRORS,
        "counter",
        "{error}",
        "Errors inside otelkit that were logged and swallowed instead of reaching the application.",
        (_COMPONENT, _REASON),
        INTEGRATION,
    ),
    MetricSpec(
        EXPORT_FAILURES,
        "counter",
        "{export}",
        "Exports that failed, by exporter and reason.",
        (_COMPONENT, _REASON),
        INTEGRATION,
    ),
    MetricSpec(
        DROPPED,
        "counter",
        "{item}",
        "Items otelkit did not deliver: spans and log records (full queue, failed export), "
        "attribute sets folded into the overflow series, invalid attribute values, refused "
        "metric names.",
        (_COMPONENT, _REASON),
        INTEGRATION,
    ),
)
