"""Exact Prometheus metrics from a Celery prefork worker: four pool processes, one port.

A real ``celery worker --pool prefork --concurrency 4`` runs tests.tasks.celery_prefork_app in a
subprocess, on a Redis database of its own (broker and result backend), configured only through
the environment: each pool process calls ``init_telemetry()`` in ``worker_process_init`` and
serves otelkit's ``/metrics`` on the same ``OTEL_EXPORTER_PROMETHEUS_PORT``. Whichever pool
process answers a scrape must give the totals of all four. The state they share is found
automatically in one test and named with ``OTELKIT_PROMETHEUS_MULTIPROCESS_DIR`` in the other.

The test publishes 40 tasks that answer the pid of the pool process that ran them, waits for
their results, then reads the session's Prometheus (tests/fixtures/prometheus.py) and scrapes
the port directly a few times: 40 runs, 40 durations, every time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.servers import free_port, spawn_logged, wait_until
from tests.tasks.celery_prefork_app import PID, QUEUE, create_app

if TYPE_CHECKING:
    from collections.abc import Iterator

    from celery import Celery

    from tests.fixtures.prometheus import PrometheusServer
    from tests.fixtures.redis import RedisServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = 4
TASKS = 40
SLEEP = 0.1  # what every other task sleeps, so that the pool processes share the work
RUNS = "celery_task_runs_total"
DURATION = "celery_task_duration_seconds"
ACTIVE = "celery_worker_active_tasks"
DIRECT_SCRAPES = 16


class PreforkWorker:
    """``celery worker --pool prefork`` exporting to Prometheus, its output kept in a file."""

    def __init__(self, variant: str, redis_url: str, workdir: Path) -> None:
        self.variant = variant
        self.job = f"celery-prefork-{variant}"
        self.service = f"{self.job}-{uuid.uuid4().hex[:6]}"
        self.metrics_port = free_port()
        self.metrics_target = f"127.0.0.1:{self.metrics_port}"
        self.metrics_url = f"http://{self.metrics_target}/metrics"
        self.app: Celery = create_app(redis_url, backend_url=redis_url)  # the publisher's side
        self.state_dir: Path | None = None
        self._log_path = workdir / f"{self.service}.log"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OTEL_", "OTELKIT_"))
        }
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
            TASKS_BROKER_URL=redis_url,
            TASKS_RESULT_BACKEND=redis_url,
            OTEL_SERVICE_NAME=self.service,
            OTEL_METRICS_EXPORTER="prometheus",
            OTEL_EXPORTER_PROMETHEUS_PORT=str(self.metrics_port),
            OTELKIT_INSTRUMENT="celery,system",  # system: the per-process gauges
        )
        if variant == "explicit-dir":
            self.state_dir = workdir / "state"
            self.state_dir.mkdir()
            env["OTELKIT_PROMETHEUS_MULTIPROCESS_DIR"] = str(self.state_dir)
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.tasks.celery_prefork_app",
            "worker",
            "--pool=prefork",
            f"--concurrency={CONCURRENCY}",
            f"--queues={QUEUE}",
            f"--hostname={self.service}@%h",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        self._process = spawn_logged(command, env=env, cwd=ROOT, log_path=self._log_path)
        try:
            wait_until(self._ready, timeout=30, what="the prefork worker to be ready")
        except AssertionError as exc:
            self.stop()
            raise AssertionError(f"{exc}\n{self.output()}") from None

    @property
    def pid(self) -> int:
        """The worker's main process."""
        return self._process.pid

    def _ready(self) -> bool:
        if self._process.poll() is not None:
            raise AssertionError(f"the worker exited with {self._process.returncode}")
        if " ready." not in self._log_path.read_text(errors="replace"):
            return False
        return requests.get(self.metrics_url, timeout=2).status_code == 200

    def output(self) -> str:
        """What the worker wrote to stdout and stderr so far (the last 200 lines)."""
        lines = self._log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-200:]) or "(no output)"

    def report_section(self) -> tuple[str, str]:
        state = "running" if self._process.poll() is None else f"exited {self._process.returncode}"
        return f"output of the prefork worker ({state})", self.output()

    def assert_no_errors(self) -> None:
        """No pool process failed to listen, logged an otelkit error, or a receiver raised."""
        text = self._log_path.read_text(errors="replace")
        for marker in (
            "Address already in use",
            "otelkit: internal error",
            "Signal handler",
            "Traceback",
        ):
            assert marker not in text, f"{marker!r} in the output of the worker"

    def stop(self) -> None:
        """Warm shutdown (SIGTERM); then SIGKILL to whatever is left of the process group."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        with contextlib.suppress(ProcessLookupError):  # pool processes left behind
            os.killpg(self._process.pid, signal.SIGKILL)
        self.app.close()


@pytest.fixture
def worker(
    request: pytest.FixtureRequest,
    prometheus: PrometheusServer,
    redis_server: RedisServer,
    tmp_path: Path,
) -> Iterator[PreforkWorker]:
    """A prefork worker (the indirect parameter: ``auto`` or ``explicit-dir``), scraped."""
    running = PreforkWorker(request.param, redis_server.fresh_url(), tmp_path)
    try:
        prometheus.scrape(running.job, target=running.metrics_target)
        prometheus.wait_for(f'up{{job="{running.job}"}}', 1)
        yield running
    finally:
        running.stop()


class Scrape:
    """One direct scrape of the metrics port: its samples by name."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples.setdefault(sample.name, []).append((sample.labels, sample.value))

    def total(self, name: str, **match: str) -> float:
        """The sum of the samples named ``name`` whose labels include ``match``."""
        return sum(
            value
            for labels, value in self.samples.get(name, [])
            if all(labels.get(key) == wanted for key, wanted in match.items())
        )


