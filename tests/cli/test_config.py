"""``otelkit config``: the effective settings table alone, each value with its source."""

from __future__ import annotations

from tests.cli.conftest import json_of, run_otelkit


def test_json_lists_every_setting_with_its_value_and_source() -> None:
    result = run_otelkit(
        "config",
        "--output",
        "json",
        env={"OTELKIT_ENVIRONMENT": "development", "OTEL_SERVICE_NAME": "shop"},
    )
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json_of(result)["settings"]}
    assert rows["OTELKIT_ENVIRONMENT"] == {
        "name": "OTELKIT_ENVIRONMENT",
        "value": "development",
        "source": "variable",
        "owner": "otelkit",
    }
    assert rows["OTEL_METRICS_EXPORTER"]["value"] == ["prometheus"]
    assert rows["OTEL_METRICS_EXPORTER"]["source"] == "default"
    # the chosen exporter's own settings are listed too, read by it
    assert rows["OTEL_EXPORTER_PROMETHEUS_PORT"]["owner"] == "prometheus"


def test_production_defaults_follow_the_environment() -> None:
    """A default that depends on another setting shows its resolved value."""
    rows = {
        row["name"]: row
        for row in json_of(
            run_otelkit("config", "-o", "json", env={"OTELKIT_ENVIRONMENT": "production"})
        )["settings"]
    }
    assert rows["OTEL_METRICS_EXPORTER"] == {
        "name": "OTEL_METRICS_EXPORTER",
        "value": ["otlp"],
        "source": "default",
        "owner": "otelkit",
    }
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in rows


def test_the_table_shows_values_and_sources() -> None:
    result = run_otelkit("config", env={"OTEL_TRACES_SAMPLER": "always_off"})
    assert result.returncode == 0
    line = next(line for line in result.stdout.splitlines() if "OTEL_TRACES_SAMPLER " in line)
    assert "always_off" in line
    assert "variable" in line


def test_an_unknown_otelkit_variable_is_a_warning_beside_the_table() -> None:
    result = run_otelkit("config", "-o", "json", env={"OTELKIT_SHUTDOWN_TIMOUT": "3"})
    assert result.returncode == 0
    (warning,) = json_of(result)["warnings"]
    assert "OTELKIT_SHUTDOWN_TIMOUT" in warning
    assert "OTELKIT_SHUTDOWN_TIMEOUT" in warning


def test_a_bad_value_exits_2_with_the_error() -> None:
    result = run_otelkit("config", "-o", "json", env={"OTEL_EXPORTER_PROMETHEUS_PORT": "99999"})
    assert result.returncode == 2
    assert "OTEL_EXPORTER_PROMETHEUS_PORT='99999' is not valid" in json_of(result)["error"]


def test_an_unknown_output_format_is_a_usage_error() -> None:
    result = run_otelkit("config", "--output", "yaml")
    assert result.returncode == 2
    assert "'yaml' is not one of 'text', 'json'" in result.stderr
