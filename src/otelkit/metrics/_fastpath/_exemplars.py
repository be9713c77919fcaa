"""Exemplars of the fast instruments: which measurements keep one, and how they are kept.

The filter follows the SDK's ``OTEL_METRICS_EXEMPLAR_FILTER``: ``trace_based`` (the default)
keeps a measurement taken while a sampled span is current, ``always_on`` every measurement
(with the current span's ids when there is one), ``always_off`` none. The reservoirs follow
the SDK's defaults: a histogram keeps the last exemplar of each bucket, a counter the last one
(a reservoir of one). Last-seen rather than a random pick: a scraper reading the latest
exemplar gets a fresh trace, and replacing one slot costs nothing.

On the hot path the filter is one call (``_series.TAKE``, None when off); with
``trace_based`` it reads the current context and returns None at once when no span is in it.
A kept exemplar is a plain tuple ``(value, time_ns, trace_id, span_id)``, written without a
lock (last writer wins); collections turn them into the SDK's ``Exemplar``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from opentelemetry import context, trace
from opentelemetry.sdk.metrics import (
    AlwaysOffExemplarFilter,
    AlwaysOnExemplarFilter,
    Exemplar,
    ExemplarFilter,
    TraceBasedExemplarFilter,
)

from otelkit.metrics._fastpath import _series

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from opentelemetry.trace import Span

__all__ = ["FILTERS", "Kept", "as_exemplars", "kept", "sdk_exemplar_filter", "use_filter"]

FILTERS = ("trace_based", "always_on", "always_off")

Kept = tuple[float, int, int, int]
"""One exemplar: value, time (ns since the epoch), trace id and span id (0 when none)."""

_get_current = context.get_current
# The key the API stores the current span under, found through the public API only.
(_SPAN_KEY,) = tuple(trace.set_span_in_context(trace.INVALID_SPAN, context.Context()))
_now = time.time_ns


def _trace_based(value: float) -> Kept | None:
    span: Span | None = _get_current().get(_SPAN_KEY)  # type: ignore[assignment]
    if span is None:
        return None
    ids = span.get_span_context()
    if not ids.trace_flags.sampled:
        return None
    return (value, _now(), ids.trace_id, ids.span_id)


def _always_on(value: float) -> Kept | None:
    span: Span | None = _get_current().get(_SPAN_KEY)  # type: ignore[assignment]
    if span is None:
        return (value, _now(), 0, 0)
    ids = span.get_span_context()
    return (value, _now(), ids.trace_id, ids.span_id)


_TAKERS: dict[str, Callable[[float], Kept | None] | None] = {
    "trace_based": _trace_based,
    "always_on": _always_on,
    "always_off": None,
}


def use_filter(name: str) -> None:
    """Keep exemplars by the filter ``name`` (one of ``FILTERS``) from now on."""
    _series.TAKE = _TAKERS[name]


def sdk_exemplar_filter(name: str) -> ExemplarFilter:
    """The same filter for the SDK's own instruments (the user's meters, observable ones)."""
    if name == "always_on":
        return AlwaysOnExemplarFilter()
    if name == "always_off":
        return AlwaysOffExemplarFilter()
    return TraceBasedExemplarFilter()


def as_exemplars(found: Iterable[Kept | None], since: int = 0) -> list[Exemplar]:
    """The SDK's exemplars of what a series kept, those taken at ``since`` or later."""
    return [
        Exemplar(
            filtered_attributes=None,
            value=value,
            time_unix_nano=taken,
            span_id=span_id or None,
            trace_id=trace_id or None,
        )
        for value, taken, trace_id, span_id in (k for k in found if k is not None)
        if taken >= since
    ]


def kept(series: object) -> Sequence[Kept | None]:
    """What a histogram or counter series kept (empty before its first exemplar)."""
    found: Sequence[Kept | None] | None = getattr(series, "exemplars", None)
    return found or ()


use_filter("trace_based")  # the SDK's default, until a configuration sets its own
