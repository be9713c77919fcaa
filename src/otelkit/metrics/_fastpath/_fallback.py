"""The fast instruments without the reader seam: every measurement goes to an SDK instrument.

When ``_sdk_compat`` finds that the SDK changed the private reader API the fast path feeds
(``metrics.collect_callback``, ``metrics.reader_temporality``), each fast instrument is bound to
an ordinary SDK instrument of the same name, unit, description, scope and buckets, and its
series forward ``record``/``add`` to it. Slower (the SDK's per-measurement pipeline), but the
numbers are the SDK's own: exact, in every reader's temporality, views applied.

These series subclass the fast ones, so code holding a series keeps working whichever mode
created it; their own cells stay at zero and are never collected or shared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otelkit.metrics._fastpath._series import _HistogramSeries, _SumSeries

if TYPE_CHECKING:
    from opentelemetry.util.types import Attributes


class ForwardingHistogramSeries(_HistogramSeries):
    """A histogram series whose measurements go to an SDK ``Histogram``."""

    __slots__ = ("sink",)

    def __init__(self, attributes: Attributes, bounds: tuple[float, ...], sink: Any) -> None:
        super().__init__(attributes, bounds, 0)
        self.sink = sink

    def record(self, value: float) -> None:
        self.sink.record(value, self.attributes)

    def add_slot(self) -> None:
        pass  # the SDK keeps the per-reader intervals


class ForwardingSumSeries(_SumSeries):
    """A counter or up-down counter series whose additions go to an SDK instrument."""

    __slots__ = ("sink",)

    def __init__(self, attributes: Attributes, sink: Any) -> None:
        super().__init__(attributes)
        self.sink = sink

    def add(self, amount: float) -> None:
        self.sink.add(amount, self.attributes)


def forwards(series: object) -> bool:
    """Whether a series records through the SDK (its cells are not the truth)."""
    return isinstance(series, ForwardingHistogramSeries | ForwardingSumSeries)
