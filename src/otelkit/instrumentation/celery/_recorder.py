"""The task instruments of one configuration, and the process-wide recorder that holds them.

The recorder is bound lazily to the running configuration, as the HTTP middlewares' is: signals
connected before ``init_telemetry()`` (or before a pool process configures its own telemetry)
start recording as soon as there is one, and a re-init brings new instruments. Runs are counted
by the state Celery reports (``celery.states``), their duration and the queue wait recorded on
buckets that reach an hour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_DESTINATION_NAME,
)

from otelkit._version import __version__
from otelkit.instrumentation._recorder import CurrentRecorder, Recorder
from otelkit.metrics._spec import MetricSpec, development, own

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from otelkit.metrics._fastpath import FastHistogram, FastSum
    from otelkit.runtime._telemetry import Telemetry

SCOPE = InstrumentationScope("otelkit.celery", __version__)
COMPONENT = "celery"
"""The component named by ``guarded`` when a receiver fails."""

TASK_RUNS = "celery.task.runs"
TASK_DURATION = "celery.task.duration"
TASK_QUEUE_WAIT = "celery.task.queue_wait"
WORKER_ACTIVE_TASKS = "celery.worker.active_tasks"
TASK_NAME = "celery.task.name"
TASK_STATE = "celery.task.state"

# Celery's state names (celery.states), spelled out so that this package imports no Celery.
SUCCESS, FAILURE, RETRY, REVOKED, REJECTED = "SUCCESS", "FAILURE", "RETRY", "REVOKED", "REJECTED"
COUNTED_STATES = frozenset({SUCCESS, FAILURE, RETRY, REVOKED, REJECTED})
"""The states a run is counted under; ``IGNORED`` (a task replaced by another, or one that
raised ``Ignore``) is not an outcome: the task that replaces it is counted instead."""

TASK_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
)
"""Boundaries (seconds) of the task duration and queue wait: the messaging conventions'
advisory buckets stop at 10 s, but tasks and queue backlogs commonly run for minutes."""


INTEGRATION = "celery"
_TASK_NAME = own(TASK_NAME, description="The task's registered name.")
_TASK_STATE = own(TASK_STATE, *sorted(COUNTED_STATES), description="The run's outcome.")
_QUEUE = development(MESSAGING_DESTINATION_NAME, description="The queue the task came from.")

RUNS = MetricSpec(
    TASK_RUNS,
    "counter",
    "{run}",
    "Task runs by outcome.",
    (_TASK_NAME, _TASK_STATE, _QUEUE),
    INTEGRATION,
)
DURATION = MetricSpec(
    TASK_DURATION,
    "histogram",
    "s",
    "Duration of task runs, from start to outcome.",
    (_TASK_NAME, _TASK_STATE, _QUEUE),
    INTEGRATION,
)
QUEUE_WAIT = MetricSpec(
    TASK_QUEUE_WAIT,
    "histogram",
    "s",
    "Time tasks waited from publish (or their ETA) to the start of the run.",
    (_TASK_NAME, _QUEUE),
    INTEGRATION,
)
ACTIVE_TASKS = MetricSpec(
    WORKER_ACTIVE_TASKS,
    "updowncounter",
    "{task}",
    "Tasks running in this worker process.",
    (_QUEUE,),
    INTEGRATION,
)
QUEUE_LENGTH = MetricSpec(
    "celery.queue.length",
    "observable_gauge",
    "{message}",
    "Messages waiting in the broker's queue, read at collection time by each worker's main "
    "process (Redis brokers); every worker of a service reads the same queue.",
    (_QUEUE,),
    INTEGRATION,
)
RESERVED_TASKS = MetricSpec(
    "celery.worker.reserved_tasks",
    "observable_updowncounter",
    "{task}",
    "Tasks this worker has taken from the broker (prefetched) and not yet started.",
    (_QUEUE,),
    INTEGRATION,
)
METRICS = (RUNS, DURATION, QUEUE_WAIT, ACTIVE_TASKS, QUEUE_LENGTH, RESERVED_TASKS)
"""The task metrics, for the catalog; the recorder creates its instruments from the first
four, ``_backlog`` the two observable ones."""


class CeleryRecorder(Recorder):
    """Per configuration: the task instruments and the span factory (None without tracing)."""

    def __init__(self, telemetry: Telemetry) -> None:
        super().__init__(telemetry, SCOPE)
        self.runs: FastSum = self.sum_of(RUNS)
        self.duration: FastHistogram = self.histogram_of(DURATION, TASK_BUCKETS)
        self.queue_wait: FastHistogram = self.histogram_of(QUEUE_WAIT, TASK_BUCKETS)
        self.active: FastSum = self.sum_of(ACTIVE_TASKS)

    def outcome(self, name: str, state: str, queue: str | None, seconds: float | None) -> None:
        """Count one run (and record its duration when it ran here)."""
        key = (name, state, queue)
        attributes = series_attributes(name, state, queue)
        self.runs.add(key, attributes, 1)
        if seconds is not None:
            self.duration.record(key, attributes, seconds)


def series_attributes(
    name: str | None, state: str | None, queue: str | None
) -> Callable[[], Mapping[str, Any]]:
    """The attribute set of a series, built only when the series is new."""

    def build() -> Mapping[str, Any]:
        attributes: dict[str, Any] = {}
        if name is not None:
            attributes[TASK_NAME] = name
        if state is not None:
            attributes[TASK_STATE] = state
        if queue is not None:
            attributes[MESSAGING_DESTINATION_NAME] = queue
        return attributes

    return build


CURRENT: CurrentRecorder[CeleryRecorder] = CurrentRecorder(CeleryRecorder)
"""The recorder of the running configuration in this process (``CURRENT.get()``)."""
