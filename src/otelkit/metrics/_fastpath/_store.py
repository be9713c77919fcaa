"""Where series keep their values when processes share them, and what happens when it fails.

A pre-fork server's processes keep their series in a shared file (``_multiprocess``); a failed
allocation (a full disk) leaves the series in memory. That failure is counted only once no
instrument lock is held: the count goes into ``otelkit.internal.errors``, itself an instrument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from otelkit._errors import record_internal_error

if TYPE_CHECKING:
    from collections.abc import MutableSequence

    from opentelemetry.util.types import Attributes

    from otelkit.metrics._fastpath._instruments import _Instrument

__all__ = ["Store", "allocated", "report"]


class Store(Protocol):
    """Where series keep their values when processes share them (``_multiprocess``)."""

    exponential: bool
    """Whether histogram series keep their exponential buckets there too (native histograms)."""

    def allocate(
        self, instrument: _Instrument, attributes: Attributes, size: int
    ) -> MutableSequence[float]:
        """Zeroed storage for ``size`` numbers of one series of ``instrument``."""
        ...


def allocated(store: Store, instrument: _Instrument, series: Any) -> Exception | None:
    """Move ``series``' values into cells of ``store`` (``series.attach``); if that fails (a
    full disk), the series keeps them where they are: left out of the other processes'
    scrapes, but no measurement is lost or raises.

    The failure is returned, not counted: callers hold the instrument's lock, and counting it
    records into ``otelkit.internal.errors``, which may be this very instrument
    (``report`` once the lock is released)."""
    try:
        size = series.shared_size(store.exponential)
        cells = store.allocate(instrument, series.attributes, size)
    except Exception as exc:
        return exc
    series.attach(cells)
    return None


def report(failure: Exception | None) -> None:
    """Count a store failure ``allocated`` returned (call with no instrument lock held)."""
    if failure is not None:
        record_internal_error("multi-process store", failure)
