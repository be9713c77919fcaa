"""otelkit's OTLP/HTTP span exporter sends otelkit's own encoding through the SDK's exporter.

The seam (``export.otlp_span_encoding`` in ``otelkit._sdk_export``) is the serialization step
of the SDK's ``OTLPSpanExporter.export``: everything else (retries, timeouts, compression,
headers, the size limit, failure accounting) stays the SDK's. A release that changed that
step fails the probe, with one WARNING, and the SDK's exporter is used as it is.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.exporter.otlp.proto.http import trace_exporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

import otelkit
from otelkit import _sdk_compat, _sdk_export, testing
from tests.fixtures.sdk_changes import rename

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExportResult

    from tests.fixtures.otlp_receiver import OtlpReceiver

SEAM = _sdk_export.OTLP_SPAN_ENCODING


@pytest.fixture(autouse=True)
def _no_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")) and name != "OTELKIT_REQUIRE_SERVERS":
            monkeypatch.delenv(name)


@pytest.fixture
def patch() -> Iterator[pytest.MonkeyPatch]:
    patcher = pytest.MonkeyPatch()
    yield patcher
    patcher.undo()
    _sdk_compat.probe_all()


def copying_export(patch: pytest.MonkeyPatch) -> None:
    """A release whose ``export`` copies the batch into a list before encoding it."""
    original = OTLPSpanExporter.export

    def export(self: OTLPSpanExporter, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return original(self, list(spans))

    patch.setattr(OTLPSpanExporter, "export", export)


def orders(receiver: OtlpReceiver, **options: Any) -> tuple[list[Any], tuple[ReadableSpan, ...]]:
    """A few spans exported over OTLP/HTTP and kept in memory: (requests received, spans)."""
    telemetry = otelkit.init_telemetry(
        service_name="orders",
        traces_exporters="otlp,memory",
        otlp_endpoint=receiver.endpoint,
        **options,
    )
    try:
        with telemetry.tracer.start_as_current_span("order", attributes={"items": 3}) as span:
            span.add_event("paid", {"amount": 9.5, "currency": "EUR"})
            with telemetry.tracer.start_as_current_span("reserve", attributes={"ok": True}):
                pass
        assert telemetry.force_flush(timeout=5) is True
        receiver.wait_for(lambda: receiver.spans("order"))
        return receiver.requests_for("traces"), testing.spans(telemetry)
    finally:
        telemetry.shutdown()


def test_the_seam_holds_on_the_installed_sdk() -> None:
    assert _sdk_compat.probe_all()[SEAM] is True


def test_the_receiver_gets_what_the_sdks_encoder_would_have_sent(otlp_http: OtlpReceiver) -> None:
    (request,), spans = orders(otlp_http)
    assert request.message == sdk_encode(spans)
    assert request.content_encoding is None


def test_compression_and_headers_stay_the_sdks(otlp_http: OtlpReceiver) -> None:
    (request,), spans = orders(
        otlp_http, otlp_compression="gzip", otlp_headers={"x-tenant": "acme"}
    )
    assert request.content_encoding == "gzip"
    assert request.headers["x-tenant"] == "acme"
    assert request.message == sdk_encode(spans)


def test_otelkits_exporter_is_the_sdks_exporter_class() -> None:
    exporter = _sdk_export.own_span_encoding(
        lambda spans: b"", {"endpoint": "http://127.0.0.1:9/v1/traces"}
    )
    try:
        assert isinstance(exporter, OTLPSpanExporter)
        assert type(exporter) is not OTLPSpanExporter
    finally:
        exporter.shutdown()


@pytest.mark.parametrize("change", ["copying export", "renamed encode_spans"])
def test_a_changed_serialization_step_fails_the_seam_with_one_warning(
    patch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, change: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="otelkit"):
        if change == "copying export":
            copying_export(patch)
        else:
            rename(trace_exporter, "encode_spans", patch)
        results = _sdk_compat.probe_all()
        _sdk_compat.probe_all()  # a second probe does not warn again
    assert results[SEAM] is False
    (warning,) = [r.getMessage() for r in caplog.records if SEAM in r.getMessage()]
    assert _sdk_compat.SEAMS[SEAM].fallback in warning


def test_without_the_seam_the_sdks_exporter_sends_the_spans(
    patch: pytest.MonkeyPatch, otlp_http: OtlpReceiver
) -> None:
    copying_export(patch)
    _sdk_compat.probe_all()
    exporter = _sdk_export.own_span_encoding(
        lambda spans: b"never sent", {"endpoint": "http://127.0.0.1:9/v1/traces"}
    )
    exporter.shutdown()
    assert type(exporter) is OTLPSpanExporter

    (request,), spans = orders(otlp_http)
    assert [span["name"] for span in otlp_http.spans()] == ["reserve", "order"]
    assert request.message == sdk_encode(spans)
