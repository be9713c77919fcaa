"""The ad-hoc business API: ``record()`` with its own buckets, ``count()``, ``set_gauge()``,
attributes from a decorated call's result, and one definition per metric name."""

from __future__ import annotations

import inspect
import itertools
import os
import re
from typing import TYPE_CHECKING, Any

import pytest

import otelkit
from otelkit import ConfigError, testing
from otelkit.ops.catalog import everything

if TYPE_CHECKING:
    from collections.abc import Iterator

_serial = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}.n{next(_serial)}"


def here() -> str:
    """``file:line`` of the caller's line."""
    frame = inspect.currentframe()
    assert frame is not None
    assert frame.f_back is not None
    return f"{frame.f_back.f_code.co_filename}:{frame.f_back.f_lineno}"


@pytest.fixture(autouse=True)
def _no_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")) and name != "OTELKIT_REQUIRE_SERVERS":
            monkeypatch.delenv(name)


@pytest.fixture
def telemetry() -> Iterator[otelkit.Telemetry]:
    handle = otelkit.init_telemetry("shop", exporters="memory", instrument="none")
    yield handle
    handle.shutdown()


def dropped(telemetry: otelkit.Telemetry, reason: str) -> int:
    """What ``otelkit.dropped`` counted for ``reason``, whichever key names the reason."""
    return sum(
        p.value
        for p in testing.points(telemetry, "otelkit.dropped")
        if reason in (p.attributes.get("reason"), p.attributes.get("error.type"))
    )


def metric(telemetry: otelkit.Telemetry, name: str) -> Any:
    data = testing.metrics(telemetry)
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for found in scope.metrics:
                if found.name == name:
                    return found
    raise AssertionError(f"{name} was not exported")


# -- record() ------------------------------------------------------------------------------


def test_record_takes_explicit_buckets_so_scores_in_0_1_get_a_useful_median(
    telemetry: otelkit.Telemetry,
) -> None:
    name = unique("model.score")
    for score in (0.1, 0.3, 0.35, 0.8):
        otelkit.record(name, score, buckets=[0.25, 0.5, 0.75, 1.0], model="v2")

    (point,) = testing.points(telemetry, name)
    assert list(point.explicit_bounds) == [0.25, 0.5, 0.75, 1.0]
    assert list(point.bucket_counts) == [1, 2, 0, 1, 0]
    assert dict(point.attributes) == {"model": "v2"}


def test_record_exports_the_unit_and_description_it_was_given(
    telemetry: otelkit.Telemetry,
) -> None:
    name = unique("payments.amount")
    otelkit.record(name, 12.5, unit="{EUR}", description="Amount of each payment.")

    exported = metric(telemetry, name)
    assert (exported.unit, exported.description) == ("{EUR}", "Amount of each payment.")
    spec = everything().get(name)
    assert spec is not None
    assert (spec.instrument, spec.unit, spec.description) == (
        "histogram",
        "{EUR}",
        "Amount of each payment.",
    )


@pytest.mark.parametrize(
    ("buckets", "reason"),
    [
        ([0.5, 0.25], "not strictly increasing"),
        ([0.5, 0.5], "not strictly increasing"),
        ([], "is empty"),
        ([0.1, float("nan")], "not a finite number"),
        ([0.1, float("inf")], "not a finite number"),
        ([-1, 1], "negative"),
        (["low", "high"], "not a number"),
    ],
)
def test_bad_buckets_raise_at_the_first_call_and_only_there(
    telemetry: otelkit.Telemetry, buckets: list[Any], reason: str
) -> None:
    name = unique("model.score")

    with pytest.raises(ConfigError, match=rf"record\('{name}', buckets=.*{reason}"):
        otelkit.record(name, 0.5, buckets=buckets)
    before = dropped(telemetry, "invalid_definition")
    otelkit.record(name, 0.5, buckets=buckets)  # the same line again: dropped, never raised

    assert dropped(telemetry, "invalid_definition") == before + 1
    assert testing.points(telemetry, name) == []


def test_one_definition_written_as_a_list_or_a_tuple_is_one_definition(
    telemetry: otelkit.Telemetry,
) -> None:
    name = unique("model.score")
    otelkit.record(name, 0.2, buckets=[0.5, 1])
    otelkit.record(name, 0.7, buckets=(0.5, 1.0))
    otelkit.record(name, 0.9, buckets=[0.5, 1], unit="", description="")

    (point,) = testing.points(telemetry, name)
    assert point.count == 3


