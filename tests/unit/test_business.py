"""Business metrics on the user's own functions, recorded into whatever init_telemetry() set up."""

from __future__ import annotations

import asyncio
import inspect
from typing import TYPE_CHECKING, Any

import pytest

import otelkit
from otelkit import ConfigError, testing

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

# Decorated at import time, before any init_telemetry(): they must record once it runs.


@otelkit.timed("shop.checkout.duration", attributes={"channel": "web"})
def checkout(cart: list[int]) -> int:
    """Total of a cart."""
    if not cart:
        raise ValueError("empty cart")
    return sum(cart)


@otelkit.counted("shop.orders", attributes=lambda order: {"shop.tier": order["tier"]})
async def place(order: dict[str, str]) -> str:
    await asyncio.sleep(0)
    return order["tier"]


@otelkit.timed("shop.batch.duration", unit="ms", buckets=[1, 10, 100])
def batches() -> Iterator[int]:
    yield from (1, 2, 3)


@otelkit.counted("shop.events")
async def events() -> AsyncIterator[int]:
    for value in (1, 2):
        yield value


class Warehouse:
    @otelkit.track_inprogress("shop.picking.active")
    def pick(self, probe: Any) -> str:
        return str(probe())


@pytest.fixture
def telemetry() -> Iterator[otelkit.Telemetry]:
    handle = otelkit.init_telemetry("business", exporters="memory", instrument="none")
    yield handle
    handle.shutdown()


def by_attributes(telemetry: otelkit.Telemetry, name: str) -> dict[tuple, Any]:
    return {tuple(sorted(p.attributes.items())): p for p in testing.points(telemetry, name)}


def test_decorators_applied_before_init_record_into_the_later_configuration(
    telemetry: otelkit.Telemetry,
) -> None:
    assert checkout([1, 2]) == 3
    assert checkout([5]) == 5
    (point,) = testing.points(telemetry, "shop.checkout.duration")
    assert point.count == 2
    assert dict(point.attributes) == {"channel": "web"}
    assert list(point.explicit_bounds)[:2] == [0.005, 0.01]  # semconv buckets for unit s


def test_exceptions_propagate_unchanged_and_carry_error_type(
    telemetry: otelkit.Telemetry,
) -> None:
    with pytest.raises(ValueError, match="empty cart"):
        checkout([])
    (point,) = testing.points(telemetry, "shop.checkout.duration")
    assert point.attributes == {"channel": "web", "error.type": "ValueError"}


def test_attributes_computed_from_the_arguments(telemetry: otelkit.Telemetry) -> None:
    for tier in ("gold", "gold", "free"):
        asyncio.run(place({"tier": tier}))
    points = by_attributes(telemetry, "shop.orders")
    assert points[(("shop.tier", "gold"),)].value == 2
    assert points[(("shop.tier", "free"),)].value == 1


