"""The operations stack: a real Prometheus that loads rule files, scraping a real shop.

``ops_stack(rule_files)`` (a factory fixture) gives a running ``OpsStack``:

- ``stack.app``: the shop of ``apps/ops_shop.py`` under uvicorn, service name and job
  ``shop``, FastAPI + SQLAlchemy on the session's PostgreSQL, 20 % of ``/orders/{n}``
  answering 500, system metrics on and a health check ``db``. A background thread sends it
  about 25 requests a second (orders and items) for as long as the session runs.
- ``stack.prometheus``: a Prometheus of its own (scrape and evaluation interval 1 s) that
  scrapes the shop as job ``shop`` and has loaded ``rule_files`` (a reload per call; the
  rules of the previous call are replaced). ``query()``, ``wait_for()`` as in
  ``tests/fixtures/prometheus.py``, plus ``rules()``, ``alerts()`` and ``wait_until()``.

Both are started once per session, on the first use::

    def test_rules_load(ops_stack, tmp_path):
        path = tmp_path / "rules.yaml"
        path.write_text(render_yaml(generate(load_catalog(None), service="shop")))
        stack = ops_stack([path])
        assert all(rule["health"] == "ok" for rule in stack.rules())

The dashboards reuse it to evaluate every panel query against the same series.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.fixtures.prometheus import PrometheusServer
from tests.fixtures.servers import (
    free_port,
    require_binary,
    spawn_logged,
    stop_process,
    untraced,
    wait_until,
)

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Iterator, Sequence

    from tests.fixtures.postgres import PostgresServer

APPS_DIR = Path(__file__).parent / "apps"
JOB = "shop"
ERROR_SHARE = 0.2
"""Every fifth order fails: the share of 5xx among ``/orders`` requests."""


class RulesPrometheus(PrometheusServer):
    """A Prometheus whose configuration also lists rule files (``load_rules()``)."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.rule_files: list[Path] = []
        super().__init__(binary, workdir)

    def load_rules(self, rule_files: Sequence[Path]) -> None:
        """Evaluate exactly ``rule_files`` from now on (a reload; Prometheus checks them)."""
        self.rule_files = list(rule_files)
        self._reload()

    def _write_config(self) -> None:
        super()._write_config()
        config = json.loads(self._config.read_text())
        config["rule_files"] = [str(path) for path in self.rule_files]
        self._config.write_text(json.dumps(config, indent=2))

    def ensure_scraped(self, job: str, target: str) -> None:
        """Scrape ``target`` as ``job`` unless it is scraped already (one reload at most)."""
        if job not in self._jobs:
            self.scrape(job, target)

    def rules(self) -> list[dict[str, Any]]:
        """Every rule Prometheus evaluates, as /api/v1/rules lists it (health, lastError...)."""
        groups = self._api("rules")["groups"]
        return [rule for group in groups for rule in group["rules"]]

    def alerts(self) -> list[dict[str, Any]]:
        """The pending and firing alerts, as /api/v1/alerts lists them."""
        alerts: list[dict[str, Any]] = self._api("alerts")["alerts"]
        return alerts

    def wait_until(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        self._poll(check, timeout, what)


class ShopApp:
    """The shop under uvicorn, and a thread sending it traffic."""

    def __init__(self, workdir: Path, database_url: str) -> None:
        self.port = free_port()
        self.metrics_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_target = f"127.0.0.1:{self.metrics_port}"
        self.log_path = workdir / "shop.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(APPS_DIR), env.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
            OTEL_SERVICE_NAME=JOB,
            OTEL_EXPORTER_PROMETHEUS_PORT=str(self.metrics_port),
            OTELKIT_SYSTEM_METRICS="on",
            SHOP_DATABASE_URL=database_url,
        )
        self._process: subprocess.Popen[bytes] = spawn_logged(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "ops_shop:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
            ],
            env=env,
            cwd=workdir,
            log_path=self.log_path,
        )
        try:
            wait_until(self._serves, timeout=60, what="the shop to serve")
        except AssertionError:
            self.stop()
            raise AssertionError(f"the shop did not start:\n{self.log_path.read_text()}") from None
        self._stopping = threading.Event()
        self.requests_sent = 0
        self._traffic = threading.Thread(target=self._send_traffic, daemon=True)
        self._traffic.start()

    def _serves(self) -> bool:
        if self._process.poll() is not None:
            raise AssertionError(f"the shop exited:\n{self.log_path.read_text()}")
        return requests.get(f"{self.url}/items/1", timeout=2).status_code == 200

    def _send_traffic(self) -> None:
        with untraced(), requests.Session() as session:
            while not self._stopping.is_set():
                n = self.requests_sent
                path = f"/orders/{n // 2}" if n % 2 == 0 else f"/items/{n}"
                with contextlib.suppress(requests.RequestException):
                    session.get(self.url + path, timeout=5)
                self.requests_sent += 1
                self._stopping.wait(0.04)

    def report_section(self) -> tuple[str, str]:
        return ("shop output", self.log_path.read_text(errors="replace")[-5000:])

    def stop(self) -> None:
        if hasattr(self, "_stopping"):
            self._stopping.set()
            self._traffic.join(timeout=10)
        stop_process(self._process)


@dataclass(frozen=True)
class OpsStack:
    """The running shop and the Prometheus that scrapes it and evaluates the rules."""

    app: ShopApp
    prometheus: RulesPrometheus
    job: str = JOB

    def rules(self) -> list[dict[str, Any]]:
        return self.prometheus.rules()

    def alerts(self) -> list[dict[str, Any]]:
        return self.prometheus.alerts()

    def report_section(self) -> tuple[str, str]:
        return self.app.report_section()


@pytest.fixture(scope="session")
def ops_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RulesPrometheus]:
    """A Prometheus of its own for the operations tests (rule files change its config)."""
    binary = require_binary("prometheus", "/usr/bin/prometheus")
    server = RulesPrometheus(binary, tmp_path_factory.mktemp("ops-prometheus"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def shop_app(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer
) -> Iterator[ShopApp]:
    """The shop, started once per session, with traffic flowing."""
    app = ShopApp(tmp_path_factory.mktemp("shop"), postgres.url())
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture
def ops_stack(
    ops_prometheus: RulesPrometheus, request: pytest.FixtureRequest
) -> Callable[[Sequence[Path]], OpsStack]:
    """A factory: load these rule files into Prometheus, scrape the shop, return the stack."""

    def start(rule_files: Sequence[Path]) -> OpsStack:
        app: ShopApp = request.getfixturevalue("shop_app")
        ops_prometheus.ensure_scraped(JOB, app.metrics_target)
        ops_prometheus.load_rules(rule_files)
        ops_prometheus.wait_for(f'up{{job="{JOB}"}}', 1, timeout=60)
        return OpsStack(app, ops_prometheus)

    return start
