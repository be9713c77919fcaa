"""With only the core dependencies installed, otelkit works and names the extra it lacks."""

from __future__ import annotations

import importlib.util

import pytest

import otelkit

pytestmark = pytest.mark.core_only


def _absent(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:  # a parent package is missing
        return True


def test_the_extras_are_really_absent() -> None:
    """This module only proves something in an environment without the otlp extra."""
    assert _absent("grpc")
    assert _absent("opentelemetry.exporter.otlp.proto.http")


def test_prometheus_works_with_the_core_alone() -> None:
    telemetry = otelkit.init_telemetry("core", prometheus_port=0)
    telemetry.meter.create_counter("core.events").add(1)
    assert telemetry.shutdown()


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_otlp_without_the_extra_names_it(protocol: str) -> None:
    """Choosing otlp without its packages fails at init with the pip command to run."""
    with pytest.raises(otelkit.ConfigError, match=r"pip install 'otelkit\[otlp\]'"):
        otelkit.init_telemetry("core", exporters="otlp", otlp_protocol=protocol)


def test_system_without_psutil_names_the_extra() -> None:
    with pytest.raises(otelkit.ConfigError, match=r"pip install 'otelkit\[system\]'"):
        otelkit.init_telemetry("core", prometheus_port=0, instrument="system")


def test_celery_without_celery_names_the_extra() -> None:
    with pytest.raises(otelkit.ConfigError, match=r"pip install 'otelkit\[celery\]'"):
        otelkit.init_telemetry("core", prometheus_port=0, instrument="celery")
