"""otelkit's OTLP span exporters send otelkit's own encoding through the SDK's exporters.

The seam (``export.otlp_span_encoding`` in ``otelkit._sdk_otlp``) is the serialization step
of the SDK's OTLP/HTTP ``OTLPSpanExporter.export``; for gRPC (``export.otlp_grpc_span_encoding``)
its ``_translate_data``: everything else (retries, timeouts, compression,
headers, the size limit, failure accounting) stays the SDK's. A release that changed that
step fails the probe, with one WARNING, and the SDK's exporter is used as it is.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.exporter.otlp.proto.grpc import trace_exporter as grpc_trace_exporter
from opentelemetry.exporter.otlp.proto.http import trace_exporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext

import otelkit
from otelkit import _sdk_compat, _sdk_otlp, testing
from otelkit.exporters._otlp_spans import encode_spans
from tests.fixtures.sdk_changes import rename

if TYPE_CHECKING:
    from collections.abc import Sequence

    from opentelemetry.sdk.trace.export import SpanExportResult

    from tests.fixtures.otlp_receiver import OtlpReceiver

SEAM = _sdk_otlp.OTLP_SPAN_ENCODING


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
    exporter = _sdk_otlp.own_span_encoding(
        lambda spans: b"", {"endpoint": "http://127.0.0.1:9/v1/traces"}, grpc=False
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
    exporter = _sdk_otlp.own_span_encoding(
        lambda spans: b"never sent", {"endpoint": "http://127.0.0.1:9/v1/traces"}, grpc=False
    )
    exporter.shutdown()
    assert type(exporter) is OTLPSpanExporter

    (request,), spans = orders(otlp_http)
    assert [span["name"] for span in otlp_http.spans()] == ["reserve", "order"]
    assert request.message == sdk_encode(spans)


def test_a_process_that_loads_the_exporter_at_init_probes_the_seam_then() -> None:
    """``init_telemetry()`` probes before the plugin loads the SDK's exporter (a process that
    exports no spans over OTLP/HTTP never loads it): the seam is probed when it is loaded."""
    code = """if True:
        import sys
        import otelkit
        from otelkit import _sdk_otlp
        telemetry = otelkit.init_telemetry(
            "orders", traces_exporters="otlp", otlp_endpoint="http://127.0.0.1:9"
        )
        module = sys.modules["opentelemetry.exporter.otlp.proto.http.trace_exporter"]
        probed = _sdk_otlp._probed_loaded["export.otlp_span_encoding"]
        print(probed, getattr(module.encode_spans, "otelkit_dispatch", None))
        telemetry.shutdown()
    """
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split() == ["True", "True"]


# --- gRPC ----------------------------------------------------------------------------------------

GRPC_SEAM = _sdk_otlp.OTLP_GRPC_SPAN_ENCODING


def test_the_grpc_receiver_gets_what_the_sdks_encoder_would_have_sent(
    otlp_grpc: OtlpReceiver,
) -> None:
    assert _sdk_compat.probe_all()[GRPC_SEAM] is True
    requests, spans = orders(otlp_grpc, otlp_protocol="grpc")
    (request,) = requests
    assert request.message == sdk_encode(spans)


def test_a_changed_grpc_translation_fails_its_seam_and_the_sdks_exporter_sends(
    patch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, otlp_grpc: OtlpReceiver
) -> None:
    """A release whose export no longer goes through ``_translate_data`` (simulated: it
    encodes with the SDK's encoder itself)."""
    exporter_class = grpc_trace_exporter.OTLPSpanExporter
    original = exporter_class._export

    def export(self: Any, data: Any) -> Any:
        patch.setattr(self, "_translate_data", sdk_encode, raising=False)
        return original(self, data)

    patch.setattr(exporter_class, "_export", export)
    with caplog.at_level(logging.WARNING, logger="otelkit"):
        assert _sdk_compat.probe_all()[GRPC_SEAM] is False
    (warning,) = [r.getMessage() for r in caplog.records if GRPC_SEAM in r.getMessage()]
    assert _sdk_compat.SEAMS[GRPC_SEAM].fallback in warning

    requests, spans = orders(otlp_grpc, otlp_protocol="grpc")
    (request,) = requests
    assert request.message == sdk_encode(spans)


def test_otelkits_grpc_exporter_translates_a_batch_as_the_sdk_does() -> None:
    spans = [
        ReadableSpan("order", SpanContext(1, 2, False)),
        ReadableSpan("reserve", SpanContext(1, 3, False)),
    ]
    exporter = _sdk_otlp.own_span_encoding(
        encode_spans, {"endpoint": "127.0.0.1:9", "insecure": True}, grpc=True
    )
    try:
        assert isinstance(exporter, grpc_trace_exporter.OTLPSpanExporter)
        assert type(exporter) is not grpc_trace_exporter.OTLPSpanExporter
        assert exporter._translate_data(spans) == sdk_encode(spans)
    finally:
        exporter.shutdown()
