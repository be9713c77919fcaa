"""``@timed``, ``@counted`` and ``@track_inprogress``: metrics of the user's own functions.

Each validates its arguments and creates its instrument when it is applied (at import), then
records into it on every call; whatever ``init_telemetry()`` configures later exports it. A
call that raises is recorded with ``error.type`` and the exception propagates unchanged.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

from otelkit.metrics._business._attributes import CallAttributes
from otelkit.metrics._business._declared import declare
from otelkit.metrics._business._instruments import (
    Attributes,
    check_attributes,
    check_name,
    make_histogram,
    make_sum,
)
from otelkit.metrics._business._observer import CallObserver, ContextManagerMixin

__all__ = ["counted", "timed", "track_inprogress"]


class timed(ContextManagerMixin):  # noqa: N801 - used as a decorator, named like one
    """Record how long each call takes, in a histogram (seconds by default).

    ``@timed("orders.checkout", attributes={"channel": "web"})`` on a function, async function,
    generator or method; ``buckets=[...]`` for explicit boundaries; also ``with timed(...):``.
    A call that raises is recorded with ``error.type`` and the exception propagates unchanged.
    """

    def __init__(
        self,
        name: str,
        *,
        unit: str = "s",
        description: str = "",
        attributes: Attributes = None,
        buckets: list[float] | tuple[float, ...] | None = None,
    ) -> None:
        check_name(name, "timed")
        self._histogram = make_histogram(name, unit, description, buckets, "timed")
        declare(name, "histogram", unit, description, attributes, errors=True)
        self._attributes = CallAttributes(check_attributes(attributes, name, "timed"), "timed")
        self._scale = _TIME_UNITS.get(unit, 1.0)
        self._states = ContextVar(f"otelkit.timed.{name}")

    def begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return time.perf_counter(), self._attributes.resolve(args, kwargs)

    def end(self, state: Any, error: str | None) -> None:
        started, (key, attributes) = state
        elapsed = (time.perf_counter() - started) * self._scale
        if error is not None:
            key, attributes = CallAttributes.with_error(key, attributes, error)
        self._histogram.record(key, attributes, elapsed)


_TIME_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


class counted(CallObserver):  # noqa: N801
    """Count calls; calls that raise are counted with ``error.type``."""

    def __init__(
        self,
        name: str,
        *,
        unit: str = "{call}",
        description: str = "",
        attributes: Attributes = None,
    ) -> None:
        check_name(name, "counted")
        self._counter = make_sum(name, unit, description, True, "counted")
        declare(name, "counter", unit, description, attributes, errors=True)
        self._attributes = CallAttributes(check_attributes(attributes, name, "counted"), "counted")

    def begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._attributes.resolve(args, kwargs)

    def end(self, state: Any, error: str | None) -> None:
        key, attributes = state
        key, attributes = CallAttributes.with_error(key, attributes, error)
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
        self._counter = make_sum(name, unit, description, False, "track_inprogress")
        declare(name, "updowncounter", unit, description, attributes)
        self._attributes = CallAttributes(
            check_attributes(attributes, name, "track_inprogress"), "track_inprogress"
        )
        self._states = ContextVar(f"otelkit.inprogress.{name}")

    def begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        series = self._counter.series(*self._attributes.resolve(args, kwargs))
        series.add(1)
        return series

    def end(self, state: Any, error: str | None) -> None:
        state.add(-1)