def test_a_failing_attribute_function_never_breaks_the_call(
    telemetry: otelkit.Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    from otelkit import _errors

    _errors.raise_internal_errors(False)
    try:
        bad = otelkit.counted("shop.bad", attributes=lambda order: {"t": order.missing})

        @bad
        def handle(order: dict[str, str]) -> str:
            return "handled"

        assert handle({}) == "handled"
        assert handle({}) == "handled"
    finally:
        _errors.raise_internal_errors(True)
    (point,) = testing.points(telemetry, "shop.bad")
    assert point.value == 2
    assert sum("AttributeError" in r.getMessage() for r in caplog.records) == 1  # logged once


def test_generators_are_measured_over_the_whole_iteration(telemetry: otelkit.Telemetry) -> None:
    assert list(batches()) == [1, 2, 3]
    assert asyncio.run(_collect(events())) == [1, 2]
    (duration,) = testing.points(telemetry, "shop.batch.duration")
    assert list(duration.explicit_bounds) == [1.0, 10.0, 100.0]
    assert duration.count == 1
    assert testing.points(telemetry, "shop.events")[0].value == 1


async def _collect(items: AsyncIterator[int]) -> list[int]:
    return [item async for item in items]


def test_track_inprogress_counts_calls_running_now(telemetry: otelkit.Telemetry) -> None:
    def probe() -> float:
        return sum(p.value for p in testing.points(telemetry, "shop.picking.active"))

    assert Warehouse().pick(probe) == "1"
    assert probe() == 0


def test_wraps_keeps_name_doc_and_signature() -> None:
    assert checkout.__name__ == "checkout"
    assert checkout.__doc__ == "Total of a cart."
    assert str(inspect.signature(checkout)) == "(cart: 'list[int]') -> 'int'"
    assert inspect.iscoroutinefunction(place)
    assert inspect.isgeneratorfunction(batches)
    assert inspect.isasyncgenfunction(events)


def test_timed_is_also_a_context_manager(telemetry: otelkit.Telemetry) -> None:
    block = otelkit.timed("shop.block.duration")
    with block:
        pass
    with pytest.raises(KeyError), block:
        raise KeyError("k")
    points = by_attributes(telemetry, "shop.block.duration")
    assert points[()].count == 1
    assert points[(("error.type", "KeyError"),)].count == 1


def test_traced_spans_nest_and_record_errors(telemetry: otelkit.Telemetry) -> None:
    @otelkit.traced()
    def inner() -> None:
        raise RuntimeError("x")

    @otelkit.traced("outer work", attributes={"job": "nightly"})
    def outer() -> None:
        with pytest.raises(RuntimeError):
            inner()

    outer()
    spans = {s.name: s for s in testing.spans(telemetry)}
    inner_span = spans[f"{__name__}.test_traced_spans_nest_and_record_errors.<locals>.inner"]
    assert inner_span.parent.span_id == spans["outer work"].context.span_id
    assert inner_span.attributes["error.type"] == "RuntimeError"
    assert spans["outer work"].attributes["job"] == "nightly"


def test_record_and_gauge_ad_hoc(telemetry: otelkit.Telemetry) -> None:
    otelkit.record("shop.payment.amount", 12.5, currency="EUR")
    otelkit.record("shop.payment.amount", 7.5, currency="EUR")
    otelkit.gauge("shop.queue.depth", lambda: {(("queue", "high"),): 3, (("queue", "low"),): 9})
    (amount,) = testing.points(telemetry, "shop.payment.amount")
    assert (amount.count, amount.sum) == (2, 20.0)
    depth = by_attributes(telemetry, "shop.queue.depth")
    assert depth[(("queue", "high"),)].value == 3


def test_a_name_reused_for_another_instrument_type_is_refused(telemetry: otelkit.Telemetry) -> None:
    """At decoration a ConfigError naming both places; record() raises at its first call only."""
    declared_here = r"already declared at .*test_business\.py:\d+ as a histogram"
    with pytest.raises(ConfigError, match=declared_here):
        otelkit.counted("shop.checkout.duration")

    with pytest.raises(ConfigError, match="instrument 'histogram' instead of 'counter'"):
        otelkit.record("shop.orders", 1.0)  # a counter already has this name
    otelkit.record("shop.orders", 1.0)  # the same refused definition again: dropped, no exception

    assert testing.points(telemetry, "shop.orders") == []


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: otelkit.timed("9lives"), "not a valid instrument name"),
        (lambda: otelkit.timed("a b"), "not a valid instrument name"),
        (lambda: otelkit.timed("x.y", buckets=[3, 1]), "strictly increasing"),
        (lambda: otelkit.timed("x.z", buckets=[-1, 1]), "negative"),
        (lambda: otelkit.timed("x.v", unit="{item}"), "timed records durations"),
        (lambda: otelkit.counted("x.u", unit="é"), "printable ASCII"),
        (lambda: otelkit.counted("x.t", description=3), "description=3"),
        (lambda: otelkit.timed("x.s", attributes_from_result="tier"), "attributes_from_result"),
        (lambda: otelkit.counted("x.w", attributes=["tier"]), "a mapping, or a function"),
    ],
)
def test_bad_decorator_arguments_fail_at_decoration(factory: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        factory()
