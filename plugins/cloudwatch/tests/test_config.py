"""Validation at init_telemetry(): region, mode, dimensions, credentials; defaults."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import pytest
from otelkit_cloudwatch import CloudWatchPlugin

import otelkit
from otelkit.exporters import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable


def config_error(**kwargs: object) -> str:
    try:
        telemetry = otelkit.init_telemetry("orders", **kwargs)  # type: ignore[arg-type]
    except ConfigError as error:
        return str(error)
    telemetry.shutdown(timeout=5)
    pytest.fail("init_telemetry() accepted the configuration")


def test_plugin_is_registered_by_entry_point() -> None:
    (point,) = entry_points(group="otelkit.exporters", name="cloudwatch")
    assert point.load() is CloudWatchPlugin


def test_missing_region_is_named_with_its_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    message = config_error(exporters={"metrics": "cloudwatch"})
    assert "AWS_REGION is not set" in message
    assert "eu-west-1" in message


@pytest.mark.parametrize("value", ["Ireland", "eu_west_1", "eu-west", "https://eu-west-1"])
def test_malformed_region_is_named_with_its_shape(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("AWS_REGION", value)
    message = config_error(exporters={"metrics": "cloudwatch"})
    assert message.startswith("AWS_REGION=")
    assert "eu-west-1" in message


def test_bad_mode_lists_the_accepted_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELKIT_CLOUDWATCH_MODE", "xray")
    message = config_error(exporters={"metrics": "cloudwatch"})
    assert "OTELKIT_CLOUDWATCH_MODE='xray' is not valid" in message
    assert "`emf`, `otlp`" in message


def test_bad_output_lists_the_accepted_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELKIT_CLOUDWATCH_OUTPUT", "file")
    assert "`logs`, `stdout`" in config_error(exporters={"metrics": "cloudwatch"})


def test_emf_mode_refuses_traces(monkeypatch: pytest.MonkeyPatch) -> None:
    message = config_error(exporters={"metrics": "cloudwatch", "traces": "cloudwatch"})
    assert "OTEL_TRACES_EXPORTER" in message
    assert "OTELKIT_CLOUDWATCH_MODE=otlp" in message


def test_more_than_30_dimensions_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELKIT_CLOUDWATCH_DIMENSIONS", ",".join(f"k{i}" for i in range(31)))
    message = config_error(exporters={"metrics": "cloudwatch"})
    assert "OTELKIT_CLOUDWATCH_DIMENSIONS" in message
    assert "at most 30" in message


def test_aws_namespace_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELKIT_CLOUDWATCH_NAMESPACE", "AWS/EC2")
    assert "OTELKIT_CLOUDWATCH_NAMESPACE='AWS/EC2'" in config_error(
        exporters={"metrics": "cloudwatch"}
    )


def test_no_credentials_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    message = config_error(exporters={"metrics": "cloudwatch"})
    assert "no AWS credentials" in message
    assert "OTELKIT_CLOUDWATCH_OUTPUT=stdout" in message


def test_defaults_come_from_the_service_name(
    monkeypatch: pytest.MonkeyPatch, init: Callable[..., otelkit.Telemetry]
) -> None:
    monkeypatch.setenv("OTELKIT_CLOUDWATCH_OUTPUT", "stdout")
    telemetry = init("orders", exporters={"metrics": "cloudwatch"})
    options = telemetry.settings.exporter_options["cloudwatch"]
    assert options["region"] == "eu-west-1"
    assert options["mode"] == "emf"
    plugin = CloudWatchPlugin(options, telemetry.settings)
    assert plugin.namespace == "orders"
    assert plugin.log_group == "/metrics/orders"
    assert plugin.otlp_target("traces") == (
        "xray",
        "https://xray.eu-west-1.amazonaws.com/v1/traces",
    )
    assert plugin.otlp_target("metrics")[0] == "monitoring"


def test_importing_the_plugin_does_not_import_botocore() -> None:
    """otelkit imports every installed plugin to list its settings: that must stay cheap."""
    code = "import sys, otelkit_cloudwatch; print('botocore' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "False"


def test_export_interval_is_the_core_setting(
    monkeypatch: pytest.MonkeyPatch, init: Callable[..., otelkit.Telemetry]
) -> None:
    monkeypatch.setenv("OTELKIT_CLOUDWATCH_OUTPUT", "stdout")
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "1234")
    telemetry = init("orders", exporters={"metrics": "cloudwatch"})
    plugin = CloudWatchPlugin(telemetry.settings.exporter_options["cloudwatch"], telemetry.settings)
    reader = plugin.metric_reader(None)  # type: ignore[arg-type]
    try:
        assert reader._export_interval_millis == 1234
    finally:
        reader.shutdown()


def test_keywords_from_a_dict_override_the_variables(
    monkeypatch: pytest.MonkeyPatch, init: Callable[..., otelkit.Telemetry]
) -> None:
    """The README's form for type-checked code: the plugin's keywords, outside the typed
    signature, passed from a ``dict[str, Any]``; accepted at run time over the variables."""
    message = config_error(exporters={"metrics": "cloudwatch"}, cloudwatch_regoin="eu-west-1")
    assert "unknown keyword argument 'cloudwatch_regoin'" in message
    assert "did you mean 'cloudwatch_region'?" in message
    monkeypatch.setenv("OTELKIT_CLOUDWATCH_NAMESPACE", "FromEnv")
    cloudwatch: dict[str, Any] = {
        "cloudwatch_region": "eu-central-1",
        "cloudwatch_output": "stdout",
        "cloudwatch_namespace": "Shop",
    }
    telemetry = init("orders", exporters={"metrics": "cloudwatch"}, **cloudwatch)
    options = telemetry.settings.exporter_options["cloudwatch"]
    assert (options["region"], options["output"], options["namespace"]) == (
        "eu-central-1",
        "stdout",
        "Shop",
    )
