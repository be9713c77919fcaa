"""OTLP export end to end: otelkit, the SDK's exporters and a real OTLP receiver on loopback."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import pytest

from otelkit import init_telemetry

if TYPE_CHECKING:
    from tests.fixtures.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

PROTOCOLS = ["grpc", "http/protobuf"]


@pytest.fixture(autouse=True)
def _no_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees only the OTEL_* / OTELKIT_* variables it sets itself."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("otlp_receiver", PROTOCOLS, indirect=True)
def test_metrics_spans_and_logs_reach_the_receiver(otlp_receiver: OtlpReceiver) -> None:
    """Counters, histograms, spans and stdlib log records arrive with the service's resource."""
    telemetry = init_telemetry(
        service_name="orders",
        exporters={"metrics": "otlp", "traces": "otlp", "logs": "otlp"},
        otlp_endpoint=otlp_receiver.endpoint,
        otlp_protocol=otlp_receiver.protocol,
    )
    placed = telemetry.meter.create_counter("orders.placed")
    for _ in range(7):
        placed.add(1, {"channel": "web"})
    telemetry.meter.create_histogram("orders.amount", unit="EUR").record(42.5)
    with telemetry.tracer.start_as_current_span("place-order"):
        logging.getLogger("orders").warning("order %s declined", "A-17")

    assert telemetry.force_flush()

    counter = otlp_receiver.metrics("orders.placed")[-1]
    assert counter["value"] == 7
    assert counter["attributes"] == {"channel": "web"}
    histogram = otlp_receiver.metrics("orders.amount")[-1]
    assert (histogram["kind"], histogram["count"], histogram["sum"]) == ("histogram", 1, 42.5)
    [span] = otlp_receiver.spans("place-order")
    [record] = [r for r in otlp_receiver.logs() if r["scope"] == "orders"]
    assert record["body"] == "order A-17 declined"
    assert record["severity_text"] == "WARNING"
    assert record["trace_id"] == span["trace_id"]  # the record was logged inside the span

    for item in (counter, histogram, span, record):
        assert item["resource"]["service.name"] == "orders"
        assert item["resource"]["deployment.environment.name"] == "development"
        assert item["resource"]["service.instance.id"] == span["resource"]["service.instance.id"]


@pytest.mark.parametrize("otlp_receiver", PROTOCOLS, indirect=True)
def test_headers_are_sent_percent_decoded(
    otlp_receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_EXPORTER_OTLP_HEADERS go with every export request, values percent-decoded."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc%20def,X-Tenant=acme")
    telemetry = init_telemetry(
        service_name="orders",
        exporters="otlp",
        otlp_endpoint=otlp_receiver.endpoint,
        otlp_protocol=otlp_receiver.protocol,
    )
    telemetry.meter.create_counter("orders.placed").add(1)
    with telemetry.tracer.start_as_current_span("place-order"):
        pass

    assert telemetry.force_flush()

    assert {r.signal for r in otlp_receiver.requests} == {"metrics", "traces"}
    for request in otlp_receiver.requests:
        assert request.headers["api-key"] == "abc def"
        assert request.headers["x-tenant"] == "acme"  # gRPC metadata names are lower case


def test_per_signal_endpoint_overrides_the_generic_one(
    otlp_http: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is for spans; metrics keep the generic one."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"{otlp_http.endpoint}/generic")
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{otlp_http.endpoint}/spans/v1/traces"
    )
    telemetry = init_telemetry(service_name="orders", exporters="otlp")
    telemetry.meter.create_counter("orders.placed").add(1)
    with telemetry.tracer.start_as_current_span("place-order"):
        pass

    assert telemetry.force_flush()

    assert {r.path for r in otlp_http.requests_for("traces")} == {"/spans/v1/traces"}
    assert {r.path for r in otlp_http.requests_for("metrics")} == {"/generic/v1/metrics"}
    assert [s["name"] for s in otlp_http.spans()] == ["place-order"]


def test_gzip_compression(otlp_http: OtlpReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_EXPORTER_OTLP_COMPRESSION=gzip sends gzip-encoded bodies that decode as usual."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    telemetry = init_telemetry(
        service_name="orders", exporters="otlp", otlp_endpoint=otlp_http.endpoint
    )
    telemetry.meter.create_counter("orders.placed").add(3)
    with telemetry.tracer.start_as_current_span("place-order"):
        pass

    assert telemetry.force_flush()

    assert {r.content_encoding for r in otlp_http.requests} == {"gzip"}
    assert otlp_http.metrics("orders.placed")[-1]["value"] == 3
    assert [s["name"] for s in otlp_http.spans()] == ["place-order"]


def test_production_exports_metrics_and_traces_over_otlp_by_default(
    otlp_http: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In production, setting OTEL_EXPORTER_OTLP_ENDPOINT alone sends metrics and traces there."""
    monkeypatch.setenv("OTELKIT_ENVIRONMENT", "production")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_http.endpoint)
    telemetry = init_telemetry(service_name="orders")
    telemetry.meter.create_counter("orders.placed").add(2)
    with telemetry.tracer.start_as_current_span("place-order"):
        pass

    assert telemetry.force_flush()

    counter = otlp_http.metrics("orders.placed")[-1]
    assert counter["value"] == 2
    assert counter["resource"]["deployment.environment.name"] == "production"
    assert [s["name"] for s in otlp_http.spans()] == ["place-order"]
    assert otlp_http.requests_for("logs") == []  # log export stays opt-in
