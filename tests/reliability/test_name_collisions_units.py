"""Two instruments are refused as a Prometheus name collision exactly when the exposition
would write a name of theirs twice.

The oracle is the real exposition: each instrument is rendered alone (one data point) and the
family names (``# TYPE``) and sample names it writes are read off the page. Units and
``_total`` count as they do there: ``@timed("orders.checkout")`` is
``orders_checkout_seconds_*`` and ``@counted("orders.checkout.count")`` is
``orders_checkout_count_total``, so both may exist.
"""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

import otelkit
from otelkit.exporters.prometheus import _exposition
from otelkit.metrics._fastpath import REGISTRY, NameCollision, Registry

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter

SCOPE = InstrumentationScope("tests.names")
KINDS = ("histogram", "counter", "up_down_counter", "gauge")
UNITS = ("", "s", "ms", "By", "1", "{call}", "seconds", "count", "total", "m/s")
WORDS = st.sampled_from(["orders", "checkout", "count", "total", "seconds", "sum", "bucket"])
NAMES = st.builds(
    lambda first, rest: first + "".join(separator + word for separator, word in rest),
    WORDS,
    st.lists(st.tuples(st.sampled_from(".-_/"), WORDS), max_size=2),
)
INSTRUMENTS = st.tuples(NAMES, st.sampled_from(UNITS), st.sampled_from(KINDS))
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]")
_serial = itertools.count()


def _data(name: str, unit: str, kind: str) -> object:
    point = NumberDataPoint(
        attributes={}, start_time_unix_nano=0, time_unix_nano=1, value=1, exemplars=[]
    )
    if kind == "histogram":
        return Histogram(
            data_points=[
                HistogramDataPoint(
                    attributes={},
                    start_time_unix_nano=0,
                    time_unix_nano=1,
                    count=1,
                    sum=1.0,
                    bucket_counts=[1, 0],
                    explicit_bounds=[1.0],
                    min=1.0,
                    max=1.0,
                    exemplars=[],
                )
            ],
            aggregation_temporality=AggregationTemporality.CUMULATIVE,
        )
    if kind == "gauge":
        return Gauge(data_points=[point])
    return Sum(
        data_points=[point],
        aggregation_temporality=AggregationTemporality.CUMULATIVE,
        is_monotonic=kind == "counter",
    )


def exposed_names(name: str, unit: str, kind: str) -> set[str]:
    """Every family and sample name the exposition writes for this instrument alone."""
    metric = Metric(name=name, description="", unit=unit, data=_data(name, unit, kind))  # type: ignore[arg-type]
    data = MetricsData(
        resource_metrics=[
            ResourceMetrics(
                resource=Resource({}),
                scope_metrics=[ScopeMetrics(scope=SCOPE, metrics=[metric], schema_url="")],
                schema_url="",
            )
        ]
    )
    page = _exposition.render(data, Resource({})).decode()
    names = set()
    for line in page.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif (match := _SAMPLE.match(line)) is not None:
            names.add(match.group(1))
    return names - {"target_info"}


def _create(registry: Registry, name: str, unit: str, kind: str) -> None:
    if kind == "histogram":
        registry.histogram(name, unit=unit, description="", scope=SCOPE, boundaries=(1.0,))
    elif kind == "gauge":
        registry.claim(name, "gauge", unit)
    else:
        monotonic = kind == "counter"
        registry.sum(name, unit=unit, description="", scope=SCOPE, monotonic=monotonic)


@settings(max_examples=300, deadline=None)
@given(first=INSTRUMENTS, second=INSTRUMENTS)
def test_refused_exactly_when_the_exposition_would_write_a_name_twice(
    first: tuple[str, str, str], second: tuple[str, str, str]
) -> None:
    if first[0] == second[0]:
        return  # one name, two definitions: refused for that, whatever Prometheus makes of it
    registry = Registry()
    _create(registry, *first)

    clash = exposed_names(*first) & exposed_names(*second)
    if clash:
        with pytest.raises(NameCollision):
            _create(registry, *second)
    else:
        _create(registry, *second)


def test_a_timed_name_and_a_counted_name_that_only_share_a_stem_coexist() -> None:
    base = f"orders{next(_serial)}.checkout"

    otelkit.timed(base)
    otelkit.counted(f"{base}.count")  # orders…_checkout_count_total: no clash

    assert exposed_names(base, "s", "histogram").isdisjoint(
        exposed_names(f"{base}.count", "{call}", "counter")
    )


