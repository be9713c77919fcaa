"""Rendering a Prometheus scrape: otelkit vs the OTel Prometheus exporter vs prometheus_client.

Each holds the same data: ``SERIES`` histogram series (one label with SERIES values, semconv
duration buckets), each recorded a few times.
"""

from __future__ import annotations

import random

from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from bench._harness import Result, Variant, measure
from otelkit.config._settings import SEMCONV_DURATION_BUCKETS
from otelkit.exporters.prometheus import PrometheusReader

SERIES = 10_000
# Above the SDK's default of 2,000 series per instrument, so every variant holds all the series.
LIMITS = {Histogram: SERIES + 10}


def _values() -> list[tuple[str, float]]:
    rng = random.Random(7)
    return [(f"/route/{i}", rng.random()) for i in range(SERIES) for _ in range(3)]


def _otel_provider(reader: object) -> MeterProvider:
    provider = MeterProvider(
        metric_readers=[reader],  # type: ignore[list-item]
        resource=Resource({"service.name": "bench"}),
        views=[
            View(
                instrument_name="*",
                aggregation=ExplicitBucketHistogramAggregation(SEMCONV_DURATION_BUCKETS),
            )
        ],
        shutdown_on_exit=False,
    )
    histogram = provider.get_meter("bench").create_histogram("request.duration", unit="s")
    for route, value in _values():
        histogram.record(value, {"http.route": route})
    return provider


def otelkit_variant() -> Variant:
    reader = PrometheusReader(Resource({"service.name": "bench"}), None, LIMITS)
    _otel_provider(reader)
    return Variant("otelkit", reader.scrape)


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


def prometheus_client_variant() -> Variant:
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    registry = CollectorRegistry()
    histogram = Histogram(
        "request_duration_seconds",
        "",
        ["http_route"],
        registry=registry,
        buckets=SEMCONV_DURATION_BUCKETS,
    )
    for route, value in _values():
        histogram.labels(route).observe(value)
    return Variant("prometheus_client", lambda: generate_latest(registry))


def run(rounds: int) -> list[Result]:
    variants = [prometheus_client_variant(), otelkit_variant()]
    peer = otel_prometheus_exporter_variant()
    if peer is not None:
        variants.append(peer)
    return [
        measure(
            f"scrape of {SERIES:,} histogram series",
            variants,
            rounds=rounds,
            baseline="prometheus_client",
            unit="ms",
        )
    ]
