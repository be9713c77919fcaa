"""Celery rules: failure and retry ratios per task, how long tasks wait in their queue, and a
queue whose backlog keeps growing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit.ops.rules._context import RULES_PREFIX, by
from otelkit.ops.rules._model import Alert, Group, Record, Runbook, seconds

if TYPE_CHECKING:
    from otelkit.ops.rules._context import Context

__all__ = ["celery_groups"]

RUNS = "celery.task.runs"
QUEUE_WAIT = "celery.task.queue_wait"
QUEUE_LENGTH = "celery.queue.length"
RESERVED = "celery.worker.reserved_tasks"
BACKLOG_WINDOW = "15m"
"""How long the backlog must have grown (the slope over this window, and the alert's ``for``):
long enough that a burst the workers absorb does not page anyone."""


def celery_groups(ctx: Context) -> list[Group]:
    t, w = ctx.thresholds, ctx.window
    task, state = ctx.label(RUNS, "celery.task.name"), ctx.label(RUNS, "celery.task.state")
    queue = ctx.label(QUEUE_WAIT, "messaging.destination.name")
    runs = f"job_task:celery_task_runs:rate{w}"
    total = f"job_task:celery_task_runs_all:rate{w}"
    failure = f"job_task:celery_task_failure_ratio:ratio_rate{w}"
    retry = f"job_task:celery_task_retry_ratio:ratio_rate{w}"
    buckets = f"job_queue:celery_task_queue_wait_seconds_bucket:rate{w}"
    p95 = f"job_queue:celery_task_queue_wait_seconds:p95_{w}"

    def share(of: str) -> str:
        return f'sum {by(task)} ({runs}{{{state}="{of}"}}) / {total} or 0 * {total}'

    records = (
        Record(runs, f"sum {by(task, state)} (rate({ctx.series(RUNS)}{ctx.selector()}[{w}]))"),
        Record(total, f"sum {by(task)} ({runs})"),
        Record(failure, share("FAILURE")),
        Record(retry, share("RETRY")),
        Record(
            buckets,
            f"sum {by(queue, 'le')} "
            f"(rate({ctx.series(QUEUE_WAIT, '_bucket')}{ctx.selector()}[{w}]))",
        ),
        Record(p95, f"histogram_quantile(0.95, {buckets})"),
    )
    task_queries = (failure, retry, f'sum by ({task}, {state}) ({runs}{{job="<service>"}})')
    alerts = (
        Alert(
            "CeleryTaskFailureRate",
            f"{failure} > {t.celery_failure:g}",
            300.0,
            "warning",
            "{{ $labels.job }}: {{ $value | humanizePercentage }} of {{ $labels." + task + " }}"
            " runs fail",
            f"{{{{ $value | humanizePercentage }}}} of the runs of {{{{ $labels.{task} }}}} "
            f"failed over the last {w} (threshold {t.celery_failure:.0%}).",
            Runbook(
                "A task's runs end in FAILURE (an exception, retries exhausted).",
                task_queries,
                (
                    "a bug or bad input in the task (the spans' `error.type` names it)",
                    "a dependency of the task down (database, API, broker)",
                    "time limits (`SoftTimeLimitExceeded`) on slow runs",
                ),
            ),
        ),
        Alert(
            "CeleryTaskRetryRate",
            f"{retry} > {t.celery_retry:g}",
            300.0,
            "warning",
            "{{ $labels.job }}: {{ $value | humanizePercentage }} of {{ $labels." + task + " }}"
            " runs retry",
            f"{{{{ $value | humanizePercentage }}}} of the runs of {{{{ $labels.{task} }}}} "
            f"ended by asking for a retry over the last {w} (threshold {t.celery_retry:.0%}).",
            Runbook(
                "Runs of a task keep retrying: each retry delays the work and adds load.",
                task_queries,
                (
                    "a flaky or rate-limiting dependency the task retries on",
                    "the same input retried forever because the error is not transient",
                ),
            ),
        ),
        Alert(
            "CeleryQueueWaitHigh",
            f"{p95} > {t.celery_queue_wait_p95_s:g}",
            300.0,
            "warning",
            "{{ $labels.job }}: tasks wait {{ $value | humanizeDuration }} in {{ $labels."
            + queue
            + " }}",
            f"95 % of the tasks taken from {{{{ $labels.{queue} }}}} waited up to "
            f"{{{{ $value | humanizeDuration }}}} in the queue over the last {w} "
            f"(threshold {seconds(t.celery_queue_wait_p95_s)}).",
            Runbook(
                "Tasks sit in the broker's queue before a worker takes them: the workers are "
                "not keeping up.",
                (p95, f"sum by ({queue}) ({ctx.series('celery.worker.active_tasks')})"),
                (
                    "too few workers or too low `--concurrency` for the load",
                    "long tasks occupying every worker (prefetch multiplier)",
                    "workers down or not consuming that queue",
                ),
            ),
        ),
    )
    return [Group(f"{RULES_PREFIX}-celery", (*records, *alerts, *_backlog(ctx)))]


def _backlog(ctx: Context) -> tuple[Record | Alert, ...]:
    """Every worker reads the same queue: their readings are equal, so the max, not the sum."""
    queue = ctx.label(QUEUE_LENGTH, "messaging.destination.name")
    length = "job_queue:celery_queue_length:max"
    growth = f"deriv({length}[{BACKLOG_WINDOW}])"
    return (
        Record(length, f"max {by(queue)} ({ctx.series(QUEUE_LENGTH)}{ctx.selector()})"),
        Alert(
            "CeleryQueueBacklogGrowing",
            f"{length} > 0 and {growth} > 0",
            900.0,
            "warning",
            "{{ $labels.job }}: the backlog of {{ $labels." + queue + " }} keeps growing",
            f"{{{{ $value }}}} messages wait in {{{{ $labels.{queue} }}}} and the queue has "
            f"grown for the last {BACKLOG_WINDOW}: tasks arrive faster than the workers take "
            "them.",
            Runbook(
                "More tasks are published to the queue than the workers take from it, for long "
                "enough that it is not a burst.",
                (
                    length,
                    growth,
                    f"sum by ({queue}) ({ctx.series(RESERVED)})",
                    f"sum by ({queue}) ({ctx.series('celery.worker.active_tasks')})",
                ),
                (
                    "workers down, stuck, or not consuming this queue (`-Q`)",
                    "too few workers or too low `--concurrency` for the load",
                    "tasks slower than usual (a slow dependency): compare the task durations",
                    "a publisher sending far more than usual (a loop, a retry storm)",
                ),
            ),
        ),
    )
