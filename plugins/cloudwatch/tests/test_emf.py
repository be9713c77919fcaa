"""EMF conversion, PutLogEvents batching and retries, without a server."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from otelkit_cloudwatch._emf import TEMPORALITY, cloudwatch_unit, records
from otelkit_cloudwatch._sinks import (
    EVENT_OVERHEAD,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    LogsSink,
    batches,
)

from .conftest import REGION, check_emf

DIMS = ("http.route", "http.request.method", "deployment.environment.name")


def collect(dimensions: tuple[str, ...] = DIMS, histograms: str = "values") -> Any:
    reader = InMemoryMetricReader(preferred_temporality=dict(TEMPORALITY))
    provider = MeterProvider(
        metric_readers=[reader],
        resource=Resource.create({"service.name": "shop", "deployment.environment.name": "prod"}),
    )
    meter = provider.get_meter("test")

    def emit() -> list[dict[str, Any]]:
        out = [r for _, r in records(reader.get_metrics_data(), "Shop", dimensions, histograms)]
        for record in out:
            check_emf(json.loads(json.dumps(record)))
        return out

    return meter, emit, provider


def by_name(found: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [r for r in found if name in r]


def test_counter_is_a_delta_with_allowed_dimensions_only() -> None:
    meter, emit, provider = collect()
    counter = meter.create_counter("orders.placed", unit="{order}")
    for i in range(7):
        counter.add(1, {"http.route": "/orders", "user.id": str(i)})  # user.id: not allowed
    first = by_name(emit(), "orders.placed")
    assert len(first) == 1  # the 7 user ids are merged into one record
    record = first[0]
    assert record["orders.placed"] == 7
    assert record["http.route"] == "/orders"
    assert record["deployment.environment.name"] == "prod"  # from the resource
    assert "user.id" not in record
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Shop"
    assert directive["Dimensions"] == [["http.route", "deployment.environment.name"]]
    assert directive["Metrics"] == [{"Name": "orders.placed", "Unit": "Count"}]
    counter.add(2, {"http.route": "/orders"})
    assert by_name(emit(), "orders.placed")[0]["orders.placed"] == 2  # delta, not 9
    provider.shutdown()


def test_histogram_as_values_and_counts() -> None:
    meter, emit, provider = collect()
    histogram = meter.create_histogram(
        "job.duration", unit="s", explicit_bucket_boundaries_advisory=[0.1, 1.0, 10.0]
    )
    for value in (0.05, 0.5, 0.5, 5.0, 20.0):
        histogram.record(value, {"http.route": "/jobs"})
    (record,) = by_name(emit(), "job.duration")
    value = record["job.duration"]
    assert value["Count"] == 5
    assert value["Sum"] == pytest.approx(26.05)
    assert value["Min"] == 0.05
    assert value["Max"] == 20.0
    assert value["Counts"] == [1, 2, 1, 1]
    # bucket midpoints, clamped to the recorded min and max
    assert value["Values"] == pytest.approx([0.075, 0.55, 5.5, 15.0])
    assert record["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == "Seconds"
    provider.shutdown()


def test_histogram_as_statistic_set() -> None:
    meter, emit, provider = collect(histograms="statistics")
    histogram = meter.create_histogram("payload.size", unit="By")
    histogram.record(100)
    histogram.record(300)
    (record,) = by_name(emit(), "payload.size")
    assert record["payload.size"] == {"Max": 300, "Min": 100, "Count": 2, "Sum": 400}
    provider.shutdown()


def test_gauge_points_sharing_dimensions_become_a_value_array() -> None:
    meter, emit, provider = collect()
    gauge = meter.create_gauge("queue.depth", unit="{item}")
    gauge.set(3, {"queue": "a"})
    gauge.set(5, {"queue": "b"})
    (record,) = by_name(emit(), "queue.depth")
    assert sorted(record["queue.depth"]) == [3, 5]
    provider.shutdown()


def test_at_most_30_dimensions() -> None:
    names = tuple(f"k{i}" for i in range(40))
    meter, emit, provider = collect(dimensions=names)
    meter.create_counter("wide").add(1, dict.fromkeys(names, "v"))
    (record,) = by_name(emit(), "wide")
    dims = record["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
    assert dims == list(names[:30])
    provider.shutdown()


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("s", "Seconds"),
        ("ms", "Milliseconds"),
        ("By", "Bytes"),
        ("MiBy", "Megabytes"),
        ("By/s", "Bytes/Second"),
        ("1", "None"),
        ("%", "Percent"),
        ("{request}", "Count"),
        ("", "None"),
        (None, "None"),
        ("furlong", "None"),
    ],
)
def test_units(unit: str | None, expected: str) -> None:
    assert cloudwatch_unit(unit) == expected


def test_batches_respect_event_count_size_and_order() -> None:
    events = [(1_000 + (i * 7919) % 20_000, f"m{i}") for i in range(MAX_BATCH_EVENTS + 500)]
    cut = list(batches(events))
    assert [len(b) for b in cut] == [MAX_BATCH_EVENTS, 500]
    stamps = [e["timestamp"] for b in cut for e in b]
    assert stamps == sorted(stamps)

    big = "x" * 200_000
    cut = list(batches([(i, big) for i in range(12)]))
    assert len(cut) == 3
    for batch in cut:
        assert sum(len(e["message"]) + EVENT_OVERHEAD for e in batch) <= MAX_BATCH_BYTES

    day = 24 * 3600 * 1000
    assert len(list(batches([(0, "a"), (day + 1, "b")]))) == 2


def test_throttling_is_retried_with_backoff() -> None:
    client = botocore.session.get_session().create_client("logs", region_name=REGION)
    sleeps: list[float] = []
    sink = LogsSink(client, "/metrics/shop", "stream", sleep=sleeps.append)
    with Stubber(client) as stub:
        stub.add_response("create_log_group", {})
        stub.add_client_error(
            "create_log_stream", "ResourceAlreadyExistsException", http_status_code=400
        )
        for _ in range(2):
            stub.add_client_error("put_log_events", "ThrottlingException", http_status_code=400)
        stub.add_response("put_log_events", {})
        assert sink([(1, "{}"), (2, "{}")]) is True
        stub.assert_no_pending_responses()
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0] * 0.9  # exponential (with jitter in [0.5, 1])


def test_persistent_failure_is_reported_not_raised() -> None:
    client = botocore.session.get_session().create_client("logs", region_name=REGION)
    sink = LogsSink(client, "/g", "s", max_attempts=2, sleep=lambda _: None)
    with Stubber(client) as stub:
        stub.add_response("create_log_group", {})
        stub.add_response("create_log_stream", {})
        stub.add_client_error("put_log_events", "ThrottlingException", http_status_code=400)
        stub.add_client_error("put_log_events", "ThrottlingException", http_status_code=400)
        assert sink([(1, "{}")]) is False


def test_histogram_points_sharing_dimensions_are_merged() -> None:
    meter, emit, provider = collect()
    histogram = meter.create_histogram(
        "latency", unit="ms", explicit_bucket_boundaries_advisory=[10.0, 100.0]
    )
    histogram.record(5, {"http.route": "/a", "user.id": "1"})
    histogram.record(50, {"http.route": "/a", "user.id": "2"})
    histogram.record(7, {"http.route": "/a", "user.id": "3"})
    (record,) = by_name(emit(), "latency")
    value = record["latency"]
    assert (value["Count"], value["Sum"], value["Min"], value["Max"]) == (3, 62, 5, 50)
    assert sum(value["Counts"]) == 3
    assert record["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == "Milliseconds"
    provider.shutdown()
