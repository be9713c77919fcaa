"""The Prometheus text exposition: OTel names per the spec, output that real parsers accept."""

from __future__ import annotations

import subprocess

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client.parser import text_string_to_metric_families

from otelkit.exporters.prometheus._exposition import metric_name, render
from tests.fixtures.servers import require_binary


@pytest.mark.parametrize(
    ("name", "unit", "kind", "expected"),
    [
        ("http.server.request.duration", "s", "histogram", "http_server_request_duration_seconds"),
        ("http.server.active_requests", "{request}", "gauge", "http_server_active_requests"),
        ("orders.placed", "{order}", "counter", "orders_placed_total"),
        ("system.memory.usage", "By", "gauge", "system_memory_usage_bytes"),
        ("system.cpu.utilization", "1", "gauge", "system_cpu_utilization_ratio"),
        ("queue.drain", "1/s", "gauge", "queue_drain_1_per_second"),
        ("net.io", "By/s", "counter", "net_io_bytes_per_second_total"),
        ("already_seconds", "s", "histogram", "already_seconds"),
        ("jobs_total", "", "counter", "jobs_total"),
        ("2xx.count", "", "gauge", "_2xx_count"),
        ("weird--name!!", "%", "gauge", "weird_name_percent"),
    ],
)
def test_metric_names_follow_the_otel_prometheus_rules(
    name: str, unit: str, kind: str, expected: str
) -> None:
    assert metric_name(name, unit, kind) == expected


def exposition() -> str:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    meter = provider.get_meter("shop", "1.2")
    counter = meter.create_counter("orders.placed", unit="{order}", description="Orders placed")
    for _ in range(3):
        counter.add(1, {"tier": "gold", "path": 'a "quoted"\\ value\nnext'})
    counter.add(2, {"tier": "free"})
    histogram = meter.create_histogram(
        "checkout.duration", unit="s", explicit_bucket_boundaries_advisory=[0.1, 1.0]
    )
    for value in (0.05, 0.5, 0.7, 3.0):
        histogram.record(value, {"http.request.method": "GET"})
    meter.create_up_down_counter("jobs.active").add(-2)
    meter.create_gauge("fill.ratio", unit="1").set(0.25)
    data = reader.get_metrics_data()
    provider.shutdown()
    resource = Resource({"service.name": "shop", "deployment.environment.name": "test"})
    return render(data, resource).decode()


def test_a_real_parser_reads_back_every_value() -> None:
    """prometheus_client's own parser reads the values we wrote, labels unescaped."""
    families = {f.name: f for f in text_string_to_metric_families(exposition())}
    orders = {s.labels["tier"]: s for s in families["orders_placed"].samples}
    assert orders["gold"].value == 3
    assert orders["gold"].labels["path"] == 'a "quoted"\\ value\nnext'
    assert orders["gold"].labels["otel_scope_name"] == "shop"
    assert orders["gold"].labels["otel_scope_version"] == "1.2"
    assert orders["free"].value == 2
    assert families["orders_placed"].documentation == "Orders placed"

    samples = {
        (s.name, s.labels.get("le")): s.value for s in families["checkout_duration_seconds"].samples
    }
    assert samples[("checkout_duration_seconds_bucket", "0.1")] == 1
    assert samples[("checkout_duration_seconds_bucket", "1.0")] == 3
    assert samples[("checkout_duration_seconds_bucket", "+Inf")] == 4
    assert samples[("checkout_duration_seconds_count", None)] == 4
    assert samples[("checkout_duration_seconds_sum", None)] == pytest.approx(4.25)
    assert families["checkout_duration_seconds"].samples[0].labels["http_request_method"] == "GET"

    assert families["jobs_active"].type == "gauge"
    assert families["jobs_active"].samples[0].value == -2
    assert families["fill_ratio"].samples[0].value == 0.25


def test_resource_goes_to_target_info() -> None:
    families = {f.name: f for f in text_string_to_metric_families(exposition())}
    (sample,) = families["target_info"].samples
    assert sample.labels == {"service_name": "shop", "deployment_environment_name": "test"}
    assert sample.value == 1


def test_promtool_accepts_the_exposition() -> None:
    """Prometheus' own linter finds no error in what we serve."""
    promtool = require_binary("promtool")
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition(),
        capture_output=True,
        text=True,
        check=False,
    )
    # promtool exits 3 for lint warnings (e.g. naming advice) and 1 for errors.
    assert result.returncode in (0, 3), result.stdout + result.stderr
    assert "error" not in (result.stdout + result.stderr).lower()


def test_attributes_named_like_reserved_labels_are_renamed() -> None:
    """An attribute `le` or `otel.scope.name` cannot break the scrape: it becomes exported_*."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    meter = provider.get_meter("odd")
    meter.create_histogram("odd.duration", unit="s").record(
        0.3, {"le": "x", "otel.scope.name": "y"}
    )
    text = render(reader.get_metrics_data(), Resource({})).decode()
    provider.shutdown()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    bucket = families["odd_duration_seconds"].samples[0]
    assert bucket.labels["exported_le"] == "x"
    assert bucket.labels["exported_otel_scope_name"] == "y"
    assert bucket.labels["otel_scope_name"] == "odd"
    promtool = require_binary("promtool")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode in (0, 3), result.stdout + result.stderr


def test_empty_collection_still_serves_target_info() -> None:
    text = render(None, Resource({"service.name": "idle"})).decode()
    assert 'target_info{service_name="idle"} 1' in text
