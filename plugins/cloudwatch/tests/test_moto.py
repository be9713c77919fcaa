"""EMF records through a real CloudWatch Logs API (moto in server mode on loopback), and stdout."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest
from otelkit_cloudwatch._sinks import MAX_BATCH_EVENTS, LogsSink

from .conftest import check_emf, read_events

if TYPE_CHECKING:
    from collections.abc import Callable

    import otelkit

pytestmark = pytest.mark.integration

N = 7


@pytest.fixture
def to_moto(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELKIT_CLOUDWATCH_ENDPOINT_URL", moto_url)


def business_metrics(init: Callable[..., otelkit.Telemetry], service: str) -> otelkit.Telemetry:
    telemetry = init(service, exporters={"metrics": "cloudwatch"})
    meter = telemetry.meter
    orders = meter.create_counter("orders.placed", unit="{order}")
    duration = meter.create_histogram(
        "checkout.duration", unit="s", explicit_bucket_boundaries_advisory=[0.1, 0.5, 1.0]
    )
    for i in range(N):
        orders.add(1, {"http.route": "/checkout", "user.id": f"u{i}"})
        duration.record(0.1 * (i + 1), {"http.route": "/checkout"})
    assert telemetry.force_flush(timeout=10)
    return telemetry


def emf_values(records: list[dict[str, Any]], name: str) -> list[Any]:
    return [r[name] for r in records if name in r]


def test_emf_records_arrive_in_cloudwatch_logs(
    to_moto: None, logs_client: Any, init: Callable[..., otelkit.Telemetry]
) -> None:
    telemetry = business_metrics(init, "checkout-svc")
    telemetry.shutdown(timeout=5)
    events = read_events(logs_client, "/metrics/checkout-svc")
    records = [json.loads(e["message"]) for e in events]
    assert records
    for record in records:
        check_emf(record)
        assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "checkout-svc"
    assert sum(emf_values(records, "orders.placed")) == N
    (histogram,) = emf_values(records, "checkout.duration")
    assert histogram["Count"] == N
    assert histogram["Sum"] == pytest.approx(sum(0.1 * (i + 1) for i in range(N)))
    assert histogram["Min"] == pytest.approx(0.1)
    assert histogram["Max"] == pytest.approx(0.7)
    assert sum(histogram["Counts"]) == N
    (stream,) = logs_client.describe_log_streams(logGroupName="/metrics/checkout-svc")["logStreams"]
    assert "checkout-svc/" in stream["logStreamName"]  # one stream per process
    timestamps = [e["timestamp"] for e in events]
    assert timestamps == sorted(timestamps)


def test_existing_log_group_and_custom_names(
    to_moto: None,
    logs_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    init: Callable[..., otelkit.Telemetry],
) -> None:
    logs_client.create_log_group(logGroupName="/custom/group")
    monkeypatch.setenv("OTELKIT_CLOUDWATCH_LOG_GROUP", "/custom/group")
    monkeypatch.setenv("OTELKIT_CLOUDWATCH_NAMESPACE", "Shop/Checkout")
    business_metrics(init, "svc2").shutdown(timeout=5)
    records = [json.loads(e["message"]) for e in read_events(logs_client, "/custom/group")]
    assert sum(emf_values(records, "orders.placed")) == N
    assert {r["_aws"]["CloudWatchMetrics"][0]["Namespace"] for r in records} == {"Shop/Checkout"}


def test_more_than_10000_events_are_split_across_calls(moto_url: str, logs_client: Any) -> None:
    sink = LogsSink(logs_client, "/metrics/batching", "stream-1")
    now = int(time.time() * 1000)
    count = MAX_BATCH_EVENTS + 1_500
    events = [(now - count + i, json.dumps({"i": i})) for i in range(count)]
    calls: list[int] = []

    def counting(params: dict[str, Any], **_: Any) -> None:
        calls.append(len(params["logEvents"]))

    logs_client.meta.events.register("provide-client-params.logs.PutLogEvents", counting)
    try:
        assert sink(events) is True
    finally:
        logs_client.meta.events.unregister("provide-client-params.logs.PutLogEvents", counting)
    assert calls == [MAX_BATCH_EVENTS, 1_500]
    stored = read_events(logs_client, "/metrics/batching", "stream-1")
    assert len(stored) == count
    assert [json.loads(e["message"])["i"] for e in stored] == list(range(count))


def test_deleted_log_group_is_recreated(moto_url: str, logs_client: Any) -> None:
    sink = LogsSink(logs_client, "/metrics/recreated", "s")
    now = int(time.time() * 1000)
    assert sink([(now, "{}")])
    logs_client.delete_log_group(logGroupName="/metrics/recreated")
    assert sink([(now + 1, '{"again":1}')])
    assert [e["message"] for e in read_events(logs_client, "/metrics/recreated", "s")] == [
        '{"again":1}'
    ]


def test_stdout_mode(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    init: Callable[..., otelkit.Telemetry],
) -> None:
    monkeypatch.setenv("OTELKIT_CLOUDWATCH_OUTPUT", "stdout")
    business_metrics(init, "lambda-fn").shutdown(timeout=5)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    for record in records:
        check_emf(record)
    assert sum(emf_values(records, "orders.placed")) == N
    assert emf_values(records, "checkout.duration")[0]["Count"] == N
