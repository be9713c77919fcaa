"""``record()``: ad-hoc values into a histogram created on first use.

Unlike the decorators it never raises: a bad name, or a name already used by another kind of
instrument, is logged once and the value dropped, since it is called in the middle of the
user's code rather than at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otelkit._errors import record_internal_error
from otelkit.metrics._business._attributes import clean
from otelkit.metrics._business._instruments import check_name, make_histogram

if TYPE_CHECKING:
    from otelkit.metrics._fastpath import FastHistogram

__all__ = ["record"]


def record(name: str, value: float, **attributes: Any) -> None:
    """Record ``value`` in the histogram ``name`` (created on first use; seconds buckets if the
    name ends in ``.duration``, else the SDK's defaults). Never raises: a bad name or a name
    already used by another kind of instrument is logged once and the value dropped; an
    attribute OpenTelemetry does not accept is dropped and counted."""
    try:
        histogram = _ad_hoc.get(name)
        if histogram is None:
            check_name(name, "record")
            unit = "s" if name.endswith(".duration") else ""
            histogram = _ad_hoc.setdefault(name, make_histogram(name, unit, "", None, "record"))
        key, kept = clean(attributes)
        histogram.record(key, kept, value)
    except Exception as exc:
        record_internal_error("record", exc)


_ad_hoc: dict[str, FastHistogram] = {}
