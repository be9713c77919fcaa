"""Per-call cost of ``@otelkit.timed`` against a bare call, an OTel SDK histogram used by hand,
and prometheus_client's ``Histogram.labels(...).observe()``.

Each variant times the same trivial function (it returns its argument) ``CALLS`` times per
round; the figure is µs per call. The budget: ``@timed`` costs at most 1.3 times the
prometheus_client call (the overhead above the bare call is what the ratio compares).
"""

from __future__ import annotations

import time

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import otelkit
from bench._harness import Result, Variant, measure

CALLS = 20_000
ATTRIBUTES = {"channel": "web", "tier": "gold"}


def work(value: int) -> int:
    return value


def _loop(fn: object) -> Variant:
    def run() -> None:
        call = fn
        for i in range(CALLS):
            call(i)  # type: ignore[operator]

    return run  # type: ignore[return-value]


def bare() -> Variant:
    return Variant("bare function", _loop(work), per_call=CALLS)


def otelkit_timed() -> Variant:
    decorated = otelkit.timed("bench.work.duration", attributes=ATTRIBUTES)(work)
    return Variant("@otelkit.timed", _loop(decorated), per_call=CALLS)


def otel_sdk_by_hand() -> Variant:
    provider = MeterProvider([InMemoryMetricReader()], shutdown_on_exit=False)
    histogram = provider.get_meter("bench").create_histogram("bench.sdk.duration", unit="s")

    def timed_by_hand(value: int) -> int:
        started = time.perf_counter()
        result = work(value)
        histogram.record(time.perf_counter() - started, ATTRIBUTES)
        return result

    return Variant("OTel SDK histogram by hand", _loop(timed_by_hand), per_call=CALLS)


def prometheus_client_labels() -> Variant:
    from prometheus_client import CollectorRegistry, Histogram

    histogram = Histogram(
        "bench_work_seconds", "", ["channel", "tier"], registry=CollectorRegistry()
    )

    def timed_by_hand(value: int) -> int:
        started = time.perf_counter()
        result = work(value)
        histogram.labels("web", "gold").observe(time.perf_counter() - started)
        return result

    return Variant("prometheus_client labels().observe()", _loop(timed_by_hand), per_call=CALLS)


def run(rounds: int) -> list[Result]:
    variants = [bare(), otelkit_timed(), otel_sdk_by_hand(), prometheus_client_labels()]
    result = measure(
        "business metrics: one timed call",
        variants,
        rounds=rounds,
        baseline="bare function",
        unit="us",
    )
    result.references = ("prometheus_client labels().observe()",)
    return [result]
