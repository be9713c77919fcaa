"""The status page's real surroundings: the shop app under uvicorn, and headless Chromium.

``shop`` serves tests/status/apps/status_shop.py with uvicorn on free loopback ports (the app
and otelkit's metrics listener), configured only through the environment; ``browser`` is the
Debian ``chromium`` driven by Selenium through the system ``chromedriver`` (nothing is
downloaded: Selenium Manager is told to stay offline).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.fixtures.servers import (
    REQUIRE_SERVERS,
    free_port,
    require_binary,
    spawn_logged,
    stop_process,
    wait_until,
)

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator, Mapping

APPS_DIR = Path(__file__).parent / "apps"


class Shop:
    """The shop app in a uvicorn subprocess; ``metrics`` is otelkit's listener."""

    def __init__(self, workdir: Path, extra_env: Mapping[str, str]) -> None:
        self.port, metrics_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics = f"http://127.0.0.1:{metrics_port}"
        self.metrics_target = f"127.0.0.1:{metrics_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(APPS_DIR), env.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
            OTEL_SERVICE_NAME="status-shop",
            OTEL_EXPORTER_PROMETHEUS_PORT=str(metrics_port),
            **extra_env,
        )
        self._log = workdir / "shop.log"
        command = [sys.executable, "-m", "uvicorn", "status_shop:app", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--no-access-log", "--log-level", "warning"]
        self._process: subprocess.Popen[bytes] = spawn_logged(
            command, env=env, cwd=workdir, log_path=self._log
        )
        try:
            wait_until(self._ready, timeout=30, what="the shop to serve")
        except AssertionError as exc:
            self.stop()
            raise AssertionError(f"{exc}\n{self.output()}") from None

    def _ready(self) -> bool:
        if self._process.poll() is not None:
            raise RuntimeError(f"the shop exited on start\n{self.output()}")
        return requests.get(f"{self.metrics}/status", timeout=2).status_code == 200

    def output(self) -> str:
        return self._log.read_text(errors="replace")[-20_000:] or "(no output)"

    def report_section(self) -> tuple[str, str]:
        return "output of the shop", self.output()

    def stop(self) -> None:
        stop_process(self._process)


@pytest.fixture(scope="module")
def shop_env() -> dict[str, str]:
    """Extra environment of the module's shop (a module overrides it)."""
    return {}


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, shop_env: dict[str, str]) -> Iterator[Shop]:
    server = Shop(tmp_path_factory.mktemp("shop"), shop_env)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium at 1280 x 1400, its console kept (``get_log("browser")``)."""
    chromium = require_binary("chromium", "/usr/bin/chromium")
    chromedriver = require_binary("chromedriver", "/usr/bin/chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        if REQUIRE_SERVERS:
            pytest.fail("OTELKIT_REQUIRE_SERVERS=1: selenium is not installed (dev group)")
        pytest.skip("selenium is not installed (dev group)")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in CI containers
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1400",
        "--force-prefers-reduced-motion",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    try:
        yield driver
    finally:
        driver.quit()
