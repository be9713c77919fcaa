"""OpenMetrics when the scraper asks for it, classic text otherwise; UTF-8 names when negotiated.

Every body is read back by prometheus_client's official parsers: the OpenMetrics one is strict
(``# EOF``, ``_total``, units that match the name, no clashing names, no negative counters).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import Exemplar
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as classic

import otelkit
from otelkit import _errors
from otelkit.exporters.prometheus._exposition import render
from otelkit.exporters.prometheus._negotiation import CLASSIC, OPENMETRICS, Format, negotiate
from tests.reliability.test_exposition_valid import TEXT, VALUES, _data, metrics

PROMETHEUS_2 = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
PROMETHEUS_3 = (
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
)
UTF8_OPENMETRICS = Format(openmetrics=True, version="1.0.0", utf8=True)
UTF8_TEXT = Format(openmetrics=False, version="1.0.0", utf8=True)


@pytest.fixture(autouse=True)
def _count_instead_of_raise() -> Any:
    """What a user gets: what a format cannot hold is left out and counted, never raised."""
    _errors.raise_internal_errors(False)
    yield
    _errors.raise_internal_errors(True)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, CLASSIC),
        ("", CLASSIC),
        ("*/*", CLASSIC),
        ("text/plain", CLASSIC),
        ("application/json", CLASSIC),
        ("application/openmetrics-text;q=0, text/plain;q=0.1", CLASSIC),
        (PROMETHEUS_2, OPENMETRICS),
        (PROMETHEUS_3, UTF8_OPENMETRICS),
        ("application/openmetrics-text", OPENMETRICS),
        ("application/openmetrics-text; version=0.0.1", Format(True, "0.0.1")),
        ("text/plain;version=0.0.4;q=0.9, application/openmetrics-text;q=0.5", CLASSIC),
        ("text/plain;version=1.0.0;escaping=allow-utf-8", UTF8_TEXT),
        ("text/plain;version=0.0.4;escaping=allow-utf-8", CLASSIC),
        ("application/openmetrics-text;version=1.0.0;escaping=underscores", OPENMETRICS),
        ("application/openmetrics-text;version=2.0.0, */*;q=0.1", CLASSIC),
    ],
)
def test_the_format_follows_the_accept_header_and_its_quality_values(
    accept: str | None, expected: Format
) -> None:
    assert negotiate(accept) == expected


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_accept_header_gets_a_format_never_an_error(accept: str) -> None:
    assert negotiate(accept).content_type.endswith(("charset=utf-8", "escaping=allow-utf-8"))


def _histogram(name: str, unit: str, points: list[HistogramDataPoint]) -> Metric:
    return Metric(name, "", unit, Histogram(points, AggregationTemporality.CUMULATIVE))


def _counter(name: str, unit: str, value: float, exemplars: list[Exemplar]) -> Metric:
    point = NumberDataPoint({"code": "200"}, 1_700_000_000_000_000_000, 1, value, exemplars)
    return Metric(
        name, "Orders placed.", unit, Sum([point], AggregationTemporality.CUMULATIVE, True)
    )


EXEMPLARS = st.lists(
    st.builds(
        Exemplar,
        filtered_attributes=st.just({}),
        value=st.floats(-10, 10),
        time_unix_nano=st.integers(1, 2**62),
        span_id=st.integers(1, 2**64 - 1) | st.none(),
        trace_id=st.integers(1, 2**128 - 1) | st.none(),
    ),
    max_size=4,
)


@st.composite
def histograms_with_exemplars(draw: st.DrawFn) -> Metric:
    bounds = sorted(set(draw(st.lists(st.floats(-5, 5), min_size=1, max_size=4))))
    counts = draw(st.lists(st.integers(0, 5), min_size=len(bounds) + 1, max_size=len(bounds) + 1))
    total = draw(st.floats(allow_nan=True, allow_infinity=False))
    point = HistogramDataPoint(
        draw(st.dictionaries(TEXT, VALUES, max_size=2)),
        draw(st.integers(0, 2**62)),
        1,
        sum(counts),
        total,
        counts,
        bounds,
        0.0,
        0.0,
        draw(EXEMPLARS),
    )
    return _histogram(draw(TEXT), draw(st.sampled_from(["s", "By", "", "{request}"])), [point])


def parse(body: bytes, fmt: Format) -> list[Any]:
    text = body.decode("utf-8")
    return list(openmetrics(text) if fmt.openmetrics else classic(text))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(metrics() | histograms_with_exemplars(), max_size=4),
    st.tuples(TEXT, TEXT),
    st.dictionaries(TEXT, VALUES, max_size=3),
    st.sampled_from([OPENMETRICS, UTF8_OPENMETRICS, UTF8_TEXT]),
)
def test_any_metric_data_renders_to_a_body_the_official_parser_of_its_format_reads(
    metric_list: list[Metric], scope: tuple[str, str], resource: dict[str, Any], fmt: Format
) -> None:
    families = parse(render(_data(scope, metric_list), Resource(resource), fmt), fmt)
    assert any(f.name in ("target", "target_info") for f in families)


def test_openmetrics_names_a_counter_without_total_and_adds_created_unit_and_eof() -> None:
    metric = _counter("job.work", "s", 7, [])
    body = render(_data(("shop", "1.0"), [metric]), Resource({}), OPENMETRICS)
    assert body.endswith(b"# EOF\n")
    (family,) = (f for f in parse(body, OPENMETRICS) if f.name == "job_work_seconds")
    assert (family.type, family.unit) == ("counter", "seconds")
    values = {s.name: s.value for s in family.samples}
    assert values == {"job_work_seconds_total": 7, "job_work_seconds_created": 1_700_000_000}


def test_the_resource_is_an_info_metric_in_openmetrics() -> None:
    body = render(_data(("s", ""), []), Resource({"service.name": "shop"}), OPENMETRICS)
    (family,) = parse(body, OPENMETRICS)
    assert (family.name, family.type) == ("target", "info")
    assert family.samples[0].labels == {"service_name": "shop"}


def test_classic_text_keeps_the_total_in_the_family_name_and_has_no_eof() -> None:
    body = render(_data(("s", ""), [_counter("orders", "", 3, [])]), Resource({}), CLASSIC)
    assert b"# EOF" not in body
    assert b"# TYPE orders_total counter\n" in body


def test_a_scraper_that_takes_utf8_names_gets_the_opentelemetry_names_unescaped() -> None:
    point = HistogramDataPoint({"http.route": "/"}, 0, 1, 1, 0.2, [1, 0], [0.5], 0.2, 0.2)
    metric = _histogram("http.server.request.duration", "s", [point])
    for fmt in (UTF8_OPENMETRICS, UTF8_TEXT):
        families = parse(render(_data(("s", ""), [metric]), Resource({}), fmt), fmt)
        (family,) = (f for f in families if f.type == "histogram")
        assert family.name == "http.server.request.duration_seconds"
        assert family.samples[0].labels["http.route"] == "/"
    families = parse(render(_data(("s", ""), [metric]), Resource({}), OPENMETRICS), OPENMETRICS)
    (family,) = (f for f in families if f.type == "histogram")
    assert family.name == "http_server_request_duration_seconds"
    assert family.samples[0].labels["http_route"] == "/"


def test_exemplars_follow_their_bucket_and_counter_in_openmetrics_only() -> None:
    slow = Exemplar({}, 0.8, 2_000_000_000, span_id=0xB, trace_id=0xA)
    older = Exemplar({}, 0.7, 1_000_000_000, span_id=0xD, trace_id=0xC)
    fast = Exemplar({}, 0.1, 1_500_000_000, span_id=0xF, trace_id=0xE)
    point = HistogramDataPoint(
        {}, 0, 1, 3, 1.6, [1, 2, 0], [0.5, 1.0], 0.1, 0.8, [older, slow, fast]
    )
    metrics_ = [_histogram("work", "s", [point]), _counter("orders", "", 3, [fast])]
    body = render(_data(("s", ""), metrics_), Resource({}), OPENMETRICS)
    by_name = {f.name: f for f in parse(body, OPENMETRICS)}
    buckets = {s.labels["le"]: s.exemplar for s in by_name["work_seconds"].samples if s.exemplar}
    assert {le: e.labels["trace_id"] for le, e in buckets.items()} == {
        "0.5": f"{0xE:032x}",
        "1.0": f"{0xA:032x}",
    }
    assert math.isclose(buckets["1.0"].value, 0.8)
    assert float(buckets["1.0"].timestamp) == 2.0
    (total,) = (s for s in by_name["orders"].samples if s.name == "orders_total")
    assert total.exemplar.labels == {"trace_id": f"{0xE:032x}", "span_id": f"{0xF:016x}"}
    assert b"trace_id" not in render(_data(("s", ""), metrics_), Resource({}), CLASSIC)


def test_what_openmetrics_cannot_hold_is_left_out_and_counted() -> None:
    before = _errors.internal_error_count("prometheus.exposition")
    body = render(_data(("s", ""), [_counter("refunds", "", -2, [])]), Resource({}), OPENMETRICS)
    assert b"refunds_total" not in body
    assert _errors.internal_error_count("prometheus.exposition") == before + 1
    parse(body, OPENMETRICS)


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "text/plain; version=0.0.4; charset=utf-8"),
        (PROMETHEUS_2, "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        (
            PROMETHEUS_3,
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8",
        ),
    ],
)
def test_the_endpoint_answers_in_the_negotiated_format(
    accept: str | None, content_type: str
) -> None:
    telemetry = otelkit.init_telemetry(service_name="shop", instrument="none", prometheus_port=0)
    otelkit.counted("orders.placed")(lambda: None)()
    headers: list[tuple[str, str]] = []
    environ = {"HTTP_ACCEPT": accept} if accept else {}
    body = b"".join(otelkit.metrics_wsgi()(environ, lambda _, h: headers.extend(h)))
    assert dict(headers)["Content-Type"] == content_type
    fmt = negotiate(accept)
    names = {s.name for f in parse(body, fmt) for s in f.samples}
    assert ("orders.placed_total" if fmt.utf8 else "orders_placed_total") in names
    telemetry.shutdown()
