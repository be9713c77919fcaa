"""Exact Prometheus metrics under pre-fork servers: four workers, one ``/metrics`` port.

Each test runs a real pre-fork server with four worker processes on free loopback ports,
configured only through the environment: gunicorn with sync workers (the app built in each
worker, and with ``--preload`` in the master before the fork), gunicorn with uvicorn's
``UvicornWorker``, and ``uvicorn --workers 4``. Every worker serves otelkit's ``/metrics`` on
the same ``OTEL_EXPORTER_PROMETHEUS_PORT``, and whichever worker answers a scrape must give the
aggregate over all of them. Some servers find their shared state on their own, others are told
where it lives with ``OTELKIT_PROMETHEUS_MULTIPROCESS_DIR`` (a directory of the test's own).

The requests go to ``GET /pid``, which answers the serving worker's pid: the tests check that
the requests did reach several workers, then that the session's Prometheus (tests/fixtures/
prometheus.py) reads exactly as many requests as were sent, and that several scrapes of the port
in a row (each reaching any worker) agree to the request. The last test recycles every worker
(gunicorn ``max_requests``) while Prometheus scrapes: nothing is lost and no counter goes back.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from tests.fixtures.scrape import Scrape, scrape_metrics
from tests.fixtures.servers import free_port, spawn_logged, wait_until

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from tests.fixtures.prometheus import PrometheusServer

pytestmark = pytest.mark.integration

APPS_DIR = Path(__file__).parent / "apps"
GUNICORN_CONF = APPS_DIR / "gunicorn_prefork_conf.py"
DURATION = "http_server_request_duration_seconds"
ROUTE = "/pid"
PAUSE = 0.02  # what /pid waits: see apps/prefork_flask.py and apps/prefork_fastapi.py
WORKERS = 4
REQUESTS = 200
CONNECTIONS = 8
DIRECT_SCRAPES = 16
GUNICORN_BOOT = r"Booting worker with pid: (\d+)"
UVICORN_STARTED = r"Started server process \[(\d+)\]"


@dataclass(frozen=True)
class Variant:
    """A pre-fork server: its command line (after ``python -m``), how its workers show up."""

    argv: tuple[str, ...]
    worker_started: str
    """A regular expression matching the log line each worker writes when it starts."""
    explicit_dir: bool = False
    """Whether OTELKIT_PROMETHEUS_MULTIPROCESS_DIR names the state directory."""


def _gunicorn(app: str, *options: str) -> tuple[str, ...]:
    return ("gunicorn", app, "--config", str(GUNICORN_CONF), "--workers", str(WORKERS), *options)


VARIANTS: Mapping[str, Variant] = {
    "gunicorn-sync": Variant(_gunicorn("prefork_flask:create_app()"), GUNICORN_BOOT),
    "gunicorn-sync-preload": Variant(
        _gunicorn("prefork_flask_preloaded:app", "--preload"), GUNICORN_BOOT, explicit_dir=True
    ),
    "gunicorn-uvicorn-worker": Variant(
        _gunicorn("prefork_fastapi:app", "--worker-class", "uvicorn.workers.UvicornWorker"),
        GUNICORN_BOOT,
    ),
    "uvicorn-workers": Variant(
        (
            "uvicorn",
            "prefork_fastapi:app",
            "--workers",
            str(WORKERS),
            "--no-access-log",
            "--log-level",
            "info",
        ),
        UVICORN_STARTED,
        explicit_dir=True,
    ),
    # Every worker recycled after 25 requests, a few times over during the test.
    "gunicorn-sync-recycled": Variant(
        _gunicorn(
            "prefork_flask:create_app()", "--max-requests", "25", "--max-requests-jitter", "0"
        ),
        GUNICORN_BOOT,
    ),
}


class PreforkServer:
    """One pre-fork server in a subprocess (its own process group), output kept in a file."""

    def __init__(
        self, name: str, workdir: Path, environment: Mapping[str, str] | None = None
    ) -> None:
        self.name = name
        self.variant = VARIANTS[name]
        self.job = f"prefork-{name}"
        self.port = free_port()
        self.metrics_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_target = f"127.0.0.1:{self.metrics_port}"
        self.metrics_url = f"http://{self.metrics_target}/metrics"
        self.state_dir: Path | None = None
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OTEL_", "OTELKIT_"))
        }
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(APPS_DIR), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        env["OTEL_SERVICE_NAME"] = self.job
        env["OTEL_EXPORTER_PROMETHEUS_PORT"] = str(self.metrics_port)
        env.update(environment or {})
        if self.variant.explicit_dir:
            self.state_dir = workdir / f"{name}-state"
            self.state_dir.mkdir()
            env["OTELKIT_PROMETHEUS_MULTIPROCESS_DIR"] = str(self.state_dir)
        self._log_path = workdir / f"{name}.log"
        bind = ["--bind", f"127.0.0.1:{self.port}"]
        if self.variant.argv[0] == "uvicorn":
            bind = ["--host", "127.0.0.1", "--port", str(self.port)]
        self._process = spawn_logged(
            [sys.executable, "-m", *self.variant.argv, *bind],
            env=env,
            cwd=workdir,
            log_path=self._log_path,
        )
        try:
            wait_until(self._ready_or_exited, timeout=30, what=f"{name} to serve")
        except AssertionError as exc:
            self.stop()
            raise AssertionError(f"{exc}\n{self.output()}") from None
        if self._process.poll() is not None:
            raise RuntimeError(
                f"{name} exited with {self._process.returncode} on start\n{self.output()}"
            )

    def _ready_or_exited(self) -> bool:
        if self._process.poll() is not None:
            return True
        if len(self.started_workers()) < WORKERS:
            return False
        app = requests.get(f"{self.url}/healthz", timeout=2)
        metrics = requests.get(self.metrics_url, timeout=2)
        return app.status_code == 200 and metrics.status_code == 200

    def log(self) -> str:
        return self._log_path.read_text(errors="replace")

    def started_workers(self) -> list[int]:
        """The pids of the workers started so far, in their order of start."""
        return [int(pid) for pid in re.findall(self.variant.worker_started, self.log())]

    def exited_workers(self) -> set[int]:
        """The pids of the gunicorn workers that exited so far."""
        return {int(pid) for pid in re.findall(r"Worker exiting \(pid: (\d+)\)", self.log())}

    def output(self) -> str:
        """What the server wrote to stdout and stderr so far (the last 300 lines)."""
        lines = self.log().splitlines()
        return "\n".join(lines[-300:]) or "(no output)"

    def report_section(self) -> tuple[str, str]:
        """For tests/e2e/conftest.py: the section shown when a test using this server fails."""
        state = "running" if self._process.poll() is None else f"exited {self._process.returncode}"
        return f"output of {self.name} ({state})", self.output()

    def assert_no_errors(self) -> None:
        """No worker failed to start its listener, logged an otelkit error or a traceback."""
        text = self.log()
        for marker in ("Address already in use", "otelkit: internal error", "Traceback"):
            assert marker not in text, f"{marker!r} in the output of {self.name}"

    def stop(self) -> None:
        """SIGTERM (a graceful stop); then SIGKILL to whatever is left of the process group."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        with contextlib.suppress(ProcessLookupError):  # workers the master left behind
            os.killpg(self._process.pid, signal.SIGKILL)

    def __repr__(self) -> str:
        return f"<PreforkServer {self.name} {self.url} metrics={self.metrics_target}>"


