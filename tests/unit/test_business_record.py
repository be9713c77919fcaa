"""``record(name, value, /, *, attributes=None, **attributes)``: any attribute key, no surprise.

``name`` and ``value`` are positional-only, so they are attribute keys like any other;
``attributes=`` is keyword-only and must be a mapping, else the value is dropped and counted
(never an exception into the caller).
"""

from __future__ import annotations

import inspect
import itertools
import os
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import otelkit
from otelkit import testing

_serial = itertools.count()
NOT_MAPPINGS = st.one_of(
    st.integers(),
    st.text(max_size=5),
    st.lists(st.tuples(st.text(max_size=3), st.integers()), max_size=3),
    st.just(object()),
    st.just(b"bytes"),
)


def _unique(prefix: str) -> str:
    return f"{prefix}.n{next(_serial)}"


@pytest.fixture(autouse=True)
def _no_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")) and name != "OTELKIT_REQUIRE_SERVERS":
            monkeypatch.delenv(name)


@pytest.fixture
def telemetry() -> otelkit.Telemetry:
    return otelkit.init_telemetry(service_name="shop", metrics_exporters="memory")


def _invalid(telemetry: otelkit.Telemetry) -> int:
    return sum(
        p.value
        for p in testing.points(telemetry, "otelkit.dropped")
        if p.attributes.get("reason", p.attributes.get("error.type")) == "invalid_attribute"
    )


def test_name_and_value_are_attribute_keys_like_any_other(telemetry: otelkit.Telemetry) -> None:
    metric = _unique("basket.size")

    otelkit.record(metric, 1, name="a", value="b")

    (point,) = testing.points(telemetry, metric)
    assert dict(point.attributes) == {"name": "a", "value": "b"}
    assert point.sum == 1


def test_attributes_is_a_keyword_only_mapping_merged_with_the_keywords(
    telemetry: otelkit.Telemetry,
) -> None:
    metric = _unique("basket.size")

    otelkit.record(metric, 2.0, attributes={"http.route": "/cart", "attributes": "x"}, name="a")

    (point,) = testing.points(telemetry, metric)
    assert dict(point.attributes) == {"http.route": "/cart", "attributes": "x", "name": "a"}
    parameters = inspect.signature(otelkit.record).parameters
    assert parameters["name"].kind is inspect.Parameter.POSITIONAL_ONLY
    assert parameters["value"].kind is inspect.Parameter.POSITIONAL_ONLY
    assert parameters["attributes"].kind is inspect.Parameter.KEYWORD_ONLY


@settings(max_examples=25, deadline=None)
@given(attributes=NOT_MAPPINGS)
def test_attributes_that_are_no_mapping_drop_the_value_and_count_it(attributes: Any) -> None:
    assert not isinstance(attributes, Mapping)
    telemetry = otelkit.init_telemetry(service_name="shop", metrics_exporters="memory")
    try:
        metric = _unique("basket.size")
        first = _invalid(telemetry)
        before = _invalid(telemetry)
        per_collection = before - first  # gauges of other tests of this process may drop too

        otelkit.record(metric, 3.0, attributes=attributes, currency="EUR")  # never raises

        assert _invalid(telemetry) - before - per_collection == 1
        assert testing.points(telemetry, metric) == []
    finally:
        telemetry.shutdown(timeout=5)