def test_another_definition_of_a_name_is_refused_naming_both_lines(
    telemetry: otelkit.Telemetry,
) -> None:
    name = unique("model.score")
    path, line = here().rsplit(":", 1)
    otelkit.record(name, 0.2, buckets=[0.5, 1])  # the line after ``here()``

    with pytest.raises(ConfigError) as refused:
        otelkit.record(name, 0.2, buckets=[0.1, 1])  # four lines after it

    message = str(refused.value)
    assert f"at {path}:{int(line) + 4} is refused" in message
    assert f"already declared at {path}:{int(line) + 1} as a histogram" in message
    assert "buckets (0.1, 1.0) instead of (0.5, 1.0)" in message
    otelkit.record(name, 0.3, buckets=[0.5, 1])  # the accepted definition still records
    assert testing.points(telemetry, name)[0].count == 2


@pytest.mark.parametrize(
    ("declare_first", "then", "difference"),
    [
        (lambda n: otelkit.timed(n), lambda n: otelkit.timed(n, unit="ms"), "unit 'ms'"),
        (
            lambda n: otelkit.counted(n, description="Orders."),
            lambda n: otelkit.counted(n, description="Orders placed."),
            "description 'Orders placed.'",
        ),
        (
            lambda n: otelkit.timed(n, buckets=[1, 2]),
            lambda n: otelkit.timed(n, buckets=[1, 3]),
            "buckets (1.0, 3.0)",
        ),
        (lambda n: otelkit.counted(n), lambda n: otelkit.track_inprogress(n), "instrument"),
        (lambda n: otelkit.count(n, unit="{order}"), lambda n: otelkit.count(n), "unit ''"),
        (lambda n: otelkit.set_gauge(n, 1), lambda n: otelkit.count(n), "instrument 'counter'"),
        (lambda n: otelkit.gauge(n, lambda: 1), lambda n: otelkit.set_gauge(n, 1), "'gauge'"),
    ],
)
def test_units_descriptions_buckets_and_kinds_are_all_compared(
    telemetry: otelkit.Telemetry, declare_first: Any, then: Any, difference: str
) -> None:
    name = unique("orders.placed")
    declare_first(name)

    with pytest.raises(ConfigError, match=f"already declared at .*{re.escape(difference)}"):
        then(name)


def test_the_same_definition_in_two_places_is_one_metric(telemetry: otelkit.Telemetry) -> None:
    name = unique("orders.placed")

    @otelkit.counted(name, attributes={"channel": "web"})
    def web() -> None: ...

    @otelkit.counted(name, attributes={"channel": "app"})
    def app() -> None: ...

    web()
    app()
    otelkit.count(name, unit="{call}", channel="phone")
    assert sorted(p.attributes["channel"] for p in testing.points(telemetry, name)) == [
        "app",
        "phone",
        "web",
    ]


def test_a_name_built_from_data_is_never_raised(telemetry: otelkit.Telemetry) -> None:
    """A name's text may come from data: invalid or clashing, it is dropped and counted."""
    base = unique("orders.amount")
    otelkit.record(base, 1.0)
    invalid, clashes = dropped(telemetry, "invalid_name"), dropped(telemetry, "name_collision")

    otelkit.record(f"9{base}", 1.0)  # no valid instrument name
    otelkit.record(base.replace(".", "_"), 2.0)  # exposed to Prometheus like ``base``

    assert dropped(telemetry, "invalid_name") == invalid + 1
    assert dropped(telemetry, "name_collision") == clashes + 1


# -- count() --------------------------------------------------------------------------------


def test_count_adds_to_a_counter_without_declaring_it(telemetry: otelkit.Telemetry) -> None:
    name = unique("ai.cost")
    otelkit.count(name, 0.25, unit="{USD}", model="large")
    otelkit.count(name, 0.5, unit="{USD}", model="large")
    otelkit.count(unique("items.processed"))

    (point,) = testing.points(telemetry, name)
    assert point.value == 0.75
    assert metric(telemetry, name).data.is_monotonic