@pytest.fixture
def server(
    request: pytest.FixtureRequest, prometheus: PrometheusServer, tmp_path: Path
) -> Iterator[PreforkServer]:
    """The server named by the indirect parameter, scraped by Prometheus under its own job."""
    running = PreforkServer(request.param, tmp_path)
    try:
        prometheus.scrape(running.job, target=running.metrics_target)
        prometheus.wait_for(f'up{{job="{running.job}"}}', 1)
        yield running
    finally:
        running.stop()


# --- requests and scrapes --------------------------------------------------------------------


def get_pids(server: PreforkServer, count: int, pause: float = 0.0) -> list[int]:
    """GET /pid ``count`` times over CONNECTIONS concurrent sessions; the pids that answered.

    Every request asks for a connection of its own (``Connection: close``), so that the
    kernel hands each one to whichever worker accepts first. ``pause`` is the wait between
    two requests of one session.
    """
    shares = [count // CONNECTIONS + (i < count % CONNECTIONS) for i in range(CONNECTIONS)]

    def session_requests(share: int) -> list[int]:
        pids = []
        with requests.Session() as session:
            for _ in range(share):
                response = session.get(
                    server.url + ROUTE, headers={"Connection": "close"}, timeout=10
                )
                response.raise_for_status()
                pids.append(response.json()["pid"])
                time.sleep(pause)
        return pids

    with ThreadPoolExecutor(CONNECTIONS) as pool:
        answered = [pid for pids in pool.map(session_requests, shares) for pid in pids]
    assert len(answered) == count
    return answered


def scrape(server: PreforkServer) -> Scrape:
    """GET /metrics on a new connection: whichever worker accepts it answers."""
    return scrape_metrics(server.metrics_url)


# --- checks ----------------------------------------------------------------------------------


def assert_exact_in_prometheus(prometheus: PrometheusServer, job: str, expected: int) -> None:
    """Prometheus reads exactly ``expected`` requests of ROUTE, a consistent histogram and one
    target_info."""
    selector = f'{{job="{job}",http_route="{ROUTE}"}}'
    prometheus.wait_for(f"sum({DURATION}_count{selector})", expected)
    per_status = prometheus.query(
        f"sum by (http_response_status_code) ({DURATION}_count{selector})"
    )
    assert {s.labels["http_response_status_code"]: s.value for s in per_status} == {"200": expected}
    buckets = {
        float(s.labels["le"]): s.value
        for s in prometheus.query(f"sum by (le) ({DURATION}_bucket{selector})")
    }
    assert buckets[math.inf] == expected
    cumulative = [buckets[bound] for bound in sorted(buckets)]
    assert cumulative == sorted(cumulative), buckets
    largest_finite = max(bound for bound in buckets if bound != math.inf)
    assert buckets[largest_finite] <= expected
    (seconds,) = prometheus.query(f"sum({DURATION}_sum{selector})")
    assert expected * PAUSE <= seconds.value <= expected * largest_finite
    (targets,) = prometheus.query(f'count(target_info{{job="{job}"}})')
    assert targets.value == 1, prometheus.query(f'target_info{{job="{job}"}}')
    prometheus.wait_for(f'sum(http_server_active_requests{{job="{job}"}})', 0)


def assert_every_scrape_is_the_aggregate(server: PreforkServer, expected: int) -> None:
    """Several scrapes in a row, each reaching any worker: all give the same exact numbers."""
    scrapes = [scrape(server) for _ in range(DIRECT_SCRAPES)]
    instances = set()
    for each in scrapes:
        assert each.total(f"{DURATION}_count", http_route=ROUTE) == expected, each.text
        assert each.total(f"{DURATION}_bucket", http_route=ROUTE, le="+Inf") == expected
        (target,) = each.samples["target_info"]  # one series, whichever worker answered
        instances.add(target[0]["service_instance_id"])
    assert len(instances) == 1, instances  # one service.instance.id for the whole server
    sums = {each.total(f"{DURATION}_sum", http_route=ROUTE) for each in scrapes}
    assert max(sums) - min(sums) <= 1e-9 * max(sums), sums


# --- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "server",
    ["gunicorn-sync", "gunicorn-sync-preload", "gunicorn-uvicorn-worker", "uvicorn-workers"],
    indirect=True,
)
def test_any_worker_serves_the_exact_aggregate(
    server: PreforkServer, prometheus: PrometheusServer
) -> None:
    """200 requests spread over four workers: Prometheus and every direct scrape read 200."""
    pids = set(get_pids(server, REQUESTS))
    assert len(pids) >= 2, f"all {REQUESTS} requests went to {pids}: nothing to aggregate"

    assert_exact_in_prometheus(prometheus, server.job, REQUESTS)
    assert_every_scrape_is_the_aggregate(server, REQUESTS)

    # A gauge of each process is its own series, told apart by process_pid.
    # Each process writes its gauges aside every few seconds: wait for those of every worker.
    uptimes: list[tuple[dict[str, str], float]] = []

    def every_worker_has_its_uptime() -> bool:
        nonlocal uptimes
        uptimes = scrape(server).samples.get("process_uptime_seconds", [])
        return pids <= {int(labels.get("process_pid", "0")) for labels, _ in uptimes}

    try:
        wait_until(every_worker_has_its_uptime, timeout=15, what="the uptime of every worker")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: served by {sorted(pids)}, uptimes {uptimes}") from None
    gauge_pids = [labels.get("process_pid") for labels, _ in uptimes]
    assert len(set(gauge_pids)) == len(gauge_pids), uptimes  # one series per process

    if server.state_dir is not None:
        assert any(server.state_dir.iterdir()), "nothing in OTELKIT_PROMETHEUS_MULTIPROCESS_DIR"
    server.assert_no_errors()


