"""A real Celery worker for the dashboard's Celery panels, beside the shared shop.

``shop_worker`` runs ``celery worker`` on ``apps/shop_tasks.py`` (prefork pool, two processes,
one Prometheus port) against the session's Redis, with otelkit's Prometheus endpoint on a free
port, and a thread of this process
publishing the three tasks (one succeeds, one fails, one retries) about ten times a second for
the rest of the session. The tests scrape it as the job ``shop-worker``.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from celery import Celery

from otelkit.instrumentation.celery import instrument_celery
from tests.fixtures.servers import free_port, spawn_logged, stop_process, untraced, wait_until

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator

    from tests.fixtures.redis import RedisServer

APPS = Path(__file__).parent / "apps"
SHARED_APPS = Path(__file__).parents[1] / "apps"
WORKER_JOB = "shop-worker"
QUEUE = "shop"
POOL_PROCESSES = 2
TASKS = ("shop.tasks.receipt", "shop.tasks.charge", "shop.tasks.sync")


def apps_path() -> str:
    """PYTHONPATH for the test applications (the shared shop and the tasks)."""
    return os.pathsep.join(
        filter(None, [str(APPS), str(SHARED_APPS), os.environ.get("PYTHONPATH")])
    )


class ShopWorker:
    """``celery worker`` on the shop's tasks, its metrics on ``metrics_target``."""

    def __init__(self, workdir: Path, broker_url: str) -> None:
        self.metrics_port = free_port()
        self.metrics_target = f"127.0.0.1:{self.metrics_port}"
        self.log_path = workdir / "worker.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
        env.update(
            PYTHONPATH=apps_path(),
            PYTHONUNBUFFERED="1",
            SHOP_BROKER_URL=broker_url,
            OTEL_SERVICE_NAME=WORKER_JOB,
            OTEL_METRICS_EXPORTER="prometheus",
            OTEL_EXPORTER_PROMETHEUS_PORT=str(self.metrics_port),
            OTELKIT_SYSTEM_METRICS="off",
        )
        command = [sys.executable, "-m", "celery", "-A", "shop_tasks", "worker",
                   "--pool=prefork", f"--concurrency={POOL_PROCESSES}", f"--queues={QUEUE}",
                   "--loglevel=INFO", "--without-gossip", "--without-mingle",
                   "--without-heartbeat"]  # fmt: skip
        self._process: subprocess.Popen[bytes] = spawn_logged(
            command, env=env, cwd=workdir, log_path=self.log_path
        )
        try:
            wait_until(self._serves_metrics, timeout=60, what="the worker's metrics endpoint")
        except AssertionError:
            self.stop()
            raise AssertionError(f"the worker did not start:\n{self.output()}") from None
        self._publisher = Celery("shop-publisher", broker=broker_url, set_as_current=False)
        instrument_celery(self._publisher)  # the publish time goes into each message
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._publish, daemon=True)
        self._thread.start()

    def _serves_metrics(self) -> bool:
        if self._process.poll() is not None:
            raise AssertionError(f"the worker exited:\n{self.output()}")
        url = f"http://{self.metrics_target}/metrics"
        return requests.get(url, timeout=2).status_code == 200

    def _publish(self) -> None:
        n = 0
        with untraced():  # the publishes are this test's traffic, not the test process's
            while not self._stopping.is_set():
                self._publisher.send_task(TASKS[n % len(TASKS)], queue=QUEUE)
                n += 1
                self._stopping.wait(0.1)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if hasattr(self, "_stopping"):
            self._stopping.set()
            self._thread.join(timeout=10)
        stop_process(self._process)


@pytest.fixture(scope="session")
def shop_worker(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[ShopWorker]:
    """The shop's Celery worker, with tasks flowing, for the whole session."""
    worker = ShopWorker(tmp_path_factory.mktemp("shop-worker"), redis_server.fresh_url())
    try:
        yield worker
    finally:
        worker.stop()
