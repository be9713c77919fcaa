"""The worker's side: task runs, the outcomes Celery decides outside a run, pool processes.

- In the process that runs the task (``task_prerun``/``task_postrun``): the worker's active
  tasks, the queue wait (from the publish header or ETA to the start; a negative result, clock
  skew, counts as 0), and at the end the run by the state Celery hands to ``task_postrun`` with
  its duration: one place for every outcome of a run. With tracing on, a ``CONSUMER`` span, a
  child of the publisher's context, is current while the task runs; it shares one clock
  reading with the duration.
- Outcomes Celery decides outside a run (``task_revoked``, ``task_rejected``,
  ``task_unknown``, and ``task_failure``/``task_retry`` sent by the worker's main process for a
  hard time limit or a lost pool process) count a run without a duration. ``task_failure`` and
  ``task_retry`` sent from inside a run are left to ``task_postrun``, so no run counts twice; a
  ``task_failure`` for a ``Reject`` is ignored, since that run was already counted as REJECTED.
- ``worker_process_init`` starts each pool process with empty per-process state, and
  ``worker_process_shutdown`` flushes the process' telemetry (pool processes leave through
  ``os._exit``, which skips ``atexit``).

Runs in progress are keyed by the identity of the task's request context, not the task id,
because a retry can start before the run that published it has ended.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from opentelemetry import context as context_api
from opentelemetry import propagate, trace
from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_DESTINATION_NAME,
    MESSAGING_MESSAGE_ID,
    MESSAGING_OPERATION_NAME,
    MESSAGING_OPERATION_TYPE,
    MessagingOperationTypeValues,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import SpanKind, StatusCode

from otelkit import _active
from otelkit._errors import guarded
from otelkit.instrumentation._error_type import error_type
from otelkit.instrumentation.celery._message import GETTER, header, queue_of, waiting_since
from otelkit.instrumentation.celery._publish import reset as reset_publishing
from otelkit.instrumentation.celery._recorder import (
    COMPONENT,
    COUNTED_STATES,
    CURRENT,
    FAILURE,
    REJECTED,
    RETRY,
    REVOKED,
    TASK_NAME,
    TASK_STATE,
    series_attributes,
)

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from otelkit.instrumentation.celery._recorder import CeleryRecorder
    from otelkit.metrics._fastpath import _SumSeries

_PROCESS = MessagingOperationTypeValues.PROCESS.value


class _Run:
    """A task run in progress in this process, from ``task_prerun`` to ``task_postrun``."""

    __slots__ = (
        "active",
        "name",
        "queue",
        "recorder",
        "request",
        "span",
        "start",
        "start_ns",
        "token",
    )

    def __init__(
        self, recorder: CeleryRecorder, request: Any, name: str, queue: str | None
    ) -> None:
        self.recorder = recorder
        self.request = request
        self.name = name
        self.queue = queue
        self.start = time.perf_counter()
        self.start_ns = 0
        self.active: _SumSeries = recorder.active.series(
            (queue,), series_attributes(None, None, queue)
        )
        self.span: Span | None = None
        self.token: object | None = None


# Runs in progress in this process, by id() of the task's request context (the object Celery
# pushes before task_prerun and pops after task_postrun). Identity, not the task id: a retry
# can start in another thread before the attempt that published it has finished.
_running: dict[int, _Run] = {}
_reject: type[BaseException] | None = None  # celery.exceptions.Reject, once connected


def know_reject(reject: type[BaseException]) -> None:
    """Celery's ``Reject`` exception, given when the receivers are connected (this module
    imports no Celery)."""
    global _reject
    _reject = reject


def _running_here(task: Any) -> bool:
    """Whether ``task``'s current request is a run in progress in this process."""
    request = getattr(task, "request", None)
    run = _running.get(id(request))
    return run is not None and run.request is request


