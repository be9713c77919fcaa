"""A taken metrics port: in development with the default port the process serves on the next
free one and says where; in production, or with the port set explicitly, it is a ConfigError."""

from __future__ import annotations

import contextlib
import errno
import logging
import re
import socket
from typing import TYPE_CHECKING

import pytest

import otelkit
from otelkit.exporters.prometheus._bind import FALLBACK_PORTS, listen
from tests.fixtures.scrape import scrape_metrics
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

DEFAULT_PORT = 9464


@contextlib.contextmanager
def taken(port: int) -> Iterator[None]:
    """Hold ``port`` on 127.0.0.1 (if another process already holds it, it stays taken)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
        try:
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
        yield


class _Nothing:
    token = None

    def scrape(self) -> bytes:
        return b"# EOF\n"


def test_in_development_a_taken_default_port_moves_on_and_says_where(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Default port, development: the process serves on another port, a WARNING names it and
    the start-up line agrees."""
    monkeypatch.delenv("OTEL_EXPORTER_PROMETHEUS_PORT", raising=False)
    with taken(DEFAULT_PORT), caplog.at_level(logging.INFO, logger="otelkit"):
        telemetry = otelkit.init_telemetry(service_name="beside")
    try:
        moved = next(r for r in caplog.records if "is already in use" in r.getMessage())
        assert moved.levelno == logging.WARNING
        url = re.search(r"serves its metrics at (http://\S+/metrics)", moved.getMessage())
        assert url is not None
        assert "Set OTEL_EXPORTER_PROMETHEUS_PORT to choose the port" in moved.getMessage()
        startup = next(r for r in caplog.records if r.getMessage().startswith("otelkit: service"))
        assert f"metrics at {url.group(1)};" in startup.getMessage()
        assert scrape_metrics(url.group(1)).samples["target_info"]
    finally:
        telemetry.shutdown()


@pytest.mark.parametrize("environment", ["production", "staging"])
def test_in_production_a_taken_default_port_is_a_config_error(
    environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Production (and staging): the port Prometheus scrapes is part of the deployment."""
    monkeypatch.delenv("OTEL_EXPORTER_PROMETHEUS_PORT", raising=False)
    with taken(DEFAULT_PORT), pytest.raises(otelkit.ConfigError) as error:
        otelkit.init_telemetry(
            service_name="strict", environment=environment, metrics_exporters="prometheus"
        )
    assert "127.0.0.1:9464" in str(error.value)
    assert "OTEL_EXPORTER_PROMETHEUS_PORT=9464" in str(error.value)


def test_a_port_set_in_the_environment_that_is_taken_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """OTEL_EXPORTER_PROMETHEUS_PORT names the port Prometheus scrapes: no moving on."""
    port = free_port()
    monkeypatch.setenv("OTEL_EXPORTER_PROMETHEUS_PORT", str(port))
    with taken(port), pytest.raises(otelkit.ConfigError) as error:
        otelkit.init_telemetry(service_name="strict")
    assert f"OTEL_EXPORTER_PROMETHEUS_PORT={port}: cannot listen on 127.0.0.1:{port}" in str(
        error.value
    )


def test_a_port_given_as_keyword_that_is_taken_is_a_config_error() -> None:
    """init_telemetry(prometheus_port=...) is explicit too."""
    port = free_port()
    with taken(port), pytest.raises(otelkit.ConfigError) as error:
        otelkit.init_telemetry(service_name="strict", prometheus_port=port)
    assert f"init_telemetry(prometheus_port=...)={port}" in str(error.value)


def test_processes_of_one_server_move_to_the_same_port() -> None:
    """Pre-fork workers (SO_REUSEPORT) that find the port taken try the same ports in the same
    order, so they still share one port and add up."""
    port = free_port()
    sources = ("OTEL_EXPORTER_PROMETHEUS_HOST", "OTEL_EXPORTER_PROMETHEUS_PORT")
    with taken(port):
        first = listen("127.0.0.1", port, _Nothing(), sources, reuse_port=True, movable=True)
        second = listen("127.0.0.1", port, _Nothing(), sources, reuse_port=True, movable=True)
    try:
        assert first.port == second.port != port
        assert port < first.port <= port + FALLBACK_PORTS
    finally:
        first.close()
        second.close()


def test_a_bad_host_is_still_a_config_error_when_the_port_may_move() -> None:
    """Only "address in use" moves on; any other bind failure is the error it was."""
    sources = ("OTEL_EXPORTER_PROMETHEUS_HOST", "OTEL_EXPORTER_PROMETHEUS_PORT")
    with pytest.raises(otelkit.ConfigError, match=r"OTEL_EXPORTER_PROMETHEUS_HOST='192\.0\.2\.1'"):
        listen("192.0.2.1", free_port(), _Nothing(), sources, reuse_port=False, movable=True)
