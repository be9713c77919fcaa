"""Metric names stay bounded and unambiguous in Prometheus; what is refused at run time is counted.

``record()`` creates names at run time: at most ``OTELKIT_METRIC_NAMES_LIMIT`` of them. Two
names that Prometheus would expose under one name are refused, at declaration with a
``ConfigError`` naming both, at run time by dropping and counting. Every scrape parses with
prometheus_client's own parser and has no family twice.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.semconv._incubating.attributes.otel_attributes import (
    OTEL_COMPONENT_NAME,
    OTEL_COMPONENT_TYPE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from prometheus_client.parser import text_string_to_metric_families

import otelkit
from otelkit import testing
from otelkit.exporters.prometheus import _exposition

SEPARATORS = st.sampled_from([".", "_", "-", "/"])
WORDS = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)


def _own(telemetry: otelkit.Telemetry, name: str) -> dict[tuple[str, str], int]:
    return {
        (
            p.attributes.get(OTEL_COMPONENT_NAME) or p.attributes[OTEL_COMPONENT_TYPE],
            p.attributes[ERROR_TYPE],
        ): p.value
        for p in testing.points(telemetry, name)
    }


def _families(telemetry: otelkit.Telemetry) -> list[str]:
    """The family names of one rendered scrape, parsed by prometheus_client."""
    page = _exposition.render(testing.metrics(telemetry), telemetry._pipeline.resource)  # type: ignore[union-attr]
    return [family.name for family in text_string_to_metric_families(page.decode())]


_serial = itertools.count()


def _unique(prefix: str) -> str:
    """A name no other test of the session has declared (declarations live per process)."""
    return f"{prefix}{next(_serial)}x"


def test_record_creates_at_most_the_configured_number_of_names(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from otelkit.metrics._business import _names

    already = _names.created()  # names earlier tests of this process created with record()
    telemetry = otelkit.init_telemetry(
        service_name="shop", metrics_exporters="memory", metric_names_limit=already + 5
    )
    base = _unique("latency.customer")
    with caplog.at_level(logging.WARNING, logger="otelkit"):
        for n in range(20):
            otelkit.record(f"{base}.c{n}", 1.0)
            otelkit.record(f"{base}.c{n}", 2.0)  # the same name again: no new name
    created = [n for n in range(20) if testing.points(telemetry, f"{base}.c{n}")]

    assert created == [0, 1, 2, 3, 4]
    assert _own(telemetry, "otelkit.dropped")[("otelkit_metric_store", "name_limit")] == 30
    warned = [r for r in caplog.records if "OTELKIT_METRIC_NAMES_LIMIT" in r.getMessage()]
    assert len(warned) == 1


def test_the_names_limit_is_a_setting_validated_at_init() -> None:
    with pytest.raises(otelkit.ConfigError, match=r"OTELKIT_METRIC_NAMES_LIMIT|metric_names_limit"):
        otelkit.init_telemetry(service_name="shop", metric_names_limit=0)


@given(words=st.lists(WORDS, min_size=2, max_size=4), separator=st.sampled_from(".-/"))
@settings(max_examples=40)
def test_a_declared_name_that_clashes_in_prometheus_is_refused_naming_both(
    words: list[str], separator: str
) -> None:
    """``orders.placed`` and ``orders_placed`` are one Prometheus name: the second is refused."""
    prefix = _unique("c")
    name, twin = prefix + separator.join(words), prefix + "_".join(words)
    otelkit.counted(name)

    with pytest.raises(otelkit.ConfigError) as refused:
        otelkit.counted(twin)
    assert repr(name) in str(refused.value)
    assert repr(twin) in str(refused.value)


def test_a_histogram_owns_its_count_and_sum_names() -> None:
    base = _unique("req")
    otelkit.timed(base)  # in seconds: exposed as <base>_seconds_bucket, _sum and _count
    for taken in (f"{base}_seconds_count", f"{base}_seconds_sum", f"{base}_seconds_bucket"):
        with pytest.raises(otelkit.ConfigError, match=re.escape(repr(base))):
            otelkit.gauge(taken, lambda: 1.0)


def test_a_clashing_name_at_run_time_is_dropped_counted_and_the_scrape_stays_valid() -> None:
    telemetry = otelkit.init_telemetry(service_name="shop", metrics_exporters="memory")
    collisions = ("otelkit_metric_store", "name_collision")
    before = _own(telemetry, "otelkit.dropped").get(collisions, 0)  # a process total
    base = _unique("orders.amount")
    otelkit.record(base, 1.0)
    otelkit.record(base.replace(".", "_"), 2.0)
    otelkit.record(base.replace(".", "-"), 3.0)

    assert _own(telemetry, "otelkit.dropped")[collisions] - before == 2
    families = _families(telemetry)
    assert [f for f, n in Counter(families).items() if n > 1] == []
    assert [p.sum for p in testing.points(telemetry, base)] == [1.0]


def test_record_takes_attributes_named_name_and_value() -> None:
    telemetry = otelkit.init_telemetry(service_name="shop", metrics_exporters="memory")
    base = _unique("basket.size")

    otelkit.record(base, 3.0, attributes={"name": "basket", "value": "high"}, currency="EUR")

    (point,) = testing.points(telemetry, base)
    assert dict(point.attributes) == {"name": "basket", "value": "high", "currency": "EUR"}


def test_measurements_beyond_the_cardinality_limit_are_counted() -> None:
    telemetry = otelkit.init_telemetry(service_name="shop", metrics_exporters="memory")
    before = _own(telemetry, "otelkit.dropped").get(
        ("otelkit_metric_store", "cardinality_overflow"), 0
    )
    base = _unique("lookups")
    for n in range(2100):
        otelkit.record(base, 1.0, user=str(n))

    points = testing.points(telemetry, base)
    overflow = [p for p in points if p.attributes.get("otel.metric.overflow")]
    dropped = (
        _own(telemetry, "otelkit.dropped")[("otelkit_metric_store", "cardinality_overflow")]
        - before
    )
    assert sum(p.count for p in overflow) == dropped == 2100 - 1999


def test_invalid_attribute_values_are_counted() -> None:
    telemetry = otelkit.init_telemetry(service_name="shop", metrics_exporters="memory")

    def invalid() -> int:
        return _own(telemetry, "otelkit.dropped").get(
            ("otelkit_metric_store", "invalid_attribute"), 0
        )

    values: list[Any] = [{"a": 1}, None, [1, "x"], object()]
    first = invalid()
    before = invalid()
    per_collection = before - first  # gauges of other tests of this process may drop too
    for value in values:
        otelkit.record(_unique("checks"), 1.0, detail=value)

    assert invalid() - before - per_collection == len(values)
