"""Exact Prometheus metrics from a Celery prefork worker: four pool processes, one port.

A real ``celery worker --pool prefork --concurrency 4`` runs in a subprocess, on a Redis
database of its own (broker and result backend), configured only through the environment, and
every process of it serves otelkit's ``/metrics`` on the same ``OTEL_EXPORTER_PROMETHEUS_PORT``.
Whichever process answers a scrape must give the totals of the whole worker. Three variants:

- ``auto``: tests.tasks.celery_prefork_app, each pool process calling ``init_telemetry()`` in
  ``worker_process_init`` (the earlier pattern); the state they share is found automatically;
- ``explicit-dir``: the same, the state named with ``OTELKIT_PROMETHEUS_MULTIPROCESS_DIR``;
- ``worker-init``: tests.tasks.celery_prefork_main_app, the worker's main process calling
  ``init_telemetry()`` in ``worker_init``, as docs/celery.md recommends; the pool processes
  inherit it through ``fork()`` and start from zero.

The test publishes 40 tasks that answer the pid of the pool process that ran them, waits for
their results, then reads the session's Prometheus (tests/fixtures/prometheus.py) and scrapes
the port directly a few times: 40 runs, 40 durations, every time. With ``worker-init`` it also
revokes a task waiting for its ETA: the main process discards it and counts it once as
``REVOKED``, and the main process' own gauges are served with its ``process_pid``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from tests.fixtures.scrape import Scrape, scrape_metrics
from tests.fixtures.servers import free_port, spawn_logged, wait_until
from tests.tasks.celery_app import REVOCABLE
from tests.tasks.celery_prefork_app import PID, QUEUE, create_app

if TYPE_CHECKING:
    from collections.abc import Iterator

    from celery import Celery
    from celery.result import AsyncResult

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
COUNTDOWN = 3.0  # how long the revoked task waits for its ETA in the worker's main process

# variant -> (the app module the worker runs, whether it configures the worker's main process)
VARIANTS = {
    "auto": ("tests.tasks.celery_prefork_app", False),
    "explicit-dir": ("tests.tasks.celery_prefork_app", False),
    "worker-init": ("tests.tasks.celery_prefork_main_app", True),
}


class PreforkWorker:
    """``celery worker --pool prefork`` exporting to Prometheus, its output kept in a file."""

    def __init__(self, variant: str, redis_url: str, workdir: Path) -> None:
        self.variant = variant
        self.app_module, self.main_configured = VARIANTS[variant]
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
            self.app_module,
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

    def log(self) -> str:
        """Everything the worker wrote to stdout and stderr so far."""
        return self._log_path.read_text(errors="replace")

    def output(self) -> str:
        """What the worker wrote to stdout and stderr so far (the last 200 lines)."""
        lines = self.log().splitlines()
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
    """A prefork worker (the indirect parameter: one of ``VARIANTS``), scraped."""
    running = PreforkWorker(request.param, redis_server.fresh_url(), tmp_path)
    try:
        prometheus.scrape(running.job, target=running.metrics_target)
        prometheus.wait_for(f'up{{job="{running.job}"}}', 1)
        yield running
    finally:
        running.stop()


def scrape(worker: PreforkWorker) -> Scrape:
    """GET /metrics on a new connection: whichever pool process accepts it answers."""
    return scrape_metrics(worker.metrics_url)


@pytest.mark.parametrize("worker", list(VARIANTS), indirect=True)
def test_pool_processes_serve_the_exact_totals(
    worker: PreforkWorker, prometheus: PrometheusServer
) -> None:
    """40 tasks over four pool processes: Prometheus and every direct scrape read 40 runs.

    With the main process configured (``worker-init``), a task revoked while it waits for its
    ETA is counted once as ``REVOKED``, and the main process' gauges are served too.
    """
    revoked: AsyncResult | None = None
    if worker.main_configured:
        # Revoked long before its ETA: the main process, which holds it, discards it then.
        published = time.monotonic()
        revoked = worker.app.tasks[REVOCABLE].apply_async(countdown=COUNTDOWN)
        replies = worker.app.control.revoke(revoked.id, reply=True, limit=1, timeout=5)
        assert replies, "the worker did not acknowledge the revoke"
        assert time.monotonic() - published < COUNTDOWN, "revoked too late: the task may run"

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

    revoked_selector = f'{{job="{job}",celery_task_name="{REVOCABLE}"}}'
    if revoked is not None:
        # Celery marks the result REVOKED as soon as the revoke arrives; the task is discarded
        # (task_revoked sent) when its ETA comes, in the main process, which logs it.
        discarded = f"/MainProcess] Discarding revoked task: {REVOCABLE}[{revoked.id}]"
        wait_until(
            lambda: discarded in worker.log(),
            timeout=COUNTDOWN + 15,
            what=f"the main process to discard the revoked task {revoked.id}",
        )
        prometheus.wait_for(f"sum({RUNS}{revoked_selector})", 1)
        by_state = prometheus.query(f"sum by (celery_task_state) ({RUNS}{revoked_selector})")
        assert {s.labels["celery_task_state"]: s.value for s in by_state} == {"REVOKED": 1}
        # Decided outside a run: no duration (not even a series), in the same scrape.
        assert prometheus.query(f"{DURATION}_count{revoked_selector}") == []

    # Several scrapes in a row, each answered by any process: the same exact totals.
    instances = set()
    for each in [scrape(worker) for _ in range(DIRECT_SCRAPES)]:
        assert each.total(RUNS, celery_task_name=PID) == TASKS, each.text
        assert each.total(f"{DURATION}_count", celery_task_name=PID) == TASKS, each.text
        if revoked is not None:
            revokes = each.total(RUNS, celery_task_name=REVOCABLE, celery_task_state="REVOKED")
            assert revokes == each.total(RUNS, celery_task_name=REVOCABLE) == 1, each.text
            assert each.total(f"{DURATION}_count", celery_task_name=REVOCABLE) == 0, each.text
        (target,) = each.samples["target_info"]
        instances.add(target[0]["service_instance_id"])
    assert len(instances) == 1, instances  # one service.instance.id for the whole worker

    # Each process' gauges are series of their own, told apart by process_pid: every pool
    # process that ran a task, and the main process when it is configured.
    expected_pids = pids | {worker.pid} if worker.main_configured else pids
    uptimes: list[tuple[dict[str, str], float]] = []

    def every_process_has_its_uptime() -> bool:
        nonlocal uptimes
        uptimes = scrape(worker).samples.get("process_uptime_seconds", [])
        return expected_pids <= {int(labels.get("process_pid", "0")) for labels, _ in uptimes}

    try:
        wait_until(every_process_has_its_uptime, timeout=15, what="the uptime of every process")
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}: tasks ran in {sorted(pids)}, main process {worker.pid}, uptimes {uptimes}"
        ) from None

    if worker.state_dir is not None:
        assert any(worker.state_dir.iterdir()), "nothing in OTELKIT_PROMETHEUS_MULTIPROCESS_DIR"
    worker.assert_no_errors()
