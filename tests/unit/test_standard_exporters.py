"""OpenTelemetry's own extension points: exporter packages by entry-point name, and
OTEL_RESOURCE_DETECTORS."""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING, Any

import pytest

import otelkit
from otelkit.runtime import _load

if TYPE_CHECKING:
    from tests.fixtures.otlp_receiver import OtlpReceiver


@pytest.fixture(autouse=True)
def _no_detectors(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_RESOURCE_DETECTORS", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(name, raising=False)


def test_an_exporter_package_is_used_by_its_entry_point_name(
    otlp_http: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`otlp_proto_http` is not an otelkit plugin: opentelemetry-exporter-otlp-proto-http
    registers it; its classes are created as the SDK's auto-configuration creates them."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_http.endpoint)
    telemetry = otelkit.init_telemetry(
        "orders", exporters={"metrics": "otlp_proto_http", "traces": "otlp_proto_http"}
    )
    try:
        with telemetry.tracer.start_as_current_span("checkout"):
            telemetry.meter.create_counter("orders.placed").add(2)
        assert telemetry.force_flush()
        (span,) = otlp_http.wait_for(lambda: otlp_http.spans("checkout"))
        assert span["resource"]["service.name"] == "orders"
        points = otlp_http.wait_for(lambda: otlp_http.metrics("orders.placed"))
        assert points[-1]["value"] == 2
    finally:
        telemetry.shutdown()


def test_the_exporters_shorthand_takes_the_signals_an_exporter_package_registers() -> None:
    loaded = _load.load_settings({"exporters": "otlp_proto_grpc"}, {})
    assert loaded.settings.plugin_names == ("otlp_proto_grpc",)
    assert loaded.plugins["otlp_proto_grpc"].signals == {"metrics", "traces", "logs"}
    own = loaded.plugins["otlp_proto_grpc"].own_loggers
    assert own == ("opentelemetry.exporter.otlp.proto.grpc",)  # not urllib3, requests, grpc


def test_the_applications_records_from_transport_libraries_are_still_bridged(
    otlp_http: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exporter package keeps its own loggers out of the logs signal, not those of the
    libraries it sends through: the application's urllib3, requests and grpc records (its own
    HTTP clients', its own gRPC services') are still delivered."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_http.endpoint)
    telemetry = otelkit.init_telemetry(
        "orders", exporters={"logs": "otlp_proto_http"}, instrument="logging"
    )
    try:
        for name in ("urllib3.connectionpool", "requests", "grpc._server"):
            logging.getLogger(name).warning("from %s", name)
        logging.getLogger("opentelemetry.exporter.otlp.proto.http").warning("the exporter's own")
        assert telemetry.force_flush()
        bodies = otlp_http.wait_for(
            lambda: (b := {r["body"] for r in otlp_http.logs()}) >= {"from grpc._server"} and b
        )
    finally:
        telemetry.shutdown()
    assert {"from urllib3.connectionpool", "from requests", "from grpc._server"} <= bodies
    assert "the exporter's own" not in bodies


def test_an_unknown_exporter_name_lists_the_packages_ones_too() -> None:
    with pytest.raises(otelkit.ConfigError) as caught:
        _load.load_settings({}, {"OTEL_TRACES_EXPORTER": "otlp_proto_htp"})
    message = str(caught.value)
    assert "(did you mean 'otlp_proto_http'?)" in message
    assert "otlp_proto_grpc" in message.split("Accepted: ")[1]


# --- OTEL_RESOURCE_DETECTORS ---------------------------------------------------------------


def _resource(telemetry: otelkit.Telemetry) -> dict[str, Any]:
    assert telemetry._pipeline is not None
    return dict(telemetry._pipeline.resource.attributes)


def test_resource_detectors_add_their_attributes_under_otelkits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_DETECTORS", "process,os")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "os.type=plan9")
    telemetry = otelkit.init_telemetry("orders", exporters="memory")
    try:
        attributes = _resource(telemetry)
    finally:
        telemetry.shutdown()
    assert attributes["process.parent_pid"] == os.getppid()  # from `process`
    assert "os.version" in attributes  # from `os`
    assert attributes["os.type"] == "plan9"  # the user's attributes win
    assert attributes["service.name"] == "orders"
    assert attributes["process.pid"] == os.getpid()


def test_the_keyword_names_detectors_too() -> None:
    telemetry = otelkit.init_telemetry("orders", exporters="memory", resource_detectors="host")
    try:
        assert "host.arch" in _resource(telemetry)
    finally:
        telemetry.shutdown()


def test_an_unknown_detector_is_a_config_error_listing_the_installed_ones() -> None:
    with pytest.raises(otelkit.ConfigError) as caught:
        _load.load_settings({}, {"OTEL_RESOURCE_DETECTORS": "process,procss"})
    message = str(caught.value)
    assert message.startswith("OTEL_RESOURCE_DETECTORS='process,procss' is not valid: ")
    assert "no resource detector named 'procss' is installed (did you mean 'process'?)" in message
    assert "installed: " in message
    assert "host, os, otel, process" in message


def test_process_detectors_run_again_in_a_forked_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_DETECTORS", "process,os")
    telemetry = otelkit.init_telemetry("orders", exporters="memory")
    try:
        parent = _resource(telemetry)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report its resource, exit without pytest's teardown
            status = 1
            try:
                os.write(write, json.dumps(_resource(telemetry), default=str).encode())
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        with os.fdopen(read) as pipe:
            child = json.loads(pipe.read())
        assert os.waitpid(pid, 0)[1] == 0
    finally:
        telemetry.shutdown()
    assert parent["process.parent_pid"] == os.getppid()
    assert child["process.parent_pid"] == os.getpid()  # the detector ran again in the child
    assert child["process.pid"] == pid
    assert child["service.instance.id"] != parent["service.instance.id"]
    assert child["os.version"] == parent["os.version"]
