"""A real Prometheus reads otelkit's OpenMetrics, and its exemplars lead to real traces.

Debian's Prometheus 2.x asks for OpenMetrics first: the units it stores prove the format was
negotiated. With exemplar storage on, ``/api/v1/query_exemplars`` returns the trace ids of the
requests' server spans, the very spans the OTLP receiver got.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import otelkit
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from starlette.requests import Request

    from tests.fixtures.otlp_receiver import OtlpReceiver
    from tests.fixtures.prometheus import PrometheusServer

pytestmark = pytest.mark.integration

DURATION_BUCKETS = "http_server_request_duration_seconds_bucket"


@pytest.fixture(autouse=True)
def _no_configuration_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test states its configuration: OTEL_* and OTELKIT_* variables of the shell are unset."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")) and name != "OTELKIT_REQUIRE_SERVERS":
            monkeypatch.delenv(name)


def test_prometheus_negotiates_openmetrics_and_keeps_units_and_counter_names(
    prometheus: PrometheusServer,
) -> None:
    port = free_port()
    telemetry = otelkit.init_telemetry(service_name="om", prometheus_port=port, instrument="none")

    @otelkit.counted("shipments.sent")
    @otelkit.timed("shipments.packing")
    def ship() -> None:
        pass

    for _ in range(3):
        ship()
    prometheus.scrape("openmetrics-app", target=f"127.0.0.1:{port}")

    prometheus.wait_for('shipments_sent_total{job="openmetrics-app"}', 3)
    prometheus.wait_for('shipments_packing_seconds_count{job="openmetrics-app"}', 3)
    units = {m["metric"]: m["unit"] for m in prometheus.metadata("openmetrics-app")}
    assert units["shipments_packing_seconds"] == "seconds"  # only OpenMetrics carries units
    telemetry.shutdown()


def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def _get(app: Starlette, path: str, times: int) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
        for _ in range(times):
            assert (await client.get(path)).status_code == 200


@pytest.mark.parametrize("otlp_receiver", ["http/protobuf"], indirect=True)
def test_exemplars_in_prometheus_are_the_traces_the_otlp_receiver_got(
    prometheus_exemplars: PrometheusServer, otlp_receiver: OtlpReceiver
) -> None:
    port = free_port()
    telemetry = otelkit.init_telemetry(
        service_name="traced-shop",
        prometheus_port=port,
        exporters={"metrics": "prometheus", "traces": "otlp"},
        otlp_endpoint=otlp_receiver.endpoint,
        otlp_protocol=otlp_receiver.protocol,
    )
    app = Starlette(routes=[Route("/hello", _hello)])
    otelkit.instrument_app(app)
    prometheus_exemplars.scrape("exemplar-app", target=f"127.0.0.1:{port}")
    asyncio.run(_get(app, "/hello", times=5))

    selector = f'{DURATION_BUCKETS}{{job="exemplar-app",http_route="/hello"}}'
    found: list[dict[str, Any]] = []

    def stored() -> bool:
        found[:] = prometheus_exemplars.query_exemplars(selector)
        return bool(found)

    otlp_receiver.wait_for(lambda: stored() or None, timeout=30)
    assert telemetry.force_flush()
    spans = {
        (s["trace_id"], s["span_id"])
        for s in otlp_receiver.spans()
        if s["kind"] == "SPAN_KIND_SERVER"
    }
    for exemplar in found:
        labels = exemplar["labels"]
        assert (labels["trace_id"], labels["span_id"]) in spans
        assert 0 <= float(exemplar["value"]) < 10
    telemetry.shutdown()


@pytest.mark.parametrize("otlp_receiver", ["grpc", "http/protobuf"], indirect=True)
def test_exemplars_travel_over_otlp_with_the_points(otlp_receiver: OtlpReceiver) -> None:
    telemetry = otelkit.init_telemetry(
        service_name="otlp-shop",
        instrument="none",
        exporters={"metrics": "otlp", "traces": "otlp"},
        otlp_endpoint=otlp_receiver.endpoint,
        otlp_protocol=otlp_receiver.protocol,
    )

    @otelkit.counted("parcels.sent")
    @otelkit.timed("parcels.packing")
    def send() -> None:
        pass

    with telemetry.tracer.start_as_current_span("send-parcel"):
        send()
    assert telemetry.force_flush()

    (span,) = otlp_receiver.spans("send-parcel")
    for name in ("parcels.sent", "parcels.packing"):
        (exemplar,) = otlp_receiver.metrics(name)[-1]["exemplars"]
        assert (exemplar["trace_id"], exemplar["span_id"]) == (span["trace_id"], span["span_id"])
    telemetry.shutdown()