@pytest.mark.parametrize("server", ["gunicorn-sync-recycled"], indirect=True)
def test_recycled_workers_lose_nothing_and_counters_never_go_back(
    server: PreforkServer, prometheus: PrometheusServer
) -> None:
    """300 requests over about 10 s, every worker replaced after 25: still exactly 300.

    While the requests run, Prometheus scrapes every second and this test scrapes the port
    directly every 0.1 s: no total ever decreases. A scrape may find no worker to connect to
    (the four receive the same share of requests, so they are recycled at about the same
    time), but whichever worker answers gives a valid exposition.
    """
    count = 300
    first_workers = server.started_workers()[:WORKERS]
    observed: list[float] = []
    unreachable: list[str] = []  # no worker accepted the connection, or it was dropped
    failures: list[str] = []  # anything else: an error response, an unreadable exposition
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                observed.append(scrape(server).total(f"{DURATION}_count", http_route=ROUTE))
            except requests.ConnectionError as exc:
                unreachable.append(repr(exc))
            except Exception as exc:  # reported by the test below
                failures.append(repr(exc))
            done.wait(0.1)

    watcher = threading.Thread(target=watch, name="scrape-watcher")
    watcher.start()
    started = time.monotonic()
    try:
        pids = set(get_pids(server, count, pause=0.25))
    finally:
        done.set()
        watcher.join()
    window = math.ceil(time.monotonic() - started) + 60

    # Every worker of the start was recycled, and their replacements too.
    exited = server.exited_workers()
    assert set(first_workers) <= exited, (first_workers, exited)
    assert len(pids) > WORKERS, pids
    assert len(server.started_workers()) >= 2 * WORKERS

    assert_exact_in_prometheus(prometheus, server.job, count)
    assert_every_scrape_is_the_aggregate(server, count)

    assert not failures, failures
    assert len(observed) >= 50, f"{len(observed)} scrapes answered, {len(unreachable)} not"
    assert len(unreachable) < len(observed), unreachable
    went_back = [(a, b) for a, b in itertools.pairwise(observed) if b < a]
    assert not went_back, went_back
    for suffix in ("count", "bucket", "sum"):
        series = f'{DURATION}_{suffix}{{job="{server.job}"}}'
        (resets,) = prometheus.query(f"sum(resets({series}[{window}s]))")
        assert resets.value == 0, prometheus.query(f"resets({series}[{window}s]) > 0")
    (scraped,) = prometheus.query(f'sum_over_time(up{{job="{server.job}"}}[{window}s])')
    assert scraped.value >= 10  # Prometheus read the port many times during the recycling
    server.assert_no_errors()