@pytest.mark.parametrize("amount", [-1, -0.5, float("nan"), float("inf")])
def test_count_drops_what_a_counter_cannot_take(
    telemetry: otelkit.Telemetry, amount: float
) -> None:
    name = unique("items.processed")
    otelkit.count(name, 2)
    before = dropped(telemetry, "invalid_value")

    otelkit.count(name, amount)  # never raises

    assert dropped(telemetry, "invalid_value") == before + 1
    assert testing.points(telemetry, name)[0].value == 2


# -- set_gauge() ----------------------------------------------------------------------------


def test_set_gauge_reports_the_last_value_of_each_series(telemetry: otelkit.Telemetry) -> None:
    name = unique("orders.backlog")
    otelkit.set_gauge(name, 10, queue="high", unit="{order}")
    otelkit.set_gauge(name, 4, queue="high", unit="{order}")
    otelkit.set_gauge(name, 7.5, queue="low", unit="{order}")

    values = {p.attributes["queue"]: p.value for p in testing.points(telemetry, name)}
    assert values == {"high": 4, "low": 7.5}
    assert metric(telemetry, name).unit == "{order}"
    spec = everything().get(name)
    assert spec is not None
    assert spec.instrument == "gauge"


def test_a_gauge_set_before_init_is_exported_once_it_runs() -> None:
    name = unique("cache.entries")
    otelkit.set_gauge(name, 42)
    handle = otelkit.init_telemetry("shop", exporters="memory", instrument="none")
    try:
        assert [p.value for p in testing.points(handle, name)] == [42]
    finally:
        handle.shutdown()


@pytest.mark.parametrize("value", ["12", None, object(), True, [1]])
def test_set_gauge_drops_a_value_that_is_no_number(
    telemetry: otelkit.Telemetry, value: Any
) -> None:
    name = unique("cache.entries")
    otelkit.set_gauge(name, 1)
    before = dropped(telemetry, "invalid_value")

    otelkit.set_gauge(name, value)

    assert dropped(telemetry, "invalid_value") == before + 1
    assert [p.value for p in testing.points(telemetry, name)] == [1]


# -- attributes from the result -------------------------------------------------------------


class Prediction:
    def __init__(self, tier: str) -> None:
        self.tier = tier


def test_counted_takes_attributes_from_the_result(telemetry: otelkit.Telemetry) -> None:
    name = unique("predictions")

    @otelkit.counted(
        name,
        attributes=lambda model, text: {"model": model},
        attributes_from_result=lambda result: {"tier": result.tier},
    )
    def predict(model: str, text: str) -> Prediction:
        if not text:
            raise ValueError("nothing to predict")
        return Prediction("gold" if len(text) > 3 else "free")

    predict("v2", "long text")
    predict("v2", "hi")
    with pytest.raises(ValueError, match="nothing to predict"):
        predict("v2", "")

    series = {tuple(sorted(p.attributes.items())): p.value for p in testing.points(telemetry, name)}
    assert series == {
        (("model", "v2"), ("tier", "gold")): 1,
        (("model", "v2"), ("tier", "free")): 1,
        (("error.type", "ValueError"), ("model", "v2")): 1,  # no result: no result attributes
    }


def test_timed_and_traced_take_attributes_from_an_async_result(
    telemetry: otelkit.Telemetry,
) -> None:
    import asyncio

    name = unique("verification.duration")

    @otelkit.traced("verify", attributes_from_result=lambda ok: {"verified": ok})
    @otelkit.timed(name, attributes_from_result=lambda ok: {"status": "ok" if ok else "rejected"})
    async def verify(document: str) -> bool:
        return document == "signed"

    asyncio.run(verify("signed"))
    asyncio.run(verify("forged"))

    statuses = sorted(p.attributes["status"] for p in testing.points(telemetry, name))
    assert statuses == ["ok", "rejected"]


def test_a_result_function_that_fails_never_breaks_the_call(
    telemetry: otelkit.Telemetry,
) -> None:
    from otelkit import _errors

    name = unique("predictions")
    before = _errors.internal_error_count("counted")

    class BrokenResultFunction(Exception):
        """Its own kind: each kind of error is logged once per process and component."""

    def tier_of(result: object) -> dict[str, str]:
        raise BrokenResultFunction(result)

    @otelkit.counted(name, attributes={"model": "v2"}, attributes_from_result=tier_of)
    def predict() -> None:
        return None

    assert predict() is None
    (point,) = testing.points(telemetry, name)
    assert (dict(point.attributes), point.value) == ({"model": "v2"}, 1)
    assert _errors.internal_error_count("counted") == before + 1