def scrape(worker: PreforkWorker) -> Scrape:
    """GET /metrics on a new connection: whichever pool process accepts it answers."""
    response = requests.get(worker.metrics_url, headers={"Connection": "close"}, timeout=10)
    assert response.status_code == 200, response.text
    return Scrape(response.text)


@pytest.mark.parametrize("worker", ["auto", "explicit-dir"], indirect=True)
def test_pool_processes_serve_the_exact_totals(
    worker: PreforkWorker, prometheus: PrometheusServer
) -> None:
    """40 tasks over four pool processes: Prometheus and every direct scrape read 40 runs."""
    pauses = [SLEEP if i % 2 else 0.0 for i in range(TASKS)]
    results = [worker.app.tasks[PID].delay(pause) for pause in pauses]
    pids = {result.get(timeout=60) for result in results}
    assert len(pids) >= 2, f"all {TASKS} tasks ran in {pids}: nothing to aggregate"
    assert worker.pid not in pids  # run in the pool processes, not the main one

    job = worker.job
    selector = f'{{job="{job}",celery_task_name="{PID}"}}'
    prometheus.wait_for(f"sum({RUNS}{selector})", TASKS)
    by_state = prometheus.query(f"sum by (celery_task_state) ({RUNS}{selector})")
    assert {s.labels["celery_task_state"]: s.value for s in by_state} == {"SUCCESS": TASKS}
    prometheus.wait_for(f"sum({DURATION}_count{selector})", TASKS)
    (infinite,) = prometheus.query(f'sum({DURATION}_bucket{{le="+Inf",{selector[1:]})')
    assert infinite.value == TASKS
    (seconds,) = prometheus.query(f"sum({DURATION}_sum{selector})")
    assert sum(pauses) <= seconds.value < sum(pauses) + TASKS * 1.0
    (targets,) = prometheus.query(f'count(target_info{{job="{job}"}})')
    assert targets.value == 1, prometheus.query(f'target_info{{job="{job}"}}')
    prometheus.wait_for(f'sum({ACTIVE}{{job="{job}"}})', 0)

    # Several scrapes in a row, each answered by any pool process: the same exact totals.
    instances = set()
    for each in [scrape(worker) for _ in range(DIRECT_SCRAPES)]:
        assert each.total(RUNS, celery_task_name=PID) == TASKS, each.text
        assert each.total(f"{DURATION}_count", celery_task_name=PID) == TASKS, each.text
        (target,) = each.samples["target_info"]
        instances.add(target[0]["service_instance_id"])
    assert len(instances) == 1, instances  # one service.instance.id for the whole worker

    # Each pool process' gauges are series of their own, told apart by process_pid.
    uptimes: list[tuple[dict[str, str], float]] = []

    def every_process_has_its_uptime() -> bool:
        nonlocal uptimes
        uptimes = scrape(worker).samples.get("process_uptime_seconds", [])
        return pids <= {int(labels.get("process_pid", "0")) for labels, _ in uptimes}

    try:
        wait_until(every_process_has_its_uptime, timeout=15, what="the uptime of every process")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: tasks ran in {sorted(pids)}, uptimes {uptimes}") from None

    if worker.state_dir is not None:
        assert any(worker.state_dir.iterdir()), "nothing in OTELKIT_PROMETHEUS_MULTIPROCESS_DIR"
    worker.assert_no_errors()
