"""Every outgoing call is one ``http.client.request.duration`` measurement and one CLIENT span,
whichever library makes it, with the stable semantic-convention attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from otelkit import testing
from otelkit.testing import points, spans
from tests.fixtures.servers import free_port
from tests.http_client._clients import FAILURES, LIBRARIES, REFUSED, TIMEOUT, get

if TYPE_CHECKING:
    import otelkit
    from tests.http_client.conftest import Loopback

DURATION = "http.client.request.duration"


def _measured(telemetry: otelkit.Telemetry) -> list[dict[str, Any]]:
    return [
        {**dict(p.attributes), "count": p.count} for p in points(telemetry, DURATION) if p.count
    ]


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("status", [200, 404, 500])
def test_a_response_is_measured_with_its_status(
    telemetry: otelkit.Telemetry, loopback: Loopback, library: str, status: int
) -> None:
    """Method, server address and port, scheme and status; a 4xx or 5xx is an error, named by
    its status code (the conventions' rule for clients)."""
    assert get(library, loopback.url(f"/status/{status}")) == status
    expected: dict[str, Any] = {
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "server.port": loopback.port,
        "url.scheme": "http",
        "http.response.status_code": status,
        "count": 1,
    }
    if status >= 400:
        expected["error.type"] = str(status)
    assert _measured(telemetry) == [expected]


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_call_has_a_client_span_named_by_its_method(
    telemetry: otelkit.Telemetry, loopback: Loopback, library: str
) -> None:
    """The span is CLIENT, named ``GET``, with the full URL minus its query; a 500 sets its
    status to ERROR."""
    get(library, loopback.url("/status/500?page=2"))
    (span,) = spans(telemetry)
    assert span.kind is SpanKind.CLIENT
    assert span.name == "GET"
    assert span.attributes is not None
    assert span.attributes["url.full"] == loopback.url("/status/500")
    assert span.attributes["error.type"] == "500"
    assert span.status.status_code is StatusCode.ERROR


@pytest.mark.parametrize("library", LIBRARIES)
def test_the_trace_context_arrives_at_the_server(
    telemetry: otelkit.Telemetry, loopback: Loopback, library: str
) -> None:
    """The request carries a W3C ``traceparent`` naming the client span (through the configured
    propagator), so the server's span becomes its child."""
    get(library, loopback.url())
    (span,) = spans(telemetry)
    context = span.get_span_context()
    assert context is not None
    traceparent = loopback.last("traceparent")
    assert context.trace_flags.sampled
    assert traceparent == (
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    )


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_refused_connection_is_measured_as_an_error(
    telemetry: otelkit.Telemetry, library: str
) -> None:
    """No response: no status code, ``error.type`` names the exception, which reaches the
    caller unchanged."""
    port = free_port()
    with pytest.raises(FAILURES):
        get(library, f"http://127.0.0.1:{port}/")
    (measured,) = _measured(telemetry)
    assert "http.response.status_code" not in measured
    assert measured["error.type"] == REFUSED[library]
    assert measured["server.port"] == port


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_timeout_is_measured_as_an_error(
    telemetry: otelkit.Telemetry, loopback: Loopback, library: str
) -> None:
    """A response that does not come in time: the timeout's exception is the ``error.type``,
    and the duration is about the timeout."""
    with pytest.raises(FAILURES):
        get(library, loopback.url("/slow"), timeout=0.2)
    (point,) = [p for p in points(telemetry, DURATION) if p.count]
    assert dict(point.attributes)["error.type"] == TIMEOUT[library]
    assert 0.15 < point.sum < 0.9


def test_the_metric_is_declared_with_the_semconv_buckets(
    telemetry: otelkit.Telemetry, loopback: Loopback
) -> None:
    """The conventions' advisory boundaries (0.005 … 10 s), unit seconds."""
    get("httpx", loopback.url())
    data = testing.metrics(telemetry)
    assert data is not None
    (metric,) = [
        m
        for r in data.resource_metrics
        for s in r.scope_metrics
        for m in s.metrics
        if m.name == DURATION
    ]
    assert metric.unit == "s"
    (point,) = metric.data.data_points
    assert tuple(point.explicit_bounds) == (
        0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    )  # fmt: skip
