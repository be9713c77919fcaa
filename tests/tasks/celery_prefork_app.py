"""The Celery app of the prefork Prometheus tests: tests.tasks.celery_app, plus a pid task.

Importing tests.tasks.celery_app connects its ``worker_process_init`` receiver: each pool
process calls ``init_telemetry()`` from the environment, as docs/celery.md says. The ``pid``
task answers the pool process that ran it, so that the tests can see the tasks spread; results
go to ``TASKS_RESULT_BACKEND`` (or the ``backend_url`` a publisher passes).
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from tests.tasks.celery_app import QUEUE
from tests.tasks.celery_app import create_app as create_test_app

if TYPE_CHECKING:
    from celery import Celery

PID = "tests.tasks.pid"

__all__ = ["PID", "QUEUE", "app", "create_app"]


def create_app(broker_url: str | None = None, backend_url: str | None = None) -> Celery:
    """The test app on ``broker_url``, its results in ``backend_url``, with the ``pid`` task."""
    app = create_test_app(broker_url)
    if backend_url is not None:
        app.conf.result_backend = backend_url

    @app.task(name=PID, shared=False)
    def pid(seconds: float) -> int:
        time.sleep(seconds)
        return os.getpid()

    return app


app = create_app()
