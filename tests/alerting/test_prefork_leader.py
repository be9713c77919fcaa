"""Under a pre-fork server one process evaluates the alert rules, on every worker's data.

A real gunicorn with three sync workers serves the shop app (``init_telemetry()`` in each
worker, configured by the environment) with the Prometheus exporter's shared directory set.
A third of the requests answer 500, spread over the workers: the error-rate alert must reach
the webhook exactly once (not once per worker), with the ratio of the whole server. Then the
process holding the lease is killed: another takes over and notifies again, once.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from otelkit.alerting._lease import LEASE_FILE
from tests.fixtures.servers import free_port, spawn_logged, stop_process, wait_until

if TYPE_CHECKING:
    import subprocess

    from tests.alerting.conftest import WebhookReceiver

pytestmark = pytest.mark.integration

APPS_DIR = Path(__file__).parents[1] / "e2e" / "apps"
GUNICORN_CONF = APPS_DIR / "gunicorn_prefork_conf.py"
WORKERS = 3
BOOTED = re.compile(r"Booting worker with pid: (\d+)")


def _booted(log: Path) -> set[int]:
    return {int(pid) for pid in BOOTED.findall(log.read_text(errors="replace"))}


def _holder(directory: Path) -> int | None:
    try:
        text = (directory / LEASE_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _start(
    tmp_path: Path, webhook: WebhookReceiver, app: str, *options: str
) -> tuple[subprocess.Popen[bytes], Path, Path, int]:
    """gunicorn with three workers on a free port; its shared directory and log."""
    state = tmp_path / "state"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(APPS_DIR), env.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
        OTEL_SERVICE_NAME="alerts-prefork",
        OTEL_EXPORTER_PROMETHEUS_PORT=str(free_port()),
        OTELKIT_PROMETHEUS_MULTIPROCESS_DIR=str(state),
        OTELKIT_SYSTEM_METRICS="off",
        OTELKIT_ALERT_WEBHOOK_URL=webhook.url,
        OTELKIT_ALERT_WEBHOOK_RETRIES="0",
        OTELKIT_ALERT_INTERVAL="0.3",
        OTELKIT_ALERT_WINDOW="5m",
        OTELKIT_ALERT_DEFAULT_RULES="error_rate",
        OTELKIT_ALERT_ERROR_RATE_FOR="0",
    )
    log = tmp_path / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", app, "--config", str(GUNICORN_CONF)]
    command += ["--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}", *options]
    server = spawn_logged(command, env=env, cwd=tmp_path, log_path=log)
    return server, state, log, port


def _fail_a_third(port: int) -> set[int]:
    """120 requests, a third answering 500; the pids of the workers that served /pid."""
    paths = ["/status/500", "/pid", "/pid"] * 40

    def get(path: str) -> int | None:
        answer = requests.get(f"http://127.0.0.1:{port}{path}", timeout=10)
        return None if path == "/status/500" else int(answer.json()["pid"])

    with ThreadPoolExecutor(8) as pool:
        return {pid for pid in pool.map(get, paths) if pid is not None}


def test_one_process_notifies_and_another_takes_over_when_it_dies(
    tmp_path: Path, webhook: WebhookReceiver
) -> None:
    server, state, log, port = _start(tmp_path, webhook, "prefork_flask:create_app()")
    try:
        wait_until(lambda: len(_booted(log)) >= WORKERS, 60, "three workers booted")
        wait_until(lambda: _holder(state) in _booted(log), 30, "a worker holds the lease")
        assert len(_fail_a_third(port)) >= 2, "the requests reached several workers"

        (first,) = webhook.wait_for(1, timeout=30)
        assert first.body["alertname"] == "HighErrorRate"
        assert first.body["status"] == "firing"
        time.sleep(3)  # ten evaluation periods: nobody else notifies
        assert len(webhook.received) == 1

        leader = _holder(state)
        assert leader is not None
        assert leader in _booted(log)
        os.kill(leader, signal.SIGKILL)
        wait_until(
            lambda: (holder := _holder(state)) not in (None, leader) and _alive(holder),
            30,
            "another process holds the lease",
        )
        second = webhook.wait_for(2, timeout=30)[1]
        assert (second.body["alertname"], second.body["status"]) == ("HighErrorRate", "firing")
        # The whole server's ratio: the killed worker's requests still count.
        assert second.body["value"] == pytest.approx(1 / 3, abs=0.02)
        time.sleep(3)
        assert len(webhook.received) == 2
    finally:
        stop_process(server)


def test_with_preload_the_master_configured_before_the_fork_is_the_only_one_to_notify(
    tmp_path: Path, webhook: WebhookReceiver
) -> None:
    """``--preload``: init_telemetry() ran in the master, whose engine competes too."""
    server, state, log, port = _start(tmp_path, webhook, "prefork_flask_preloaded:app", "--preload")
    try:
        wait_until(lambda: len(_booted(log)) >= WORKERS, 60, "three workers booted")
        wait_until(lambda: _holder(state) is not None, 30, "a process holds the lease")
        assert len(_fail_a_third(port)) >= 2, "the requests reached several workers"
        (first,) = webhook.wait_for(1, timeout=30)
        assert 0.05 < first.body["value"] < 1  # evaluated while the requests came in
        time.sleep(3)
        assert len(webhook.received) == 1
    finally:
        stop_process(server)
