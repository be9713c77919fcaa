"""Celery task metrics and traces end to end: a real Redis broker and a real ``celery worker``.

The worker runs ``tests.tasks.celery_app`` in a subprocess (solo pool, and prefork with two
pool processes), configured only through the environment as in production: metrics and spans
go over OTLP/HTTP to the session's loopback receiver every 500 ms. This process is the
publisher, with otelkit's in-memory exporter for its own spans.

A worker lives for the whole module (starting one costs seconds) with a Redis database of its
own; every test uses task names no other test of that worker uses, and reads cumulative totals,
so the tests do not see each other's tasks whatever their order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from celery import signals

from otelkit import ConfigError, init_telemetry, testing
from otelkit.instrumentation.celery import PUBLISHED_HEADER, instrument_celery
from tests.fixtures.servers import spawn_logged, wait_until
from tests.tasks.celery_app import (
    BROKEN,
    FAIL,
    FLAKY,
    OK,
    QUEUE,
    QUICK,
    REJECT,
    REVOCABLE,
    SCHEDULED,
    SLEEP,
    TRACED,
    create_app,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from celery import Celery

    from tests.fixtures.otlp_receiver import HttpReceiver
    from tests.fixtures.redis import RedisServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RUNS = "celery.task.runs"
DURATION = "celery.task.duration"
QUEUE_WAIT = "celery.task.queue_wait"
ACTIVE = "celery.worker.active_tasks"
NAME, STATE, DESTINATION = "celery.task.name", "celery.task.state", "messaging.destination.name"


class CeleryWorker:
    """``celery worker`` on the test app in a subprocess, its output kept in a file."""

    def __init__(
        self, pool: str, concurrency: int, broker_url: str, otlp_endpoint: str, workdir: Path
    ) -> None:
        self.pool = pool
        self.service = f"celery-{pool}-{uuid.uuid4().hex[:6]}"
        self.app: Celery = create_app(broker_url)  # the publisher's side, on the same broker
        self._log_path = workdir / f"{self.service}.log"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("OTEL_", "OTELKIT_"))
        }
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
            TASKS_BROKER_URL=broker_url,
            OTEL_SERVICE_NAME=self.service,
            OTEL_METRICS_EXPORTER="otlp",
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_EXPORTER_OTLP_ENDPOINT=otlp_endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
            OTEL_METRIC_EXPORT_INTERVAL="500",
            OTEL_BSP_SCHEDULE_DELAY="100",
            OTELKIT_SYSTEM_METRICS="off",
            OTELKIT_INSTRUMENT="celery",
        )
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.tasks.celery_app",
            "worker",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            f"--queues={QUEUE}",
            f"--hostname={self.service}@%h",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        self._process = spawn_logged(command, env=env, cwd=ROOT, log_path=self._log_path)
        try:
            wait_until(self._ready, timeout=30, what=f"the {pool} worker to be ready")
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
        return " ready." in self._log_path.read_text(errors="replace")

    def output(self) -> str:
        """What the worker wrote to stdout and stderr so far (the last 200 lines)."""
        lines = self._log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-200:]) or "(no output)"

    def report_section(self) -> tuple[str, str]:
        state = "running" if self._process.poll() is None else f"exited {self._process.returncode}"
        return f"output of the {self.pool} worker ({state})", self.output()

    def assert_no_internal_errors(self) -> None:
        """otelkit logged no internal error in the worker, and no signal receiver raised."""
        text = self._log_path.read_text(errors="replace")
        for marker in ("otelkit: internal error", "Signal handler"):
            assert marker not in text, self.output()

    def stop(self) -> None:
        """Warm shutdown (SIGTERM); after 15 s, SIGKILL to the worker's process group."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self.app.close()


def _start_worker(
    pool: str,
    concurrency: int,
    redis_server: RedisServer,
    otlp_http_session: HttpReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CeleryWorker]:
    worker = CeleryWorker(
        pool,
        concurrency,
        redis_server.fresh_url(),
        otlp_http_session.endpoint,
        tmp_path_factory.mktemp("celery"),
    )
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="module")
def solo_worker(
    redis_server: RedisServer,
    otlp_http_session: HttpReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CeleryWorker]:
    """A worker with the solo pool: tasks run in its main process, one at a time."""
    yield from _start_worker("solo", 1, redis_server, otlp_http_session, tmp_path_factory)


@pytest.fixture(scope="module")
def prefork_worker(
    redis_server: RedisServer,
    otlp_http_session: HttpReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CeleryWorker]:
    """A worker with the prefork pool: two pool processes, forked from the main process."""
    yield from _start_worker("prefork", 2, redis_server, otlp_http_session, tmp_path_factory)


