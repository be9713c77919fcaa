"""OTLP mode: a loopback receiver verifies each request's SigV4 signature and decodes it."""

from __future__ import annotations

import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from .conftest import REGION

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import otelkit

pytestmark = pytest.mark.integration

KEY, SECRET = "AKIDTESTTESTTEST", "test-secret-key"
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[^,]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})"
)


class Received:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with received.lock:
                received.requests.append((self.path, dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()
    thread.join(5)


def verify_sigv4(url: str, headers: dict[str, str], body: bytes) -> str:
    """Recompute the signature with botocore from the same test credentials; return the service."""
    lower = {k.lower(): v for k, v in headers.items()}
    match = _AUTH.fullmatch(lower["authorization"])
    assert match, lower["authorization"]
    assert match["key"] == KEY
    assert match["region"] == REGION
    signed = match["signed"].split(";")
    assert "host" in signed
    assert "x-amz-date" in signed
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={name: lower[name] for name in signed if name != "host"},
    )
    request.context["timestamp"] = lower["x-amz-date"]
    auth = SigV4Auth(Credentials(KEY, SECRET), match["service"], REGION)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    assert expected == match["signature"], "the SigV4 signature does not verify"
    return match["service"]


def test_otlp_mode_signs_every_signal_with_sigv4(
    receiver: tuple[str, Received],
    monkeypatch: pytest.MonkeyPatch,
    init: Callable[..., otelkit.Telemetry],
) -> None:
    base, received = receiver
    monkeypatch.setenv("OTELKIT_CLOUDWATCH_MODE", "otlp")
    monkeypatch.setenv("OTELKIT_CLOUDWATCH_ENDPOINT_URL", base)
    monkeypatch.setenv("OTEL_LOGS_EXPORTER", "cloudwatch")
    telemetry = init(
        "orders",
        exporters={"metrics": "cloudwatch", "traces": "cloudwatch"},
        instrument="logging",
    )
    logging.getLogger("orders").warning("stock low")
    telemetry.meter.create_counter("orders.placed").add(3)
    with telemetry.tracer.start_as_current_span("checkout"):
        pass
    assert telemetry.force_flush(timeout=10)
    telemetry.shutdown(timeout=5)

    services: dict[str, str] = {}
    decoded: dict[str, Any] = {}
    for path, headers, body in received.requests:
        services[path] = verify_sigv4(base + path, headers, body)
        if path == "/v1/traces":
            decoded[path] = ExportTraceServiceRequest.FromString(body)
        elif path == "/v1/metrics":
            decoded[path] = ExportMetricsServiceRequest.FromString(body)
        elif path == "/v1/logs":
            decoded[path] = ExportLogsServiceRequest.FromString(body)
            assert headers["x-aws-log-group"] == "/metrics/orders"
    assert services["/v1/traces"] == "xray"
    assert services["/v1/metrics"] == "monitoring"
    assert services["/v1/logs"] == "logs"
    bodies = [
        record.body.string_value
        for rl in decoded["/v1/logs"].resource_logs
        for sl in rl.scope_logs
        for record in sl.log_records
    ]
    assert "stock low" in bodies

    spans = [
        span
        for rs in decoded["/v1/traces"].resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]
    assert [s.name for s in spans] == ["checkout"]
    assert len(spans[0].trace_id) == 16
    points = [
        point.as_int
        for rm in decoded["/v1/metrics"].resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == "orders.placed"
        for point in metric.sum.data_points
    ]
    assert points == [3]


def test_otlp_endpoints_default_to_the_region() -> None:
    from otelkit_cloudwatch import OTLP_TARGETS

    assert OTLP_TARGETS["traces"][1].format(region="eu-west-1") == (
        "https://xray.eu-west-1.amazonaws.com/v1/traces"
    )
