"""Rendering a Prometheus scrape: otelkit in each format vs prometheus_client and the OTel
Prometheus exporter.

Each holds the same data: ``SERIES`` histogram series (one label with SERIES values, semconv
duration buckets), each recorded a few times. otelkit renders through ``PrometheusReader.scrape``
with the format its ``/metrics`` endpoint negotiates from the scraper's ``Accept`` header (the
headers below): classic text 0.0.4, OpenMetrics 1.0.0 and the delimited protobuf
``MetricFamily`` stream. ``otelkit protobuf native`` is the same reader with the histogram in
base-2 exponential buckets (SDK exponential points, max size 160, max scale 20), as
``OTELKIT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram`` asks for, rendered as
Prometheus native histograms; otelkit's own hot-path histograms reach the renderer as the same
point type.

The baseline is prometheus_client's classic ``generate_latest``; its OpenMetrics
``generate_latest`` is the peer of otelkit's OpenMetrics (a line under the table). Nothing in
Python renders protobuf or native histograms to compare with. Every body is checked to hold all
``SERIES`` series (text: one ``_count`` sample each; protobuf: one ``Metric`` each, decoded
here from the wire format, native buckets present in exponential mode), else PROBLEM.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.view import (
    Aggregation,
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource

from bench._harness import Result, Variant, measure
from otelkit.config._settings import SEMCONV_DURATION_BUCKETS
from otelkit.exporters.prometheus import PrometheusReader
from otelkit.exporters.prometheus._negotiation import CLASSIC, OPENMETRICS, PROTOBUF, negotiate

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from otelkit.exporters.prometheus._negotiation import Format

SERIES = 10_000
# Above the SDK's default of 2,000 series per instrument, so every variant holds all the series.
LIMITS: dict[Any, int] = {Histogram: SERIES + 10}
FAMILY = "request_duration_seconds"
ACCEPT = {
    CLASSIC: "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    OPENMETRICS: "application/openmetrics-text;version=1.0.0;q=0.6,text/plain;version=0.0.4;q=0.5",
    PROTOBUF: "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
    "encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
}
"""What a Prometheus scraper sends for each format (2.x; the protobuf one with native
histograms on)."""
BASELINE = "prometheus_client classic"
OPENMETRICS_PEER = "prometheus_client openmetrics"


def _values() -> list[tuple[str, float]]:
    rng = random.Random(7)
    return [(f"/route/{i}", rng.random()) for i in range(SERIES) for _ in range(3)]


def _otel_provider(reader: object, aggregation: Aggregation | None = None) -> MeterProvider:
    provider = MeterProvider(
        metric_readers=[reader],  # type: ignore[list-item]
        resource=Resource({"service.name": "bench"}),
        views=[
            View(
                instrument_name="*",
                aggregation=aggregation
                or ExplicitBucketHistogramAggregation(SEMCONV_DURATION_BUCKETS),
            )
        ],
        shutdown_on_exit=False,
    )
    histogram = provider.get_meter("bench").create_histogram("request.duration", unit="s")
    for route, value in _values():
        histogram.record(value, {"http.route": route})
    return provider


# --- counting the series in a body -----------------------------------------------------------


def text_series(body: bytes) -> int:
    """Series of the histogram family in a text body: one ``_count`` sample each."""
    prefix = f"{FAMILY}_count{{".encode()
    return sum(1 for line in body.splitlines() if line.startswith(prefix))


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of one protobuf message: varints as int, length-delimited fields
    as bytes; fixed 64/32-bit fields skipped (the wire format, independent of the encoder)."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
            yield field, value
        elif wire == 2:
            length, position = _varint(data, position)
            yield field, data[position : position + length]
            position += length
        elif wire in (1, 5):
            position += 8 if wire == 1 else 4
        else:
            raise ValueError(f"wire type {wire} at byte {position}")


def protobuf_series(body: bytes, *, native: bool) -> int:
    """Series of the histogram family in a delimited ``MetricFamily`` stream: its ``Metric``s
    (field 4) whose ``Histogram`` (field 7) has classic buckets (field 3) or, when ``native``,
    native spans (field 12) and no classic buckets."""
    position, found = 0, 0
    while position < len(body):
        length, position = _varint(body, position)
        family = list(_fields(body[position : position + length]))
        position += length
        if (1, FAMILY.encode()) not in family:
            continue
        for field, metric in family:
            if field != 4 or not isinstance(metric, bytes):
                continue
            for inner, histogram in _fields(metric):
                if inner == 7 and isinstance(histogram, bytes):
                    kinds = {f for f, _ in _fields(histogram)}
                    found += (12 in kinds and 3 not in kinds) if native else (3 in kinds)
    return found


# --- the variants ------------------------------------------------------------------------------


def _otelkit(name: str, fmt: Format, aggregation: Aggregation | None = None) -> Variant:
    reader = PrometheusReader(Resource({"service.name": "bench"}), None, LIMITS)
    _otel_provider(reader, aggregation)
    served = negotiate(ACCEPT[fmt])  # as the /metrics endpoint picks the format
    if served != fmt:
        raise RuntimeError(f"{ACCEPT[fmt]!r} negotiated {served}, not {fmt}")
    return Variant(name, lambda: reader.scrape(served))


def otelkit_variants() -> list[tuple[Variant, Callable[[bytes], int]]]:
    exponential = ExponentialBucketHistogramAggregation(max_size=160, max_scale=20)
    return [
        (_otelkit("otelkit classic", CLASSIC), text_series),
        (_otelkit("otelkit openmetrics", OPENMETRICS), text_series),
        (_otelkit("otelkit protobuf", PROTOBUF), lambda b: protobuf_series(b, native=False)),
        (
            _otelkit("otelkit protobuf native", PROTOBUF, exponential),
            lambda b: protobuf_series(b, native=True),
        ),
    ]


def otel_prometheus_exporter_variant() -> Variant | None:
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry, generate_latest
    except ImportError:
        return None
    registry = CollectorRegistry()
    reader = PrometheusMetricReader(registry=registry, cardinality_limits=LIMITS)
    _otel_provider(reader)
    return Variant("opentelemetry-exporter-prometheus", lambda: generate_latest(registry))


def prometheus_client_variants() -> list[Variant]:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client import Histogram as ClientHistogram
    from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

    registry = CollectorRegistry()
    histogram = ClientHistogram(
        FAMILY, "", ["http_route"], registry=registry, buckets=SEMCONV_DURATION_BUCKETS
    )
    for route, value in _values():
        histogram.labels(route).observe(value)
    return [
        Variant(BASELINE, lambda: generate_latest(registry)),
        Variant(OPENMETRICS_PEER, lambda: openmetrics_latest(registry)),  # type: ignore[no-untyped-call]
    ]


def run(rounds: int) -> list[Result]:
    counted = otelkit_variants()
    variants = [*prometheus_client_variants(), *(variant for variant, _ in counted)]
    counters = {variant.name: count for variant, count in counted}
    peer = otel_prometheus_exporter_variant()
    if peer is not None:
        variants.append(peer)
    result = measure(
        f"scrape of {SERIES:,} histogram series",
        variants,
        rounds=rounds,
        baseline=BASELINE,
        unit="ms",
    )
    sizes: dict[str, float] = {}
    for variant in variants:
        body = variant.run()
        assert isinstance(body, bytes)
        sizes[variant.name] = len(body)
        series = counters.get(variant.name, text_series)(body)
        verdict = "ok" if series == SERIES else f"PROBLEM: {SERIES:,} expected"
        result.notes.append(f"check {variant.name}: {series:,} series — {verdict}")
        result.ok = result.ok and series == SERIES
    result.columns = {"body_B": sizes}
    pair = result.medians.get("otelkit openmetrics"), result.medians.get(OPENMETRICS_PEER)
    if pair[0] is not None and pair[1]:
        result.notes.insert(
            0, f"otelkit openmetrics ÷ {OPENMETRICS_PEER}: {pair[0] / pair[1]:.2f}x"
        )
    return [result]