@pytest.fixture(autouse=True)
def _no_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The publisher (this process) sees only the OTEL_* / OTELKIT_* variables a test sets."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")):
            monkeypatch.delenv(name)


# --- reading what the workers exported ------------------------------------------------------


def _latest(
    receiver: HttpReceiver, name: str, service: str, **match: str
) -> dict[tuple[str, frozenset[tuple[str, Any]]], dict[str, Any]]:
    """The latest point of each series of ``name`` from ``service``, per process.

    Cumulative points: the latest one of a series (one process' ``service.instance.id``, one
    attribute set) is that process' total.
    """
    latest: dict[tuple[str, frozenset[tuple[str, Any]]], dict[str, Any]] = {}
    for point in receiver.metrics(name):
        resource = point["resource"]
        attributes = point["attributes"]
        if resource.get("service.name") != service:
            continue
        if any(attributes.get(key) != value for key, value in match.items()):
            continue
        key = (resource["service.instance.id"], frozenset(attributes.items()))
        latest[key] = point
    return latest


def total(
    receiver: HttpReceiver, name: str, service: str, field: str = "value", **match: str
) -> float:
    """The sum over processes and matching series of the latest ``field``."""
    return sum(p[field] for p in _latest(receiver, name, service, **match).values())


def runs(receiver: HttpReceiver, worker: CeleryWorker, task: str) -> dict[str, float]:
    """Runs of ``task`` by state, summed over the worker's processes."""
    by_state: dict[str, float] = {}
    for point in _latest(receiver, RUNS, worker.service, **{NAME: task}).values():
        state = point["attributes"][STATE]
        by_state[state] = by_state.get(state, 0) + point["value"]
    return by_state


def spans_of(receiver: HttpReceiver, worker: CeleryWorker, name: str) -> list[dict[str, Any]]:
    """The spans named ``name`` that ``worker`` exported."""
    return [s for s in receiver.spans(name) if s["resource"]["service.name"] == worker.service]


def eventually(observe: Callable[[], Any], expected: Any, timeout: float = 20.0) -> Any:
    """Poll ``observe()`` until it equals ``expected``; else fail showing the last value."""
    deadline = time.monotonic() + timeout
    while True:
        observed = observe()
        if observed == expected or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert observed == expected
    return observed


# --- solo pool -------------------------------------------------------------------------------


def test_runs_are_counted_by_state(solo_worker: CeleryWorker, otlp_http: HttpReceiver) -> None:
    """N successful, M failing and K retried tasks give exactly those runs, each with a duration."""
    n, m, k = 5, 3, 2
    tasks = solo_worker.app.tasks
    for value in range(n):
        tasks[OK].delay(value)
    for _ in range(m):
        tasks[FAIL].delay()
    for _ in range(k):
        tasks[FLAKY].delay()  # retried once, then succeeds

    expected = {
        OK: {"SUCCESS": n},
        FAIL: {"FAILURE": m},
        FLAKY: {"RETRY": k, "SUCCESS": k},
    }
    eventually(lambda: {task: runs(otlp_http, solo_worker, task) for task in expected}, expected)

    service = solo_worker.service
    for task, states in expected.items():
        for state, count in states.items():
            match = {NAME: task, STATE: state, DESTINATION: QUEUE}
            assert total(otlp_http, DURATION, service, "count", **match) == count
            assert total(otlp_http, RUNS, service, **match) == count
    eventually(lambda: total(otlp_http, ACTIVE, service, **{DESTINATION: QUEUE}), 0)
    [active] = {p["unit"] for p in otlp_http.metrics(ACTIVE)}
    assert active == "{task}"
    solo_worker.assert_no_internal_errors()


def test_queue_wait_covers_the_time_behind_a_busy_worker(
    solo_worker: CeleryWorker, otlp_http: HttpReceiver
) -> None:
    """A task queued behind a 1 s task waits at least 1 s, from its publish to its start."""
    delay = 1.0
    tasks = solo_worker.app.tasks
    # A first task keeps the worker busy while the two others are published, so the 1 s task
    # cannot start before the quick one is in the queue.
    tasks[SLEEP].delay(0.3)
    tasks[SLEEP].delay(delay)
    tasks[QUICK].delay()

    service = solo_worker.service
    match = {NAME: QUICK, DESTINATION: QUEUE}
    eventually(lambda: total(otlp_http, QUEUE_WAIT, service, "count", **match), 1)
    waited = total(otlp_http, QUEUE_WAIT, service, "sum", **match)
    assert delay <= waited < delay + 5
    [point] = _latest(otlp_http, QUEUE_WAIT, service, **match).values()
    assert point["unit"] == "s"
    assert point["attributes"] == {NAME: QUICK, DESTINATION: QUEUE}
    solo_worker.assert_no_internal_errors()