@guarded(COMPONENT)
def prerun(sender: Any = None, task: Any = None, **_: Any) -> None:
    task = task if task is not None else sender
    recorder = CURRENT.get()
    if recorder is None or task is None:
        return
    request = task.request
    name = str(task.name)
    queue = queue_of(getattr(request, "delivery_info", None))
    run = _Run(recorder, request, name, queue)
    now = time.time()
    run.active.add(1)
    _running[id(request)] = run  # first: whatever follows, task_postrun closes the run
    since = waiting_since(request)
    if since is not None:
        recorder.queue_wait.record(
            (name, queue), series_attributes(name, None, queue), max(0.0, now - since)
        )
    if recorder.spans is not None:
        parent = None  # without any of the propagators' headers, skip the extraction
        if any(header(request, f) is not None for f in propagate.get_global_textmap().fields):
            parent = propagate.extract(request, getter=GETTER)
        attributes: dict[str, Any] = {
            MESSAGING_OPERATION_NAME: _PROCESS,
            MESSAGING_OPERATION_TYPE: _PROCESS,
            TASK_NAME: name,
        }
        if queue is not None:
            attributes[MESSAGING_DESTINATION_NAME] = queue
        task_id = getattr(request, "id", None)
        if isinstance(task_id, str):
            attributes[MESSAGING_MESSAGE_ID] = task_id
        run.start_ns = int(now * 1e9)
        span = recorder.spans.start(
            f"process {name}", parent, SpanKind.CONSUMER, attributes, run.start_ns
        )
        run.span = span
        run.token = context_api.attach(trace.set_span_in_context(span, parent))


@guarded(COMPONENT)
def postrun(
    sender: Any = None, task: Any = None, state: object = None, retval: object = None, **_: Any
) -> None:
    task = task if task is not None else sender
    request = getattr(task, "request", None)
    run = _running.get(id(request))
    if run is None or run.request is not request:
        return
    del _running[id(request)]
    elapsed = time.perf_counter() - run.start
    run.active.add(-1)
    if run.token is not None:
        context_api.detach(run.token)  # type: ignore[arg-type]
    state = str(state) if state is not None else None
    if state in COUNTED_STATES:
        run.recorder.outcome(run.name, state, run.queue, elapsed)
    span = run.span
    if span is not None:
        if state is not None:
            span.set_attribute(TASK_STATE, state)
        if state == FAILURE:
            if isinstance(retval, BaseException):
                span.set_attribute(ERROR_TYPE, error_type(retval))
            span.set_status(StatusCode.ERROR)
        span.end(end_time=run.start_ns + int(elapsed * 1e9))  # one clock with the duration


@guarded(COMPONENT)
def failure(sender: Any = None, exception: object = None, **_: Any) -> None:
    if sender is None or _running_here(sender):
        return  # a run in progress here: task_postrun counts it
    if _reject is not None and isinstance(exception, _reject):
        return  # a task that raised Reject: counted as REJECTED where it ran
    recorder = CURRENT.get()
    if recorder is not None:
        queue = queue_of(getattr(sender.request, "delivery_info", None))
        recorder.outcome(str(sender.name), FAILURE, queue, None)


@guarded(COMPONENT)
def retry(sender: Any = None, request: Any = None, **_: Any) -> None:
    if sender is None or _running_here(sender):
        return
    recorder = CURRENT.get()
    if recorder is not None:
        queue = queue_of(getattr(request, "delivery_info", None))
        recorder.outcome(str(sender.name), RETRY, queue, None)


@guarded(COMPONENT)
def revoked(sender: Any = None, request: Any = None, **_: Any) -> None:
    recorder = CURRENT.get()
    if recorder is None:
        return
    name = getattr(sender, "name", None) or getattr(request, "task", None)
    queue = queue_of(getattr(request, "delivery_info", None))
    recorder.outcome(str(name), REVOKED, queue, None)


@guarded(COMPONENT)
def rejected(message: Any = None, name: object = None, **_: Any) -> None:
    """A message the worker's consumer refused: invalid, or naming no registered task."""
    recorder = CURRENT.get()
    if recorder is None:
        return
    headers = getattr(message, "headers", None)
    if name is None and isinstance(headers, dict):
        name = headers.get("task")
    queue = queue_of(getattr(message, "delivery_info", None))
    recorder.outcome(str(name) if name else "unknown", REJECTED, queue, None)


@guarded(COMPONENT)
def process_init(**_: Any) -> None:
    """A new pool process: nothing in progress, the recorder bound afresh."""
    CURRENT.clear()
    _running.clear()
    reset_publishing()


@guarded(COMPONENT)
def process_shutdown(**_: Any) -> None:
    """A pool process ends through os._exit, skipping atexit: export what it recorded."""
    active = _active.current()
    if active is not None:
        active.force_flush()
