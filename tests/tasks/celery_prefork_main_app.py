"""The prefork test app configured as docs/celery.md recommends: the worker's main process.

The app of tests.tasks.celery_prefork_app (the test tasks and the ``pid`` task), but telemetry
is set up once, in the worker's main process, from Celery's ``worker_init`` signal (before the
pool starts); the prefork pool processes inherit that configuration through ``fork()`` and
otelkit's fork hooks start each of them from zero. The main process thus counts the outcomes
Celery decides there, such as a task revoked before it started.

Importing tests.tasks.celery_app connects its ``worker_process_init`` receiver (each pool
process configuring itself, the other pattern); this module disconnects it again, so that each
process is configured exactly once. Only the worker imports this module (``celery -A
tests.tasks.celery_prefork_main_app worker``); publishers use
``tests.tasks.celery_prefork_app.create_app``, whose tasks are the same.
"""

from __future__ import annotations

from celery import signals

import otelkit
from tests.tasks import celery_app
from tests.tasks.celery_prefork_app import PID, QUEUE, app

__all__ = ["PID", "QUEUE", "app"]

if not signals.worker_process_init.disconnect(celery_app.configure_telemetry):
    raise RuntimeError("tests.tasks.celery_app's worker_process_init receiver is not connected")


@signals.worker_init.connect(weak=False)
def configure_telemetry(**_: object) -> None:
    """The worker's main process configures telemetry, from the environment, for every pool."""
    otelkit.init_telemetry()