def test_queue_wait_counts_from_the_eta_and_without_header(
    solo_worker: CeleryWorker, otlp_http: HttpReceiver
) -> None:
    """A countdown task waits from its ETA; without otelkit's header the ETA alone is used."""
    tasks = solo_worker.app.tasks

    def strip_header(headers: dict[str, Any] | None = None, **_: Any) -> None:
        if headers is not None:  # as a producer without otelkit would send it
            headers.pop(PUBLISHED_HEADER, None)

    tasks[SCHEDULED].apply_async((1,), countdown=1.5)  # with the header: from the later ETA
    signals.before_task_publish.connect(strip_header, weak=False)  # runs after otelkit's
    try:
        tasks[SCHEDULED].apply_async((2,), countdown=1.5)  # the ETA alone
        tasks[SCHEDULED].delay(3)  # neither header nor ETA: no queue wait
    finally:
        signals.before_task_publish.disconnect(strip_header)

    service = solo_worker.service
    match = {NAME: SCHEDULED, DESTINATION: QUEUE}
    eventually(lambda: runs(otlp_http, solo_worker, SCHEDULED), {"SUCCESS": 3})
    assert total(otlp_http, QUEUE_WAIT, service, "count", **match) == 2
    assert 0 <= total(otlp_http, QUEUE_WAIT, service, "sum", **match) < 1.0
    solo_worker.assert_no_internal_errors()


def test_trace_continues_from_the_publisher_into_the_task(
    solo_worker: CeleryWorker, otlp_http: HttpReceiver
) -> None:
    """The worker's span has the publisher's trace id and the task's own spans are its children."""
    telemetry = init_telemetry("publisher", exporters="memory", instrument="none")
    with telemetry.tracer.start_as_current_span("checkout") as parent:
        solo_worker.app.tasks[TRACED].delay()
    trace_id = f"{parent.get_span_context().trace_id:032x}"

    [send] = [s for s in testing.spans(telemetry) if s.name == f"send {TRACED}"]
    assert send.kind.name == "PRODUCER"
    assert send.parent is not None
    assert send.parent.span_id == parent.get_span_context().span_id
    assert send.attributes is not None
    assert send.attributes[DESTINATION] == QUEUE

    [process] = otlp_http.wait_for(lambda: spans_of(otlp_http, solo_worker, f"process {TRACED}"))
    assert process["trace_id"] == trace_id
    assert process["parent_span_id"] == f"{send.context.span_id:016x}"
    assert process["kind"] == "SPAN_KIND_CONSUMER"
    assert process["resource"]["service.name"] == solo_worker.service
    assert process["attributes"][NAME] == TRACED
    assert process["attributes"][STATE] == "SUCCESS"
    assert process["attributes"][DESTINATION] == QUEUE
    assert process["attributes"]["messaging.operation.type"] == "process"
    [inside] = otlp_http.wait_for(lambda: spans_of(otlp_http, solo_worker, "inside the task"))
    assert inside["trace_id"] == trace_id
    assert inside["parent_span_id"] == process["span_id"]
    solo_worker.assert_no_internal_errors()


def test_failed_task_span_has_the_error_type(
    solo_worker: CeleryWorker, otlp_http: HttpReceiver
) -> None:
    """A failing task's span has status ERROR and the exception's type, never its message."""
    solo_worker.app.tasks[BROKEN].delay()
    [span] = otlp_http.wait_for(lambda: spans_of(otlp_http, solo_worker, f"process {BROKEN}"))
    assert span["status"] == "STATUS_CODE_ERROR"
    assert span["attributes"]["error.type"] == "tests.tasks.celery_app.TaskFailed"
    assert "expected by the test" not in str(span)


def test_revoked_and_rejected_tasks(solo_worker: CeleryWorker, otlp_http: HttpReceiver) -> None:
    """A revoked task, an unknown task and a task that raises Reject count once each."""
    app = solo_worker.app
    revoked_id = str(uuid.uuid4())
    replies = app.control.revoke(revoked_id, reply=True, limit=1, timeout=5)
    assert replies, "the worker did not acknowledge the revoke"
    app.tasks[REVOCABLE].apply_async(task_id=revoked_id)
    app.send_task("tests.tasks.not_registered", queue=QUEUE)
    app.tasks[REJECT].delay()

    expected = {
        REVOCABLE: {"REVOKED": 1},
        "tests.tasks.not_registered": {"REJECTED": 1},
        REJECT: {"REJECTED": 1},  # not also a FAILURE
    }
    eventually(lambda: {task: runs(otlp_http, solo_worker, task) for task in expected}, expected)
    time.sleep(1.0)  # two more exports: nothing else arrives
    assert {task: runs(otlp_http, solo_worker, task) for task in expected} == expected
    service = solo_worker.service
    assert total(otlp_http, DURATION, service, "count", **{NAME: REVOCABLE}) == 0
    solo_worker.assert_no_internal_errors()


