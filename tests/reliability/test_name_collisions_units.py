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
from otelkit.metrics._fastpath import NameCollision, Registry

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
