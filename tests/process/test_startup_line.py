"""Start-up says what it did: one line per configuration naming the service, the environment
and where each signal goes, without a credential in it."""

from __future__ import annotations

import logging
import string
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import otelkit
from otelkit.runtime._announce import announce
from otelkit.runtime._load import instantiate, load_settings
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from tests.fixtures.otlp_receiver import HttpReceiver

# RFC 3986 userinfo characters (unreserved and sub-delims), percent-encoding aside.
USERINFO = string.ascii_letters + string.digits + "-._~!$&'()*+,;="


def startup_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("otelkit: service ")]


def line_for(environ: dict[str, str], caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    """The start-up record for a configuration, from the real settings and plugins (nothing is
    started: no listener, no exporter thread)."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="otelkit"):
        loaded = load_settings({}, environ)
        announce(loaded.settings, instantiate(loaded))
    (record,) = startup_records(caplog)
    return record


def test_development_defaults_name_the_metrics_url_and_the_signals_that_are_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Development: INFO, the metrics URL where the listener really serves, traces and logs off
    with the variable that turns them on."""
    port = free_port()
    with caplog.at_level(logging.INFO, logger="otelkit"):
        telemetry = otelkit.init_telemetry(service_name="orders", prometheus_port=port)
    telemetry.shutdown()

    (record,) = startup_records(caplog)
    assert record.levelno == logging.INFO
    assert record.getMessage() == (
        "otelkit: service 'orders' in development: "
        f"metrics at http://127.0.0.1:{port}/metrics; "
        "traces off (set OTEL_TRACES_EXPORTER); logs off (set OTEL_LOGS_EXPORTER)"
    )


def test_each_configuration_says_it_once(caplog: pytest.LogCaptureFixture) -> None:
    """A second configuration (after shutdown) logs its own line; a repeated call none."""
    with caplog.at_level(logging.INFO, logger="otelkit"):
        first = otelkit.init_telemetry(service_name="one", prometheus_port=0)
        with pytest.warns(RuntimeWarning, match="already called"):
            otelkit.init_telemetry(service_name="ignored")
        first.shutdown()
        otelkit.init_telemetry(service_name="two", prometheus_port=0).shutdown()

    services = [r.getMessage().split("'")[1] for r in startup_records(caplog)]
    assert services == ["one", "two"]


def test_without_a_listener_the_line_points_to_the_mountable_app(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Port 0: the metrics are served only where the application mounts them."""
    record = line_for({"OTEL_EXPORTER_PROMETHEUS_PORT": "0", "OTEL_SERVICE_NAME": "s"}, caplog)
    assert "metrics through otelkit.metrics_app() only (OTEL_EXPORTER_PROMETHEUS_PORT=0)" in (
        record.getMessage()
    )


def test_production_without_an_otlp_endpoint_is_a_warning_naming_the_variable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Production sends OTLP; with no endpoint configured that is localhost: a WARNING."""
    record = line_for({"OTELKIT_ENVIRONMENT": "production", "OTEL_SERVICE_NAME": "orders"}, caplog)

    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith("otelkit: service 'orders' in production: ")
    assert "metrics to OTLP http/protobuf http://localhost:4318/v1/metrics" in message
    assert "traces to OTLP http/protobuf http://localhost:4318/v1/traces" in message
    assert "logs off (set OTEL_LOGS_EXPORTER)" in message
    assert "No OTLP endpoint is configured for metrics, traces" in message
    assert message.endswith("set OTEL_EXPORTER_OTLP_ENDPOINT to the collector's URL")


def test_production_with_an_endpoint_for_every_otlp_signal_is_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Per-signal endpoints count as configured; the line is INFO and names each one."""
    record = line_for(
        {
            "OTELKIT_ENVIRONMENT": "production",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "https://metrics.example:4318/v1/metrics",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example/v1/traces",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        },
        caplog,
    )
    assert record.levelno == logging.INFO
    assert "metrics to OTLP http/protobuf https://metrics.example:4318/v1/metrics" in (
        record.getMessage()
    )
    assert "traces to OTLP http/protobuf https://traces.example/v1/traces" in record.getMessage()


def test_production_sending_to_a_real_collector(
    otlp_http: HttpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    """A full production start-up against a real receiver: INFO, the endpoint's credentials
    masked, the collector still reached with them."""
    # Values no other test logs: a configured secret stays registered for the redaction filter.
    endpoint = otlp_http.endpoint.replace("http://", "http://startup-user-7f3a:s3cr3t-pass-9d2e@")
    with caplog.at_level(logging.INFO, logger="otelkit"):
        telemetry = otelkit.init_telemetry(
            service_name="orders",
            environment="production",
            otlp_endpoint=endpoint,
            traces_exporters="none",
        )
    assert telemetry.shutdown()

    (record,) = startup_records(caplog)
    assert record.levelno == logging.INFO
    assert "s3cr3t-pass-9d2e" not in record.getMessage()
    assert "startup-user-7f3a" not in record.getMessage()
    masked = otlp_http.endpoint.replace("http://", "http://REDACTED:REDACTED@")
    assert f"metrics to OTLP http/protobuf {masked}/v1/metrics" in record.getMessage()
    assert otlp_http.requests_for("metrics")


@settings(max_examples=40, deadline=None)
@given(
    user=st.text(USERINFO, min_size=8, max_size=30),
    password=st.text(USERINFO, min_size=8, max_size=30),
    header=st.text(string.printable.strip(), min_size=8, max_size=40),
)
def test_credentials_never_appear(user: str, password: str, header: str) -> None:
    """Whatever the user information and header values, the line shows neither."""
    environ = {
        "OTELKIT_ENVIRONMENT": "production",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"https://{user}:{password}@collector.example:4318/",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": (
            f"https://{password}@traces.example/v1/traces?key={quote(user, safe='')}"
        ),
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization={quote(header, safe='')}",
    }
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    otelkit_logger = logging.getLogger("otelkit")
    otelkit_logger.addHandler(handler)
    level = otelkit_logger.level
    otelkit_logger.setLevel(logging.INFO)
    try:
        loaded = load_settings({}, environ)
        announce(loaded.settings, instantiate(loaded))
    finally:
        otelkit_logger.removeHandler(handler)
        otelkit_logger.setLevel(level)

    (line,) = [r.getMessage() for r in records if r.getMessage().startswith("otelkit: service")]
    for secret in (user, quote(user, safe=""), password, header, quote(header, safe="")):
        assert secret not in line
    assert "https://REDACTED:REDACTED@collector.example:4318/v1/metrics" in line
    assert "https://REDACTED@traces.example/v1/traces?key=REDACTED" in line