# --- prefork pool ----------------------------------------------------------------------------


def test_prefork_pool_processes_export_their_runs(
    prefork_worker: CeleryWorker, otlp_http: HttpReceiver
) -> None:
    """Each pool process pushes its own runs (its own instance); together they are exact."""
    count = 12
    tasks = prefork_worker.app.tasks
    for _ in range(count):
        tasks[SLEEP].delay(0.2)  # long enough for both pool processes to take some
    for _ in range(2):
        tasks[FAIL].delay()

    eventually(lambda: runs(otlp_http, prefork_worker, SLEEP), {"SUCCESS": count}, timeout=30)
    eventually(lambda: runs(otlp_http, prefork_worker, FAIL), {"FAILURE": 2})
    service = prefork_worker.service
    per_process = _latest(otlp_http, RUNS, service, **{NAME: SLEEP})
    instances = {instance for instance, _ in per_process}
    pids = {p["resource"]["process.pid"] for p in per_process.values()}
    assert len(instances) == 2, per_process
    assert len(pids) == 2
    assert prefork_worker.pid not in pids  # recorded in the pool processes, not the main one
    eventually(lambda: total(otlp_http, ACTIVE, service, **{DESTINATION: QUEUE}), 0)
    assert total(otlp_http, DURATION, service, "count", **{NAME: SLEEP}) == count
    prefork_worker.assert_no_internal_errors()


def test_prefork_trace_continues_into_the_pool_process(
    prefork_worker: CeleryWorker, otlp_http: HttpReceiver
) -> None:
    """In a prefork pool process too, the task's span continues the publisher's trace."""
    telemetry = init_telemetry("publisher", exporters="memory", instrument="none")
    with telemetry.tracer.start_as_current_span("checkout") as parent:
        prefork_worker.app.tasks[TRACED].delay()
    [process] = otlp_http.wait_for(lambda: spans_of(otlp_http, prefork_worker, f"process {TRACED}"))
    assert process["trace_id"] == f"{parent.get_span_context().trace_id:032x}"
    assert process["resource"]["process.pid"] != prefork_worker.pid
    prefork_worker.assert_no_internal_errors()


# --- in-process checks (no worker) ------------------------------------------------------------


def test_instrument_celery_wants_a_celery_app() -> None:
    """Anything but a Celery app is a ConfigError naming what was passed."""
    with pytest.raises(ConfigError, match="needs a Celery application, got dict"):
        instrument_celery({})


# Run in a fresh interpreter: this process instrumented Celery explicitly (tests.tasks.celery_app)
# and the receivers stay connected for its whole life.
_AUTO_PROBE = textwrap.dedent(
    """
    import json, logging
    from celery import Celery, signals
    from opentelemetry import propagate
    from opentelemetry.propagators.textmap import TextMapPropagator
    from otelkit._errors import internal_error_count
    from otelkit.instrumentation import celery as otelkit_celery

    logging.disable(logging.WARNING)  # the one warning of the broken propagator
    app = Celery("probe", broker="memory://", set_as_current=False)
    sent = []
    signals.after_task_publish.connect(
        lambda headers=None, **_: sent.append(sorted(headers)), weak=False
    )

    class Broken(TextMapPropagator):
        fields = set()
        def inject(self, carrier, context=None, setter=None):
            raise RuntimeError("broken propagator")
        def extract(self, carrier, context=None, getter=None):
            raise RuntimeError("broken propagator")

    installed = otelkit_celery.install_auto()
    app.send_task("probe.auto")
    propagate.set_global_textmap(Broken())
    app.send_task("probe.broken")
    otelkit_celery.uninstall_auto()
    app.send_task("probe.uninstalled")
    print(json.dumps({"installed": installed, "sent": sent, "errors": internal_error_count()}))
    """
)


def test_auto_instrumentation_connects_and_disconnects() -> None:
    """install_auto() instruments publishing, uninstall_auto() stops it; errors never escape."""
    result = subprocess.run(
        [sys.executable, "-c", _AUTO_PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.splitlines()[-1])
    assert probe["installed"] is True
    auto, broken, uninstalled = probe["sent"]  # all three published
    assert PUBLISHED_HEADER in auto
    assert PUBLISHED_HEADER in broken  # set before the propagator failed
    assert PUBLISHED_HEADER not in uninstalled
    assert probe["errors"] == 1  # counted and logged once, not raised into the publisher
