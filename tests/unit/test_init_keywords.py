"""init_telemetry()'s keywords: one typed parameter per setting, checked by mypy and at run time."""

from __future__ import annotations

import inspect
import textwrap
from typing import TYPE_CHECKING

import pytest
from mypy import api as mypy_api

import otelkit
from otelkit.config import _settings
from otelkit.exporters.otlp import OtlpPlugin
from otelkit.exporters.prometheus import PrometheusPlugin
from otelkit.runtime import _load
from otelkit.runtime._telemetry import PluginKeywords, init_telemetry

if TYPE_CHECKING:
    from pathlib import Path

PARAMETERS = inspect.signature(init_telemetry).parameters


def test_every_core_setting_has_its_own_typed_keyword() -> None:
    """Generated from the settings table: a setting added there needs its parameter here."""
    named = {
        name
        for name, p in PARAMETERS.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }
    assert named == {*_settings.core_keywords(), *_load.OTHER_KEYWORDS}
    for name in named:
        assert PARAMETERS[name].default is None, name
        assert PARAMETERS[name].annotation is not inspect.Parameter.empty, name
    assert next(iter(PARAMETERS)) == "service_name"


def test_the_builtin_plugins_keywords_are_typed_too() -> None:
    builtin = {s.kwarg for cls in (PrometheusPlugin, OtlpPlugin) for s in cls.settings}
    assert set(PluginKeywords.__optional_keys__) == builtin
    assert PARAMETERS["plugin_settings"].kind is inspect.Parameter.VAR_KEYWORD


SNIPPET = """
import otelkit

otelkit.init_telemetry(
    "orders",
    exporters="otlp",
    shutdown_timeout=2.5,
    alert_cpu_for="5m",
    resource_detectors=["process"],
    otlp_endpoint="http://collector:4318",
    prometheus_port=9464,
)
otelkit.init_telemetry("orders", exportrs="otlp")
otelkit.init_telemetry("orders", otlp_endpiont="http://collector:4318")
otelkit.init_telemetry("orders", shutdown_timeout="soon")
"""


def test_mypy_reports_a_misspelt_keyword(tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(SNIPPET))
    out, err, status = mypy_api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(script)]
    )
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1, out + err
    assert len(errors) == 3, out
    assert 'app.py:13: error: Unexpected keyword argument "exportrs"' in errors[0]
    assert 'app.py:14: error: Unexpected keyword argument "otlp_endpiont"' in errors[1]
    assert 'app.py:15: error: Argument "shutdown_timeout"' in errors[2]


def test_a_misspelt_keyword_at_run_time_suggests_the_closest_of_all() -> None:
    with pytest.raises(otelkit.ConfigError) as caught:
        otelkit.init_telemetry("orders", exportrs="memory")  # type: ignore[call-arg]
    message = str(caught.value)
    assert "unknown keyword argument 'exportrs' (did you mean 'exporters'?)" in message
    assert "resource_detectors" in message.split("Accepted: ")[1]


def test_typed_keywords_reach_the_settings() -> None:
    telemetry = otelkit.init_telemetry(
        "orders",
        exporters="memory",
        shutdown_timeout=2.5,
        alert_cpu_for="5m",
        http_body_size=True,
        otlp_endpoint="http://collector:4318",
    )
    try:
        settings = telemetry.settings
        assert (settings.shutdown_timeout_s, settings.alert_cpu_for_s) == (2.5, 300.0)
        assert settings.http_body_size
        assert "otlp_endpoint" in settings.given_keywords  # accepted: otlp is not chosen
    finally:
        telemetry.shutdown()