def test_names_that_meet_once_the_unit_is_appended_are_refused() -> None:
    base = f"latency{next(_serial)}"
    otelkit.timed(base)  # latency…_seconds_bucket, _sum, _count

    with pytest.raises(otelkit.ConfigError, match=re.escape(repr(base))):
        otelkit.timed(f"{base}_seconds")


_handle: list[otelkit.Telemetry] = []


def _meter() -> Meter:
    """The handle's SDK meter (one configuration for the module: the claims are process-wide)."""
    if not _handle:
        _handle.append(otelkit.init_telemetry(service_name="names", metrics_exporters="memory"))
    return _handle[0].meter


def _through_meter(name: str, unit: str, kind: str) -> None:
    meter = _meter()
    create = {
        "histogram": meter.create_histogram,
        "counter": meter.create_counter,
        "up_down_counter": meter.create_up_down_counter,
        "gauge": meter.create_gauge,
    }[kind]
    create(name, unit=unit)


def _through_registry(name: str, unit: str, kind: str) -> None:
    """As the business API declares an instrument: in the process's registry."""
    _create(REGISTRY, name, unit, kind)


@settings(max_examples=150, deadline=None)
@given(first=INSTRUMENTS, second=INSTRUMENTS, meter_first=st.booleans())
def test_the_handles_meter_is_refused_a_colliding_name_like_the_business_api(
    first: tuple[str, str, str], second: tuple[str, str, str], meter_first: bool
) -> None:
    prefix = f"meter{next(_serial)}_"  # the claims outlive each example
    first, second = (prefix + first[0], *first[1:]), (prefix + second[0], *second[1:])
    if first[0] == second[0]:
        return
    declare_first, declare_second = (
        (_through_meter, _through_registry) if meter_first else (_through_registry, _through_meter)
    )
    declare_first(*first)

    if exposed_names(*first) & exposed_names(*second):
        with pytest.raises(ValueError, match=re.escape(repr(first[0]))):
            declare_second(*second)
    else:
        declare_second(*second)


def _zero() -> float:
    return 0.0


@pytest.mark.parametrize(
    ("meter_side", "business_side"),
    [
        (("counter", "orders.placed"), ("counted", "orders_placed")),
        (("histogram", "req"), ("gauge", "req_count")),
        (("histogram", "lat_seconds"), ("timed", "lat")),
    ],
    ids=["a.b vs a_b", "histogram req vs gauge req_count", "the unit appended"],
)
@pytest.mark.parametrize("meter_first", [True, False], ids=["meter first", "business first"])
def test_the_meter_and_the_business_api_refuse_each_other_naming_both(
    meter_side: tuple[str, str], business_side: tuple[str, str], meter_first: bool
) -> None:
    serial = next(_serial)
    kind, meter_name = meter_side
    meter_name = f"shape{serial}_{meter_name}"
    api, business_name = business_side
    business_name = f"shape{serial}_{business_name}"
    meter = _meter()
    create = meter.create_histogram if kind == "histogram" else meter.create_counter

    def declare() -> None:
        if api == "gauge":
            otelkit.gauge(business_name, _zero)
        else:
            getattr(otelkit, api)(business_name)

    if meter_first:
        create(meter_name)
        with pytest.raises(otelkit.ConfigError) as refused:
            declare()
    else:
        declare()
        with pytest.raises(otelkit.ConfigError) as refused:
            create(meter_name)
    assert repr(meter_name) in str(refused.value)
    assert repr(business_name) in str(refused.value)


def test_asking_the_meter_twice_for_one_instrument_is_no_collision() -> None:
    name = f"again{next(_serial)}.orders"
    meter = _meter()

    assert meter.create_counter(name, unit="{order}") is meter.create_counter(name, unit="{order}")


def test_one_name_of_one_kind_on_both_sides_is_one_metric_in_two_scopes() -> None:
    """``@counted("x")`` and ``telemetry.meter.create_counter("x")`` are the same metric: the
    exposition writes one family, its series told apart by ``otel_scope_name``."""
    name = f"both{next(_serial)}.orders"
    otelkit.counted(name)

    _meter().create_counter(name).add(1)
    with pytest.raises(otelkit.ConfigError, match="already a counter, not a histogram"):
        _meter().create_histogram(name)
