"""``record()`` and ``count()``: ad-hoc values into a histogram or a counter created on first use.

The definition a call writes (``buckets=``, ``unit=``, ``description=``) is checked at its first
call and raises ``ConfigError`` if it is bad or contradicts another declaration of the name;
everything else never raises (``_adhoc`` says which is which). Attributes come as keywords
(``name``, ``value`` and ``amount`` included: those parameters are positional-only) or, for keys
that are no Python identifiers or are called ``attributes``, ``buckets``, ``unit`` or
``description``, as the keyword-only mapping ``attributes=``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from otelkit._errors import ConfigError, record_internal_error
from otelkit.metrics._business._adhoc import AdHoc, matches
from otelkit.metrics._business._attributes import clean
from otelkit.metrics._business._declared import Definition
from otelkit.metrics._business._instruments import (
    check_description,
    check_unit,
    histogram_bounds,
    make_histogram,
    make_sum,
)
from otelkit.metrics._fastpath import dropped

__all__ = ["attributes_of", "count", "record"]

_INF = float("inf")


def record(
    name: str,
    value: float,
    /,
    *,
    buckets: Sequence[float] | None = None,
    unit: str | None = None,
    description: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    **more: Any,
) -> None:
    """Record ``value`` in the histogram ``name``, created on first use.

    ``buckets``: explicit boundaries (default: the semantic-convention duration buckets when
    the unit is ``s``, else the SDK's); ``unit`` (default ``s`` if the name ends in
    ``.duration``, else none); ``description``. Every call that names ``name`` must give the
    same definition (defaults count as given). The keyword attributes and ``attributes=`` (a
    mapping, for keys that are no identifiers) are the value's attributes. A bad or
    contradicting definition raises ``ConfigError`` at its first call; nothing else raises.
    """
    known = _known_histograms.get(name)
    if known is not None and matches(known, buckets, unit, description):
        histogram = known.instrument
    else:
        histogram = _histograms.declare(name, buckets, unit, description, 1)
        if histogram is None:
            return
    try:
        if attributes is None:
            key, kept = clean(more)
        else:
            key, kept = attributes_of(name, "record", attributes, more)
        histogram.record(key, kept, value)
    except Exception as exc:
        record_internal_error("record", exc)


def count(
    name: str,
    amount: float = 1,
    /,
    *,
    unit: str | None = None,
    description: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    **more: Any,
) -> None:
    """Add ``amount`` (default 1) to the counter ``name``, created on first use.

    ``unit`` (default none) and ``description`` as for ``record()``. A counter only goes up: a
    negative, infinite or NaN amount is dropped and counted in ``otelkit.dropped``
    (``reason="invalid_value"``), never raised.
    """
    known = _known_counters.get(name)
    if known is not None and unit == known.unit and description == known.description:
        counter = known.instrument
    else:
        counter = _counters.declare(name, None, unit, description, 1)
        if counter is None:
            return
    try:
        if not 0 <= amount < _INF:
            dropped("metrics", "invalid_value")
            return
        if attributes is None:
            key, kept = clean(more)
        else:
            key, kept = attributes_of(name, "count", attributes, more)
        counter.add(key, kept, amount)
    except Exception as exc:
        record_internal_error("count", exc)


def attributes_of(
    name: str, what: str, attributes: object, more: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The series key and attributes of one call: ``attributes=`` merged under the keywords."""
    if attributes is None:
        return clean(more)
    if not isinstance(attributes, Mapping):
        dropped("metrics", "invalid_attribute")
        raise ConfigError(
            f"{what}({name!r}, attributes={attributes!r}) is not valid. Accepted: a mapping "
            "of attribute names to values."
        )
    return clean({**attributes, **more} if more else dict(attributes))


def _histogram_definition(name: str, buckets: Any, unit: Any, description: Any) -> Definition:
    unit = ("s" if name.endswith(".duration") else "") if unit is None else unit
    unit = check_unit(unit, name, "record")
    return Definition(
        "histogram",
        unit,
        check_description("" if description is None else description, name, "record"),
        histogram_bounds(unit, buckets, name, "record"),
    )


def _counter_definition(name: str, buckets: Any, unit: Any, description: Any) -> Definition:
    return Definition(
        "counter",
        check_unit("" if unit is None else unit, name, "count"),
        check_description("" if description is None else description, name, "count"),
    )


_histograms = AdHoc(
    "record",
    _histogram_definition,
    lambda name, d: make_histogram(name, d.unit, d.description, d.buckets or (), "record"),
    "Recorded with record().",
)
_counters = AdHoc(
    "count",
    _counter_definition,
    lambda name, d: make_sum(name, d.unit, d.description, True, "count"),
    "Counted with count().",
)
_known_histograms = _histograms.known
_known_counters = _counters.known
