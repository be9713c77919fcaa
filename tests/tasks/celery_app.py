"""The Celery app of the task tests, configured as docs/celery.md says.

The broker comes from ``TASKS_BROKER_URL`` (and an optional result backend from
``TASKS_RESULT_BACKEND``); telemetry comes from the ``OTEL_*``/``OTELKIT_*`` environment, set up
in ``worker_process_init``: in each prefork pool process (its own exporters and
``service.instance.id``), and in the worker's main process with the solo pool. The tests run it
with ``celery -A tests.tasks.celery_app worker`` and publish through ``create_app(url)``.
"""

from __future__ import annotations

import os
import time

from celery import Celery, Task, signals
from celery.exceptions import Reject
from opentelemetry import trace

import otelkit
from otelkit.instrumentation.celery import instrument_celery

QUEUE = "otelkit-tests"

OK = "tests.tasks.ok"
FAIL = "tests.tasks.fail"
FLAKY = "tests.tasks.flaky"
SLEEP = "tests.tasks.sleep"
QUICK = "tests.tasks.quick"
TRACED = "tests.tasks.traced"
REJECT = "tests.tasks.reject"
SCHEDULED = "tests.tasks.scheduled"
REVOCABLE = "tests.tasks.revocable"
BROKEN = "tests.tasks.broken"


class TaskFailed(Exception):
    """What ``fail`` raises."""


def create_app(broker_url: str | None = None) -> Celery:
    """An app on ``broker_url`` (default: ``TASKS_BROKER_URL``) with the test tasks."""
    app = Celery(
        "tests.tasks",
        broker=broker_url or os.environ.get("TASKS_BROKER_URL", "redis://127.0.0.1:6379/0"),
        backend=os.environ.get("TASKS_RESULT_BACKEND") or None,
        set_as_current=False,
    )
    app.conf.update(
        task_default_queue=QUEUE,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )

    def ok(value: int = 0) -> int:
        return value

    def fail() -> None:
        raise TaskFailed("expected by the test")

    # Each test uses task names of its own: the same functions under several names.
    for name in (OK, SCHEDULED, REVOCABLE):
        app.task(name=name, shared=False)(ok)
    for name in (FAIL, BROKEN):
        app.task(name=name, shared=False)(fail)

    @app.task(name=FLAKY, bind=True, max_retries=3, shared=False)
    def flaky(self: Task) -> str:
        if self.request.retries == 0:
            raise self.retry(countdown=0)
        return "second time lucky"

    @app.task(name=SLEEP, shared=False)
    def sleep(seconds: float) -> None:
        time.sleep(seconds)

    @app.task(name=QUICK, shared=False)
    def quick() -> None:
        return None

    @app.task(name=TRACED, shared=False)
    def traced() -> None:
        with trace.get_tracer("tests.tasks").start_as_current_span("inside the task"):
            pass

    @app.task(name=REJECT, shared=False)
    def reject() -> None:
        raise Reject("refused by the test", requeue=False)

    instrument_celery(app)
    return app


app = create_app()


@signals.worker_process_init.connect(weak=False)
def configure_telemetry(**_: object) -> None:
    """Each process that runs tasks configures its own telemetry, from the environment."""
    otelkit.init_telemetry()
