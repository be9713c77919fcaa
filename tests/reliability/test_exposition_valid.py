"""The Prometheus exposition stays valid whatever names, units, descriptions and attributes hold.

One bad value (a lone surrogate from ``os.fsdecode``, a control character, a quote) must never
make a scrape fail, and never make every later scrape fail: it is replaced or dropped, counted,
and the rest of the exposition is served and parses.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
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
from prometheus_client.parser import text_string_to_metric_families

import otelkit
from otelkit import _errors
from otelkit.exporters.prometheus import _exposition

# Any text: lone surrogates, control characters, quotes, backslashes and newlines included.
TEXT = st.text(st.characters(codec=None, categories=None), max_size=12) | st.sampled_from(
    ["\udcff", "a\udc80b", '"', "\\", "\n", "\r", "\x00", "le", "__name__", "", " ", "\ufffe"]
)
SCALARS = TEXT | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
VALUES = SCALARS | st.lists(TEXT, max_size=3) | st.lists(st.floats(), max_size=3).map(tuple)
ATTRIBUTES = st.dictionaries(TEXT, VALUES, max_size=4)
NUMBERS = st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)


def _point(attributes: dict[str, Any], value: float) -> NumberDataPoint:
    return NumberDataPoint(attributes, 0, 1, value)


@st.composite
def metrics(draw: st.DrawFn) -> Metric:
    name, unit, description = draw(TEXT), draw(TEXT), draw(TEXT)
    kind = draw(st.sampled_from(["counter", "updown", "gauge", "histogram"]))
    attributes = draw(st.lists(ATTRIBUTES, min_size=1, max_size=3))
    if kind == "histogram":
        points = [
            HistogramDataPoint(
                a, 0, 1, 3, draw(NUMBERS), (1, 1, 1), [0.5, 1.0], draw(NUMBERS), draw(NUMBERS)
            )
            for a in attributes
        ]
        data: Any = Histogram(points, AggregationTemporality.CUMULATIVE)
    elif kind == "gauge":
        data = Gauge([_point(a, draw(NUMBERS)) for a in attributes])
    else:
        data = Sum(
            [_point(a, draw(NUMBERS)) for a in attributes],
            AggregationTemporality.CUMULATIVE,
            kind == "counter",
        )
    return Metric(name, description, unit, data)


def _data(scope: tuple[str, str], metric_list: list[Metric]) -> MetricsData:
    scoped = ScopeMetrics(InstrumentationScope(*scope), metric_list, "")
    return MetricsData([ResourceMetrics(Resource({}), [scoped], "")])


def parse(body: bytes) -> list[Any]:
    """Every family of a body, read by prometheus_client's text parser (strict UTF-8)."""
    return list(text_string_to_metric_families(body.decode("utf-8")))


@pytest.fixture(autouse=True)
def _count_instead_of_raise() -> Any:
    """What a user gets: replacements are counted, never raised (the suite raises by default)."""
    _errors.raise_internal_errors(False)
    yield
    _errors.raise_internal_errors(True)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(metrics(), max_size=4),
    st.tuples(TEXT, TEXT),
    st.dictionaries(TEXT, VALUES, max_size=3),
)
def test_any_metric_data_renders_to_an_exposition_a_parser_reads(
    metric_list: list[Metric], scope: tuple[str, str], resource: dict[str, Any]
) -> None:
    body = _exposition.render(_data(scope, metric_list), Resource(resource))
    families = parse(body)
    assert any(f.name == "target_info" for f in families)


@settings(max_examples=200, deadline=None)
@given(TEXT, st.text(max_size=5), st.text(max_size=5))
def test_any_attribute_key_becomes_a_valid_label_and_the_value_is_kept(
    key: str, value: str, name: str
) -> None:
    metric = Metric("m" + name, "", "", Gauge([_point({key: value}, 1.0)]))
    (sample,) = (
        s
        for f in parse(_exposition.render(_data(("s", ""), [metric]), Resource({})))
        for s in f.samples
        if s.name != "target_info"
    )
    assert value in sample.labels.values()


def test_a_lone_surrogate_is_replaced_counted_and_later_scrapes_still_work() -> None:
    telemetry = otelkit.init_telemetry(
        service_name="exposition", prometheus_port=0, instrument="none"
    )
    before = _errors.internal_error_count()
    file_name = b"report-\xff.csv".decode("utf-8", "surrogateescape")  # what os.fsdecode gives
    otelkit.record("upload.size", 3.0, file=file_name)
    otelkit.record("upload.size", 5.0, file="plain.csv")
    app = otelkit.metrics_wsgi()
    for _ in range(2):  # the first scrape and every later one
        statuses: list[str] = []
        body = b"".join(app({}, lambda status, _, seen=statuses: seen.append(status)))
        assert statuses == ["200 OK"]
        samples = {
            s.labels.get("file"): s
            for f in parse(body)
            if f.name == "upload_size"
            for s in f.samples
            if s.name == "upload_size_count"
        }
        assert samples["report-\ufffd.csv"].value == 1
        assert samples["plain.csv"].value == 1
    assert _errors.internal_error_count("prometheus.exposition") >= 1
    assert _errors.internal_error_count() > before
    telemetry.shutdown()


def test_nan_and_infinities_are_written_as_prometheus_spells_them() -> None:
    metric = Metric(
        "odd", "", "", Gauge([_point({"v": str(v)}, v) for v in (math.nan, math.inf, -math.inf)])
    )
    (family,) = (
        f
        for f in parse(_exposition.render(_data(("s", ""), [metric]), Resource({})))
        if f.name == "odd"
    )
    values = sorted(str(s.value) for s in family.samples)
    assert values == ["-inf", "inf", "nan"]
