"""``otelkit health URL``: a running service's readiness report; exit 0 ready, 1 not."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.cli.apps import ReadinessScript
from tests.cli.conftest import json_of, run_otelkit
from tests.fixtures.servers import free_port, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def flag(tmp_path: Path) -> Path:
    flag = tmp_path / "database-up"
    flag.touch()
    return flag


@pytest.fixture
def service(tmp_path: Path, flag: Path) -> Iterator[ReadinessScript]:
    running = ReadinessScript(tmp_path, flag)
    yield running
    running.stop()


@pytest.mark.integration
def test_a_ready_service_exits_0_with_each_check(service: ReadinessScript) -> None:
    result = run_otelkit("health", service.listener)
    assert result.returncode == 0, result.stdout
    assert f"{service.listener}/readyz: ready, status healthy (HTTP 200)" in result.stdout
    database = next(line for line in result.stdout.splitlines() if "database" in line)
    assert "pass" in database
    assert "yes" in database  # critical


@pytest.mark.integration
def test_a_failing_critical_check_exits_1_naming_it(service: ReadinessScript, flag: Path) -> None:
    flag.unlink()
    # readiness results are cached for a second: wait for the report to change
    wait_until(lambda: run_otelkit("health", service.listener).returncode == 1, 10, "not ready")
    report = json_of(run_otelkit("health", f"{service.listener}/readyz", "-o", "json"))
    assert report["ready"] is False
    assert report["http_status"] == 503
    assert report["status"] == "unhealthy"
    assert report["checks"]["database"]["status"] == "fail"
    assert report["checks"]["database"]["error"] == "ConnectionError"
    assert report["checks"]["cache"]["status"] == "pass"
    text = run_otelkit("health", service.listener).stdout
    assert "not ready, status unhealthy (HTTP 503)" in text


@pytest.mark.integration
def test_a_configured_readiness_path_is_followed(tmp_path: Path, flag: Path) -> None:
    """The same OTELKIT_HEALTH_READINESS_PATH as the service: host:port finds its report."""
    service = ReadinessScript(tmp_path, flag, readiness_path="/api/ready")
    try:
        result = run_otelkit(
            "health", service.listener, env={"OTELKIT_HEALTH_READINESS_PATH": "/api/ready"}
        )
        elsewhere = run_otelkit("health", service.listener)
    finally:
        service.stop()
    assert result.returncode == 0, result.stdout
    assert f"{service.listener}/api/ready: ready" in result.stdout
    assert elsewhere.returncode == 1  # /readyz is not served there
    assert "answered HTTP 404" in elsewhere.stdout


def test_nothing_answering_is_not_ready() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run_otelkit("health", url)
    assert result.returncode == 1
    assert f"not ready: cannot reach {url}/readyz" in result.stdout
