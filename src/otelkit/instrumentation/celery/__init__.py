"""Celery: task metrics from Celery's signals, and the trace carried from publisher to worker.

Everything hangs on Celery's process-wide signals; nothing of Celery is patched. The package's
modules, each with one job:

- ``_recorder``: the task instruments of the running configuration (``celery.task.runs``,
  ``.duration``, ``.queue_wait``, ``celery.worker.active_tasks``), bound lazily to it.
- ``_message``: what is read from a message or request (headers, queue, when it was ready).
- ``_publish``: the publisher's receivers (headers, the ``send {task}`` span).
- ``_worker``: the worker's receivers (runs, outcomes decided outside a run, pool processes).
- ``_broker``: the length of the queues on a Redis broker (kombu's keys, one round trip).
- ``_backlog``: ``celery.queue.length`` and ``celery.worker.reserved_tasks``, read at collection
  time in the worker's main process.
- ``_install``: connecting the receivers, explicitly or for ``init_telemetry()``.
"""

from __future__ import annotations

from otelkit.instrumentation.celery._install import (
    available,
    install_auto,
    instrument_celery,
    uninstall_auto,
)
from otelkit.instrumentation.celery._message import PUBLISHED_HEADER
from otelkit.instrumentation.celery._recorder import TASK_BUCKETS

__all__ = [
    "PUBLISHED_HEADER",
    "TASK_BUCKETS",
    "available",
    "install_auto",
    "instrument_celery",
    "uninstall_auto",
]
