"""otelkit's own pre-aggregating instruments for the hot path, fed to the SDK at collection time.

An OpenTelemetry SDK ``Histogram.record`` walks the measurement pipeline (measurement object,
exemplar filter, per-reader storages, attribute hashing) on every call; that is most of an HTTP
request's telemetry budget. Here a series is found once per attribute set (a dict lookup by a
small tuple the caller builds) and recording is a bisect and a few additions under the series'
own lock. When a reader collects, every series becomes an OpenTelemetry data point and is added
to what the SDK collected, in the reader's temporality: the exporters, the Prometheus exposition
and the in-memory test reader see ordinary OTel metric data.

What the SDK would do and this keeps: explicit-bucket histograms with count, sum, min and max
(and base-2 exponential ones for the readers that want them);
cumulative and delta temporality per reader (delta min/max per interval); a cardinality limit
per instrument with overflow into ``otel.metric.overflow=true``; exemplars by the SDK's filter
and default reservoirs (``_exemplars``). What it does not do: views do not apply to these
instruments (their buckets are set by otelkit's settings).

The hook into a reader is a private SDK seam (``otelkit._sdk_compat``); without it the same
instruments forward every measurement to SDK instruments (``_fallback``).

Modules: ``_series`` (one attribute set's values), ``_instruments`` (series by attribute set,
turned into metrics), ``_readers`` (per-reader state, the collection hook), ``_fallback`` (the
forwarding series), ``_registry`` (the process's instruments and readers), ``_names`` (the
Prometheus names an instrument takes, to refuse clashes), ``_drops`` (``otelkit.dropped`` and
``otelkit.export.failures``: what otelkit did not deliver, counted), ``_components`` (which
component a count names, as ``otel.component.type``/``.name`` and ``error.type``), ``_meter``
(the handle's SDK meter, whose instruments claim their Prometheus names), ``_store`` (the shared
store's protocol, and its failures counted outside every instrument lock), ``_exemplars`` (the
exemplar filter and reservoirs), ``_exponential`` (base-2 exponential buckets, as the SDK
computes them) and ``_aggregation`` (which readers get them, and their data points).
"""

from otelkit.metrics._fastpath._drops import DROPPED, EXPORT_FAILURES, dropped, export_failed
from otelkit.metrics._fastpath._exemplars import (
    as_exemplars,
    kept,
    sdk_exemplar_filter,
    use_filter,
)
from otelkit.metrics._fastpath._instruments import (
    DEFAULT_CARDINALITY_LIMIT,
    OVERFLOW_ATTRIBUTES,
    FastHistogram,
    FastSum,
    _Instrument,
)
from otelkit.metrics._fastpath._names import NameCollision
from otelkit.metrics._fastpath._registry import REGISTRY, Registry
from otelkit.metrics._fastpath._series import _HistogramSeries, _SumSeries, integral
from otelkit.metrics._fastpath._store import Store

__all__ = [
    "DEFAULT_CARDINALITY_LIMIT",
    "DROPPED",
    "EXPORT_FAILURES",
    "OVERFLOW_ATTRIBUTES",
    "REGISTRY",
    "FastHistogram",
    "FastSum",
    "NameCollision",
    "Registry",
    "Store",
    "_HistogramSeries",
    "_Instrument",
    "_SumSeries",
    "as_exemplars",
    "dropped",
    "export_failed",
    "integral",
    "kept",
    "sdk_exemplar_filter",
    "use_filter",
]
