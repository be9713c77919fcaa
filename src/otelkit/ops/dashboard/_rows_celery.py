"""Celery row: task runs by state, failure and retry ratios, duration, queue wait, active tasks,
and the backlog (messages waiting in the broker, tasks the workers hold but have not started)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_DESTINATION_NAME,
)

from otelkit.ops.dashboard._model import Panel, Row, Target
from otelkit.ops.dashboard._promql import by, label, quantile, ratio, selector, sum_rate

if TYPE_CHECKING:
    from otelkit.ops.dashboard._names import Names

RUNS = "celery.task.runs"
DURATION = "celery.task.duration"
QUEUE_WAIT = "celery.task.queue_wait"
ACTIVE = "celery.worker.active_tasks"
LENGTH = "celery.queue.length"
RESERVED = "celery.worker.reserved_tasks"

# otelkit's own attributes (no semantic convention names Celery tasks yet)
TASK, STATE = label("celery.task.name"), label("celery.task.state")
QUEUE = label(MESSAGING_DESTINATION_NAME)
TASK_LEGEND, QUEUE_LEGEND = f"{{{{{TASK}}}}}", f"{{{{{QUEUE}}}}}"


def rows(names: Names) -> tuple[Row, ...]:
    panels: list[Panel] = []
    if RUNS in names:
        runs = names.series(RUNS)
        panels.append(
            Panel(
                "Task runs per second by state",
                "timeseries",
                (
                    Target(
                        sum_rate(selector(runs), (TASK, STATE)), f"{TASK_LEGEND} {{{{{STATE}}}}}"
                    ),
                ),
                unit="ops",
            )
        )
        panels.extend(
            Panel(
                f"Task {word} ratio",
                "timeseries",
                (Target(_share(runs, state), TASK_LEGEND),),
                unit="percentunit",
                description=f"Runs that ended in {state} among all runs, per task.",
                max_value=1,
            )
            for word, state in (("failure", "FAILURE"), ("retry", "RETRY"))
        )
    if DURATION in names:
        buckets = selector(names.series(DURATION, "_bucket"))
        panels.append(
            Panel(
                "Task duration p95",
                "timeseries",
                (Target(quantile(0.95, buckets, (TASK,)), TASK_LEGEND),),
                unit="s",
            )
        )
    if QUEUE_WAIT in names:
        buckets = selector(names.series(QUEUE_WAIT, "_bucket"))
        panels.append(
            Panel(
                "Queue wait p95 (publish to start)",
                "timeseries",
                (Target(quantile(0.95, buckets, (QUEUE,)), QUEUE_LEGEND),),
                unit="s",
            )
        )
    if ACTIVE in names:
        panels.append(
            Panel(
                "Tasks running",
                "timeseries",
                (Target(by((QUEUE,), selector(names.series(ACTIVE))), QUEUE_LEGEND),),
            )
        )
    backlog = _backlog(names)
    if backlog is not None:
        panels.append(backlog)
    return (Row("Celery tasks", tuple(panels)),) if panels else ()


def _backlog(names: Names) -> Panel | None:
    """Waiting in the broker (every worker reads the same queue: the max of their readings)
    and reserved by the workers (each its own: summed)."""
    targets = []
    if LENGTH in names:
        length = by((QUEUE,), selector(names.series(LENGTH)), "max")
        targets.append(Target(length, f"{QUEUE_LEGEND} waiting in the broker"))
    if RESERVED in names:
        reserved = by((QUEUE,), selector(names.series(RESERVED)))
        targets.append(Target(reserved, f"{QUEUE_LEGEND} reserved by workers"))
    if not targets:
        return None
    return Panel(
        "Queue backlog",
        "timeseries",
        tuple(targets),
        description="Messages waiting in the broker's queue (Redis brokers), and tasks the "
        "workers have prefetched but not started. Read when the metrics are collected.",
    )


def _share(runs: str, state: str) -> str:
    part = sum_rate(selector(runs, f'{STATE}="{state}"'), (TASK,))
    return ratio(part, sum_rate(selector(runs), (TASK,)))
