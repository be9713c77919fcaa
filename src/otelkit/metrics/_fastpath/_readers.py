"""The readers the fast instruments feed: what each has seen, and the hook into its collection.

Each reader's collect callback (the function its MeterProvider gave it) is wrapped through
``_sdk_compat.hook_collect``: the wrapper calls the SDK's collection, then appends the fast
instruments' metrics in the reader's temporality. Readers a provider gets later, through the
public ``MeterProvider.add_metric_reader()``, are hooked the same way: ``follow_readers`` wraps
that method (and ``remove_metric_reader``) on the provider instance otelkit built.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Metric,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    from otelkit.metrics._fastpath._instruments import _Instrument


class ReaderState:
    """What one reader has already seen, to compute its deltas."""

    def __init__(
        self, temporality: Mapping[str, AggregationTemporality], exponential: bool = False
    ) -> None:
        self.temporality = temporality
        self.exponential = exponential
        """Whether histograms reach this reader as exponential buckets (``_aggregation``)."""
        """The reader's temporality per instrument kind (``_sdk_compat.reader_temporality``)."""
        self.last_ns = time.time_ns()
        self.previous: dict[int, tuple[Any, ...]] = {}
        self.slots: dict[int, int] = {}  # id(histogram) -> interval slot

    def is_delta(self, instrument: _Instrument) -> bool:
        return self.temporality.get(instrument.kind) == AggregationTemporality.DELTA


def collect_scopes(instruments: Iterable[_Instrument], state: ReaderState) -> list[ScopeMetrics]:
    """One collection of the fast instruments for one reader, grouped by scope."""
    now = time.time_ns()
    by_scope: dict[InstrumentationScope, list[Metric]] = {}
    for instrument in instruments:
        metric = instrument.collect(state, now)
        if metric is not None:
            by_scope.setdefault(instrument.scope, []).append(metric)
    state.last_ns = now
    return [
        ScopeMetrics(scope=scope, metrics=metrics, schema_url=scope.schema_url or "")
        for scope, metrics in by_scope.items()
    ]


def merge(
    data: MetricsData | None, scopes: list[ScopeMetrics], resource: Resource | None
) -> MetricsData | None:
    """The SDK's collection with the fast scopes added to its first resource (``resource``
    when the SDK collected nothing)."""
    if not scopes:
        return data
    if data is None or not data.resource_metrics:
        assert resource is not None
        return MetricsData(
            resource_metrics=[
                ResourceMetrics(resource=resource, scope_metrics=scopes, schema_url="")
            ]
        )
    first, *rest = data.resource_metrics
    merged = ResourceMetrics(
        resource=first.resource,
        scope_metrics=[*first.scope_metrics, *scopes],
        schema_url=first.schema_url,
    )
    return MetricsData(resource_metrics=[merged, *rest])


def follow_readers(
    provider: MeterProvider,
    added: Callable[[MetricReader], None],
    removed: Callable[[MetricReader], None],
) -> None:
    """Call ``added``/``removed`` after the provider's public ``add_metric_reader`` and
    ``remove_metric_reader`` (wrapped on this provider instance only)."""
    add, remove = provider.add_metric_reader, provider.remove_metric_reader

    def add_metric_reader(metric_reader: MetricReader) -> None:
        add(metric_reader)
        added(metric_reader)

    def remove_metric_reader(metric_reader: MetricReader) -> None:
        remove(metric_reader)
        removed(metric_reader)

    setattr(provider, "add_metric_reader", add_metric_reader)  # noqa: B010 - a method
    setattr(provider, "remove_metric_reader", remove_metric_reader)  # noqa: B010
