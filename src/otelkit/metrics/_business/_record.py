"""``record()``: ad-hoc values into a histogram created on first use.

Unlike the decorators it never raises: a bad name, a name already used by another kind of
instrument or clashing with another in Prometheus, or a new name past the run-time cap, is
logged once, dropped and counted in ``otelkit.dropped``, since it is called in the middle of
the user's code rather than at import. Attributes come as keywords (``name`` and ``value``
included: those two parameters are positional-only) or, for keys that are no Python
identifiers or are called ``attributes``, as the keyword-only mapping ``attributes=``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from otelkit._errors import ConfigError, record_internal_error
from otelkit.metrics._business._attributes import clean
from otelkit.metrics._business._declared import declare
from otelkit.metrics._business._instruments import check_name, make_histogram
from otelkit.metrics._business._names import admit, release
from otelkit.metrics._fastpath import dropped

if TYPE_CHECKING:
    from otelkit.metrics._fastpath import FastHistogram

__all__ = ["record"]


def record(
    name: str, value: float, /, *, attributes: Mapping[str, Any] | None = None, **more: Any
) -> None:
    """Record ``value`` in the histogram ``name`` (created on first use; seconds buckets if the
    name ends in ``.duration``, else the SDK's defaults), with the keyword attributes and
    ``attributes=`` (a mapping, for keys that are no identifiers). Never raises: a bad name, a
    name already used by another kind of instrument or one that would clash with another in
    Prometheus, a new name past the run-time cap (``_names``), or ``attributes=`` that is no
    mapping, is dropped and counted; an attribute OpenTelemetry does not accept is dropped and
    counted."""
    try:
        given: object = attributes  # typed as a mapping; callers are not type-checked
        if given is not None and not isinstance(given, Mapping):
            dropped("metrics", "invalid_attribute")
            raise ConfigError(
                f"record({name!r}, attributes={given!r}) is not valid. Accepted: a mapping "
                "of attribute names to values."
            )
        histogram = _ad_hoc.get(name)
        if histogram is None:
            try:
                check_name(name, "record")
            except ConfigError:
                dropped("metrics", "invalid_name")
                raise
            if not admit(name, "record"):
                return
            unit = "s" if name.endswith(".duration") else ""
            try:
                made = make_histogram(name, unit, "", None, "record")
            except ConfigError:
                release(name)
                dropped("metrics", "name_collision")
                raise
            histogram = _ad_hoc.setdefault(name, made)
            declare(name, "histogram", unit, "Recorded with record().", open_attributes=True)
        if attributes is not None:
            more = {**attributes, **more} if more else dict(attributes)
        key, kept = clean(more)
        histogram.record(key, kept, value)
    except Exception as exc:
        record_internal_error("record", exc)


_ad_hoc: dict[str, FastHistogram] = {}
