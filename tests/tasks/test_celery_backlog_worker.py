"""A real prefork worker, paused behind long tasks: its backlog as it exports it over OTLP.

``celery worker --pool prefork --concurrency 2`` runs tests.tasks.celery_prefork_main_app (the
worker's main process configured in ``worker_init``, as docs/celery.md recommends) on a Redis
database of its own, and pushes its metrics to the session's OTLP receiver every 500 ms. Two
long tasks occupy both pool processes; with a prefetch multiplier of 1 the main process then
takes two more messages (the long ones were acknowledged when they started) and holds them,
reserved; the rest stays in Redis.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.fixtures.servers import spawn_logged, stop_process, wait_until
from tests.tasks.celery_app import QUEUE, QUICK, SLEEP, create_app

if TYPE_CHECKING:
    from tests.fixtures.otlp_receiver import HttpReceiver
    from tests.fixtures.redis import RedisServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LENGTH, RESERVED = "celery.queue.length", "celery.worker.reserved_tasks"
DESTINATION = "messaging.destination.name"
CONCURRENCY = 2
WAITING = 6  # quick tasks published behind the long ones
PAUSE = 6.0  # seconds each long task keeps its pool process busy


def latest(receiver: HttpReceiver, name: str, service: str) -> dict[tuple[int, str], Any]:
    """The latest value of ``name`` per (process pid, queue) that ``service`` exported."""
    found: dict[tuple[int, str], Any] = {}
    for point in receiver.metrics(name):
        if point["resource"].get("service.name") == service:
            found[(point["resource"]["process.pid"], point["attributes"][DESTINATION])] = point[
                "value"
            ]
    return found


def test_paused_worker_reports_its_backlog_once(
    redis_server: RedisServer, otlp_http: HttpReceiver, tmp_path: Path
) -> None:
    """Queue length and reserved tasks come from the worker's main process alone, and add up to
    what was published and not started."""
    broker = redis_server.fresh_url()
    service = f"celery-backlog-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
        TASKS_BROKER_URL=broker,
        OTEL_SERVICE_NAME=service,
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_http.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_METRIC_EXPORT_INTERVAL="500",
        OTELKIT_SYSTEM_METRICS="off",
        OTELKIT_INSTRUMENT="celery",
    )
    log_path = tmp_path / "worker.log"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "tests.tasks.celery_prefork_main_app",
        "worker",
        "--pool=prefork",
        f"--concurrency={CONCURRENCY}",
        f"--queues={QUEUE}",
        f"--hostname={service}@%h",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    worker = spawn_logged(command, env=env, cwd=ROOT, log_path=log_path)
    app = create_app(broker)
    try:
        wait_until(lambda: " ready." in log_path.read_text(errors="replace"), timeout=30)
        for _ in range(CONCURRENCY):
            app.tasks[SLEEP].delay(PAUSE)
        time.sleep(0.5)  # both long tasks started before the quick ones arrive
        for _ in range(WAITING):
            app.tasks[QUICK].delay()

        main = {(worker.pid, QUEUE)}
        expected = {
            LENGTH: {(worker.pid, QUEUE): WAITING - CONCURRENCY},
            RESERVED: {(worker.pid, QUEUE): CONCURRENCY},
        }
        deadline = time.monotonic() + PAUSE - 1
        observed: dict[str, Any] = {}
        while time.monotonic() < deadline:
            observed = {name: latest(otlp_http, name, service) for name in expected}
            if observed == expected:
                break
            time.sleep(0.1)
        assert observed == expected, log_path.read_text(errors="replace")[-3000:]
        # Only the main process reported: the pool processes, forked from it, stay silent.
        pids = {pid for name in expected for pid, _ in latest(otlp_http, name, service)}
        assert {pid for pid, _ in main} == pids
        assert "otelkit: internal error" not in log_path.read_text(errors="replace")
    finally:
        app.close()
        stop_process(worker, grace=PAUSE + 10)
