"""``otelkit version`` and the command itself."""

from __future__ import annotations

from importlib import metadata

from tests.cli.conftest import json_of, run_otelkit


def test_version_names_otelkit_and_the_sdk_it_runs_with() -> None:
    versions = json_of(run_otelkit("version", "-o", "json"))
    assert versions["otelkit"] == metadata.version("otelkit")
    assert versions["opentelemetry-sdk"] == metadata.version("opentelemetry-sdk")


def test_help_lists_every_verb() -> None:
    result = run_otelkit("--help")
    assert result.returncode == 0
    for verb in ("doctor", "config", "scrape", "health", "alerts", "version"):
        assert f" {verb} " in result.stdout


def test_an_unknown_verb_is_a_usage_error() -> None:
    result = run_otelkit("doctr")
    assert result.returncode == 2
    assert "No such command 'doctr'" in result.stderr
