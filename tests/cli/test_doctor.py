"""``otelkit doctor``: the configuration as init_telemetry() resolves it, and every exporter
tried for real. Exit 0 healthy, 1 problems found (the fix named), 2 configuration error."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from tests.cli.conftest import json_of, run_otelkit
from tests.fixtures.servers import free_port, stop_process

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.fixtures.otlp_receiver import OtlpReceiver


def test_a_healthy_configuration_exits_0_and_shows_every_value_with_its_source(
    metrics_port: int,
) -> None:
    """Defaults and variables side by side; the Prometheus port is free."""
    result = run_otelkit(
        "doctor",
        env={"OTEL_SERVICE_NAME": "shop", "OTEL_EXPORTER_PROMETHEUS_PORT": str(metrics_port)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "service shop" in result.stdout
    assert f"127.0.0.1:{metrics_port} is free" in result.stdout
    assert "healthy" in result.stdout.splitlines()[-1]
    report = json_of(
        run_otelkit(
            "doctor",
            "--output",
            "json",
            env={"OTEL_SERVICE_NAME": "shop", "OTEL_EXPORTER_PROMETHEUS_PORT": str(metrics_port)},
        )
    )
    sources = {row["name"]: (row["value"], row["source"]) for row in report["settings"]}
    assert sources["OTEL_SERVICE_NAME"] == ("shop", "variable")
    assert sources["OTEL_EXPORTER_PROMETHEUS_PORT"] == (metrics_port, "variable")
    assert sources["OTEL_TRACES_SAMPLER"] == ("parentbased_always_on", "default")
    assert report["status"] == "healthy"
    assert report["exit_code"] == 0


def test_a_bad_value_exits_2_naming_the_variable() -> None:
    result = run_otelkit("doctor", env={"OTEL_TRACES_SAMPLER": "sometimes"})
    assert result.returncode == 2
    assert "OTEL_TRACES_SAMPLER='sometimes' is not valid" in result.stdout
    assert "parentbased_always_on" in result.stdout  # the accepted values are the fix
    report = json_of(run_otelkit("doctor", "-o", "json", env={"OTEL_TRACES_SAMPLER": "sometimes"}))
    assert report["status"] == "configuration error"
    assert "OTEL_TRACES_SAMPLER" in report["findings"][0]["detail"]


@pytest.mark.integration
@pytest.mark.parametrize("otlp_receiver", ["http/protobuf", "grpc"], indirect=True)
def test_a_live_otlp_receiver_is_reached_with_the_configured_protocol(
    otlp_receiver: OtlpReceiver, metrics_port: int
) -> None:
    result = run_otelkit(
        "doctor",
        "-o",
        "json",
        env={
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": otlp_receiver.protocol,
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint,
        },
    )
    report = json_of(result)
    assert result.returncode == 0, report["findings"]
    otlp = {f["check"]: f for f in report["findings"] if f["check"].startswith("otlp")}
    assert set(otlp) == {"otlp metrics", "otlp traces"}
    assert all(f["status"] == "ok" for f in otlp.values())
    assert otlp_receiver.endpoint.removeprefix("http://") in otlp["otlp metrics"]["detail"]


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_an_otlp_endpoint_that_is_down_exits_1_naming_it(protocol: str) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    result = run_otelkit(
        "doctor",
        env={
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        },
    )
    assert result.returncode == 1, result.stdout
    problems = result.stdout.split("problem(s) found", 1)[1]
    assert endpoint in problems
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in problems  # the fix names the variable


@pytest.fixture
def port_holder() -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """Another process listening on a port, as a second service on the machine would."""
    port = free_port()
    code = (
        "import socket, time\n"
        "s = socket.socket()\n"
        f"s.bind(('127.0.0.1', {port}))\n"
        "s.listen()\n"
        "print('listening', flush=True)\n"
        "time.sleep(120)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "listening"
    yield port, holder
    stop_process(holder)
    holder.stdout.close()


def test_a_prometheus_port_held_by_another_process_names_that_process(
    port_holder: tuple[int, subprocess.Popen[str]],
) -> None:
    port, holder = port_holder
    result = run_otelkit("doctor", env={"OTEL_EXPORTER_PROMETHEUS_PORT": str(port)})
    assert result.returncode == 1
    report = json_of(
        run_otelkit("doctor", "-o", "json", env={"OTEL_EXPORTER_PROMETHEUS_PORT": str(port)})
    )
    (finding,) = [f for f in report["findings"] if f["check"] == "prometheus port"]
    assert finding["status"] == "problem"
    assert f"127.0.0.1:{port} is held by pid {holder.pid}" in finding["detail"]
    assert "-c import socket, time" in finding["detail"]  # its command line, to recognise it
    assert "OTEL_EXPORTER_PROMETHEUS_PORT" in finding["fix"]


def test_a_misspelt_standard_variable_exits_1_with_the_right_name(metrics_port: int) -> None:
    result = run_otelkit(
        "doctor",
        "-o",
        "json",
        env={"OTEL_TRACE_EXPORTER": "otlp", "OTEL_EXPORTER_PROMETHEUS_PORT": str(metrics_port)},
    )
    assert result.returncode == 1
    (finding,) = [f for f in json_of(result)["findings"] if f["status"] == "problem"]
    assert finding["check"] == "variable OTEL_TRACE_EXPORTER"
    assert finding["fix"] == "rename it to OTEL_TRACES_EXPORTER"


def test_an_alert_rule_on_a_metric_nothing_emits_is_a_problem(
    tmp_path: pytest.TempPathFactory, metrics_port: int
) -> None:
    rules = tmp_path / "rules.yaml"  # type: ignore[operator]
    rules.write_text(
        "rules:\n"
        "  - name: SlowCheckout\n"
        "    metric: http.server.request.duraton\n"
        "    aggregation: p95\n"
        "    threshold: 0.5\n"
    )
    result = run_otelkit(
        "doctor",
        "-o",
        "json",
        env={
            "OTELKIT_ALERT_RULES_FILE": str(rules),
            "OTEL_EXPORTER_PROMETHEUS_PORT": str(metrics_port),
        },
    )
    assert result.returncode == 1
    (finding,) = [f for f in json_of(result)["findings"] if f["status"] == "problem"]
    assert finding["check"] == "alert rule SlowCheckout"
    assert "did you mean 'http.server.request.duration'" in finding["detail"]


@pytest.mark.integration
def test_the_probe_sends_the_configured_credentials(otlp_http: OtlpReceiver) -> None:
    """Headers and URL credentials go with the probe, as the exporter sends them."""
    endpoint = otlp_http.endpoint.replace("http://", "http://collector:pa%3Ass@")
    result = run_otelkit(
        "doctor",
        env={
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_HEADERS": "api-key=k3y",
        },
    )
    assert result.returncode == 0, result.stdout
    assert otlp_http.headers["api-key"] == "k3y"
    assert otlp_http.headers["authorization"] == "Basic Y29sbGVjdG9yOnBhOnNz"  # collector:pa:ss
    assert "pa%3Ass" not in result.stdout


def test_default_alert_rules_on_system_metrics_that_are_off_can_never_fire() -> None:
    result = run_otelkit(
        "doctor",
        env={
            "OTELKIT_ALERTS": "on",
            "OTELKIT_SYSTEM_METRICS": "off",
            "OTELKIT_ALERT_DEFAULT_RULES": "cpu,error_rate",
            "OTEL_EXPORTER_PROMETHEUS_PORT": "0",
        },
    )
    assert result.returncode == 1
    problems = result.stdout.split("problem(s) found", 1)[1]
    assert "alert rule HighCpuUsage: reads system.cpu.utilization" in problems
    assert "pip install 'otelkit[system]'" in problems  # shown as written, not as a style
    assert "HighErrorRate" not in problems


@pytest.mark.parametrize(
    ("environment", "status"), [("development", "warning"), ("production", "problem")]
)
def test_a_held_default_port_warns_in_development_and_fails_in_production(
    environment: str, status: str
) -> None:
    """In development the application moves on to the next free port, so doctor only warns."""
    import errno
    import socket

    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 9464))
        holder.listen()
    except OSError as exc:  # already held by something else: the situation under test anyway
        if exc.errno != errno.EADDRINUSE:
            raise
    env = {
        "OTELKIT_ENVIRONMENT": environment,
        "OTEL_METRICS_EXPORTER": "prometheus",
        "OTEL_TRACES_EXPORTER": "none",
    }
    try:
        report = json_of(run_otelkit("doctor", "-o", "json", env=env))
    finally:
        holder.close()
    (finding,) = [f for f in report["findings"] if f["check"] == "prometheus port"]
    assert finding["status"] == status
    assert "127.0.0.1:9464" in finding["detail"]
    assert "OTEL_EXPORTER_PROMETHEUS_PORT" in finding["fix"]
    if status == "warning":
        assert "next free port" in finding["detail"]
