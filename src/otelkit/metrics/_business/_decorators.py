"""``@timed``, ``@counted`` and ``@track_inprogress``: metrics of the user's own functions.

Each validates its arguments and creates its instrument when it is applied (at import), then
records into it on every call; whatever ``init_telemetry()`` configures later exports it. A
call that raises is recorded with ``error.type`` and the exception propagates unchanged.

The one signature rule for computed attributes: ``attributes=`` is a mapping or a function
called with the decorated function's own arguments, before the call; ``attributes_from_result=``
(``timed``, ``counted``, ``traced``) a function called with the value the call returned, after
it, whose keys win. It is not called for a call that raised (that one carries ``error.type``)
nor around a ``with`` block (no result). ``track_inprogress`` has no result variant: its series
is chosen when the call starts.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

from otelkit._errors import ConfigError
from otelkit.metrics._business._attributes import CallAttributes, ResultAttributes
from otelkit.metrics._business._declared import Definition, call_site
from otelkit.metrics._business._instruments import (
    Attributes,
    ResultAttributesFn,
    check_attributes,
    check_description,
    check_name,
    check_result_function,
    check_unit,
    created,
    histogram_bounds,
    make_histogram,
    make_sum,
)
from otelkit.metrics._business._observer import CallObserver, ContextManagerMixin

__all__ = ["counted", "timed", "track_inprogress"]


class timed(ContextManagerMixin):  # noqa: N801 - used as a decorator, named like one
    """Record how long each call takes, in a histogram (seconds by default).

    ``@timed("orders.checkout", attributes={"channel": "web"})`` on a function, async function,
    generator or method; ``buckets=[...]`` for explicit boundaries; also ``with timed(...):``.
    The unit is a time unit (``s``, ``ms``, ``us``, ``ns``): the value is always a duration.
    A call that raises is recorded with ``error.type`` and the exception propagates unchanged.
    """

    def __init__(
        self,
        name: str,
        *,
        unit: str = "s",
        description: str = "",
        attributes: Attributes = None,
        attributes_from_result: ResultAttributesFn = None,
        buckets: list[float] | tuple[float, ...] | None = None,
    ) -> None:
        check_name(name, "timed")
        if unit not in _TIME_UNITS:
            raise ConfigError(
                f"timed({name!r}, unit={unit!r}) is not valid: timed records durations. "
                f"Accepted: {', '.join(map(repr, _TIME_UNITS))}; for sizes and other values "
                "use otelkit.record(), with buckets= and unit=."
            )
        definition = Definition(
            "histogram",
            unit,
            check_description(description, name, "timed"),
            histogram_bounds(unit, buckets, name, "timed"),
        )
        self._histogram = created(
            name,
            definition,
            "timed",
            call_site(1),
            lambda: make_histogram(name, unit, description, definition.buckets or (), "timed"),
            attributes=attributes,
            errors=True,
            open_attributes=attributes_from_result is not None,
        )
        self._attributes = CallAttributes(check_attributes(attributes, name, "timed"), "timed")
        self._from_result = _result_attributes(attributes_from_result, name, "timed")
        self._scale = _TIME_UNITS[unit]
        self._states = ContextVar(f"otelkit.timed.{name}")

    def begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return time.perf_counter(), self._attributes.resolve(args, kwargs)

    def end(self, state: Any, error: str | None, result: Any = None) -> None:
        started, (key, attributes) = state
        elapsed = (time.perf_counter() - started) * self._scale
        if error is not None:
            key, attributes = CallAttributes.with_error(key, attributes, error)
        elif self._from_result is not None:
            key, attributes = self._from_result.merge(key, attributes, result)
        self._histogram.record(key, attributes, elapsed)


_TIME_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


def _result_attributes(function: object, name: str, what: str) -> ResultAttributes | None:
    checked = check_result_function(function, name, what)
    return None if checked is None else ResultAttributes(checked, what)


class counted(CallObserver):  # noqa: N801
    """Count calls; calls that raise are counted with ``error.type``."""

    def __init__(
        self,
        name: str,
        *,
        unit: str = "{call}",
        description: str = "",
        attributes: Attributes = None,
        attributes_from_result: ResultAttributesFn = None,
    ) -> None:
        check_name(name, "counted")
        definition = Definition(
            "counter",
            check_unit(unit, name, "counted"),
            check_description(description, name, "counted"),
        )
        self._counter = created(
            name,
            definition,
            "counted",
            call_site(1),
            lambda: make_sum(name, unit, description, True, "counted"),
            attributes=attributes,
            errors=True,
            open_attributes=attributes_from_result is not None,
        )
        self._attributes = CallAttributes(check_attributes(attributes, name, "counted"), "counted")
        self._from_result = _result_attributes(attributes_from_result, name, "counted")

    def begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._attributes.resolve(args, kwargs)

    def end(self, state: Any, error: str | None, result: Any = None) -> None:
        key, attributes = state
        if error is not None:
            key, attributes = CallAttributes.with_error(key, attributes, error)
        elif self._from_result is not None:
            key, attributes = self._from_result.merge(key, attributes, result)
        self._counter.add(key, attributes, 1)


class track_inprogress(ContextManagerMixin):  # noqa: N801
    """How many calls are running right now (an up-down counter); also ``with``."""

    def __init__(
        self,
        name: str,
        *,
        unit: str = "{call}",
        description: str = "",
        attributes: Attributes = None,
    ) -> None:
        check_name(name, "track_inprogress")
        definition = Definition(
            "updowncounter",
            check_unit(unit, name, "track_inprogress"),
            check_description(description, name, "track_inprogress"),
        )
        self._counter = created(
            name,
            definition,
            "track_inprogress",
            call_site(1),
            lambda: make_sum(name, unit, description, False, "track_inprogress"),
            attributes=attributes,
        )
        self._attributes = CallAttributes(
            check_attributes(attributes, name, "track_inprogress"), "track_inprogress"
        )
        self._states = ContextVar(f"otelkit.inprogress.{name}")

    def begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        series = self._counter.series(*self._attributes.resolve(args, kwargs))
        series.add(1)
        return series

    def end(self, state: Any, error: str | None, result: Any = None) -> None:
        state.add(-1)
