"""Celery: task metrics from Celery's signals, and the trace carried from publisher to worker.

Everything hangs on Celery's process-wide signals; nothing of Celery is patched.

- Publisher (``before_task_publish``/``after_task_publish``, in whatever process sends the task,
  a worker retrying one included): the publish time (``otelkit_published``, epoch seconds) and
  the W3C trace context go into the message headers; with tracing on, a ``PRODUCER`` span
  covers the publish.
- Worker, in the process that runs the task (``task_prerun``/``task_postrun``): the worker's
  active tasks, the queue wait (from the publish header to the start), and at the end the run
  by the state Celery hands to ``task_postrun`` with its duration; with tracing on, a
  ``CONSUMER`` span, a child of the publisher's context, is current while the task runs.
- Outcomes Celery decides outside a run (``task_revoked``, ``task_rejected``,
  ``task_unknown``, and ``task_failure``/``task_retry`` sent by the worker's main process for a
  hard time limit or a lost pool process) count a run without a duration. ``task_failure`` and
  ``task_retry`` sent from inside a run are left to ``task_postrun``, so no run counts twice.
- ``worker_process_init`` starts each pool process with empty per-process state, and
  ``worker_process_shutdown`` flushes the process' telemetry (pool processes leave through
  ``os._exit``, which skips ``atexit``).

The recorder is bound lazily to the active configuration, as the HTTP middlewares are: signals
connected before ``init_telemetry()`` (or before a pool process configures its own telemetry)
start recording as soon as there is one, and a re-init brings new instruments. Every receiver
runs through ``guarded``: nothing here raises into the task or the publisher.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from opentelemetry import context as context_api
from opentelemetry import propagate, trace
from opentelemetry.propagators import textmap
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
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
from otelkit._errors import ConfigError, guarded
from otelkit._version import __version__
from otelkit.instrumentation.http._common import error_type
from otelkit.metrics._fastpath import REGISTRY
from otelkit.tracing._spans import SpanFactory

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import ModuleType

    from opentelemetry.trace import Span

    from otelkit.metrics._fastpath import FastHistogram, FastSum, _SumSeries
    from otelkit.runtime._telemetry import Telemetry

__all__ = [
    "PUBLISHED_HEADER",
    "TASK_BUCKETS",
    "available",
    "install_auto",
    "instrument_celery",
    "uninstall_auto",
]

logger = logging.getLogger("otelkit")

SCOPE = InstrumentationScope("otelkit.celery", __version__)
EXTRA_HINT = "pip install 'otelkit[celery]'"

TASK_RUNS = "celery.task.runs"
TASK_DURATION = "celery.task.duration"
TASK_QUEUE_WAIT = "celery.task.queue_wait"
WORKER_ACTIVE_TASKS = "celery.worker.active_tasks"
TASK_NAME = "celery.task.name"
TASK_STATE = "celery.task.state"

PUBLISHED_HEADER = "otelkit_published"
"""Message header: when the task was published, in seconds since the epoch (a float)."""

# Celery's state names (celery.states), spelled out so that this module imports no Celery.
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

_SEND = MessagingOperationTypeValues.SEND.value
_PROCESS = MessagingOperationTypeValues.PROCESS.value


class _RequestGetter(textmap.Getter[Any]):
    """Reads the propagation headers (``traceparent``…) from a Celery request."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        value = _header(carrier, key)
        return [value] if isinstance(value, str) else None

    def keys(self, carrier: Any) -> list[str]:
        return []


_GETTER = _RequestGetter()


class CeleryRecorder:
    """Per configuration: the task instruments and the span factory (None without tracing)."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.owner = telemetry
        self.runs: FastSum = REGISTRY.sum(
            TASK_RUNS,
            unit="{run}",
            description="Task runs by outcome.",
            scope=SCOPE,
            monotonic=True,
            transient=True,
        )
        self.duration: FastHistogram = REGISTRY.histogram(
            TASK_DURATION,
            unit="s",
            description="Duration of task runs, from start to outcome.",
            scope=SCOPE,
            boundaries=TASK_BUCKETS,
            transient=True,
        )
        self.queue_wait: FastHistogram = REGISTRY.histogram(
            TASK_QUEUE_WAIT,
            unit="s",
            description="Time tasks waited from publish (or their ETA) to the start of the run.",
            scope=SCOPE,
            boundaries=TASK_BUCKETS,
            transient=True,
        )
        self.active: FastSum = REGISTRY.sum(
            WORKER_ACTIVE_TASKS,
            unit="{task}",
            description="Tasks running in this worker process.",
            scope=SCOPE,
            monotonic=False,
            transient=True,
        )
        pipeline = telemetry._pipeline
        self.spans: SpanFactory | None = (
            SpanFactory(pipeline.tracer_provider, SCOPE)
            if telemetry.tracing and pipeline is not None
            else None
        )

    def outcome(self, name: str, state: str, queue: str | None, seconds: float | None) -> None:
        """Count one run (and record its duration when it ran here)."""
        key = (name, state, queue)
        attributes = _attributes(name, state, queue)
        self.runs.add(key, attributes, 1)
        if seconds is not None:
            self.duration.record(key, attributes, seconds)


def _attributes(
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


_recorder: CeleryRecorder | None = None


def _current() -> CeleryRecorder | None:
    """The recorder of the active configuration in this process, if there is one."""
    global _recorder
    active = _active.current()
    if active is None or not active.enabled:
        return None
    cached = _recorder
    if cached is not None and cached.owner is active:
        return cached
    _recorder = recorder = CeleryRecorder(active)
    return recorder


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
        self.active: _SumSeries = recorder.active.series((queue,), _attributes(None, None, queue))
        self.span: Span | None = None
        self.token: object | None = None


# Runs in progress in this process, by id() of the task's request context (the object Celery
# pushes before task_prerun and pops after task_postrun). Identity, not the task id: a retry
# can start in another thread before the attempt that published it has finished.
_running: dict[int, _Run] = {}
_publishing = threading.local()  # .span: the PRODUCER span between before and after publish


def _queue(delivery_info: object) -> str | None:
    """The queue: the routing key (the queue's name with Celery's default direct routing)."""
    if isinstance(delivery_info, dict):
        queue = delivery_info.get("routing_key") or delivery_info.get("exchange")
        if isinstance(queue, str) and queue:
            return queue
    return None


def _epoch(value: object) -> float | None:
    """A header value as epoch seconds: a number, or an ISO 8601 string (Celery's ETA)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # Celery's default (enable_utc)
    return moment.timestamp()


def _waiting_since(request: Any) -> float | None:
    """When the task became ready to run: its publish time, or its ETA if that is later.

    Without otelkit's header (a producer without otelkit), the ETA alone, else the message's
    ``timestamp`` property (the AMQP "sent" time, which some producers set).
    """
    published = _epoch(_header(request, PUBLISHED_HEADER))
    eta = _epoch(getattr(request, "eta", None))
    if published is None:
        if eta is not None:
            return eta
        properties = getattr(request, "properties", None)
        return _epoch(properties.get("timestamp")) if isinstance(properties, dict) else None
    return published if eta is None else max(published, eta)


def _header(request: Any, key: str) -> object:
    """A custom message header: an attribute of the request, and also in its ``headers``."""
    value = getattr(request, key, None)
    if value is None:
        headers = getattr(request, "headers", None)
        if isinstance(headers, dict):
            value = headers.get(key)
    return value


def _running_here(task: Any) -> bool:
    """Whether ``task``'s current request is a run in progress in this process."""
    request = getattr(task, "request", None)
    run = _running.get(id(request))
    return run is not None and run.request is request


# --- receivers ---------------------------------------------------------------------------------


@guarded("celery")
def _before_publish(
    sender: object = None,
    headers: dict[str, Any] | None = None,
    routing_key: object = None,
    **_: Any,
) -> None:
    if not isinstance(headers, dict):
        return
    headers[PUBLISHED_HEADER] = time.time()
    context = None
    recorder = _current()
    if recorder is not None and recorder.spans is not None:
        _end_producer_span(failed=True)  # left over: the previous publish in this thread raised
        name = str(headers.get("task") or sender)
        attributes: dict[str, Any] = {
            MESSAGING_OPERATION_NAME: _SEND,
            MESSAGING_OPERATION_TYPE: _SEND,
            TASK_NAME: name,
        }
        if isinstance(routing_key, str) and routing_key:
            attributes[MESSAGING_DESTINATION_NAME] = routing_key
        task_id = headers.get("id")
        if isinstance(task_id, str):
            attributes[MESSAGING_MESSAGE_ID] = task_id
        span = recorder.spans.start(
            f"send {name}", None, SpanKind.PRODUCER, attributes, time.time_ns()
        )
        _publishing.span = span
        context = trace.set_span_in_context(span)
    propagate.inject(headers, context=context)


@guarded("celery")
def _after_publish(**_: Any) -> None:
    _end_producer_span(failed=False)


def _end_producer_span(*, failed: bool) -> None:
    span: Span | None = getattr(_publishing, "span", None)
    if span is None:
        return
    _publishing.span = None
    if failed:
        span.set_status(StatusCode.ERROR)
    span.end()


@guarded("celery")
def _prerun(sender: Any = None, task: Any = None, **_: Any) -> None:
    task = task if task is not None else sender
    recorder = _current()
    if recorder is None or task is None:
        return
    request = task.request
    name = str(task.name)
    queue = _queue(getattr(request, "delivery_info", None))
    run = _Run(recorder, request, name, queue)
    now = time.time()
    run.active.add(1)
    _running[id(request)] = run  # first: whatever follows, task_postrun closes the run
    since = _waiting_since(request)
    if since is not None:
        recorder.queue_wait.record(
            (name, queue), _attributes(name, None, queue), max(0.0, now - since)
        )
    if recorder.spans is not None:
        parent = None  # without any of the propagators' headers, skip the extraction
        if any(_header(request, f) is not None for f in propagate.get_global_textmap().fields):
            parent = propagate.extract(request, getter=_GETTER)
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


@guarded("celery")
def _postrun(
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


@guarded("celery")
def _failure(sender: Any = None, exception: object = None, **_: Any) -> None:
    if sender is None or _running_here(sender):
        return  # a run in progress here: task_postrun counts it
    if _reject is not None and isinstance(exception, _reject):
        return  # a task that raised Reject: counted as REJECTED where it ran
    recorder = _current()
    if recorder is not None:
        queue = _queue(getattr(sender.request, "delivery_info", None))
        recorder.outcome(str(sender.name), FAILURE, queue, None)


@guarded("celery")
def _retry(sender: Any = None, request: Any = None, **_: Any) -> None:
    if sender is None or _running_here(sender):
        return
    recorder = _current()
    if recorder is not None:
        queue = _queue(getattr(request, "delivery_info", None))
        recorder.outcome(str(sender.name), RETRY, queue, None)


@guarded("celery")
def _revoked(sender: Any = None, request: Any = None, **_: Any) -> None:
    recorder = _current()
    if recorder is None:
        return
    name = getattr(sender, "name", None) or getattr(request, "task", None)
    queue = _queue(getattr(request, "delivery_info", None))
    recorder.outcome(str(name), REVOKED, queue, None)


@guarded("celery")
def _rejected(message: Any = None, name: object = None, **_: Any) -> None:
    """A message the worker's consumer refused: invalid, or naming no registered task."""
    recorder = _current()
    if recorder is None:
        return
    headers = getattr(message, "headers", None)
    if name is None and isinstance(headers, dict):
        name = headers.get("task")
    queue = _queue(getattr(message, "delivery_info", None))
    recorder.outcome(str(name) if name else "unknown", REJECTED, queue, None)


@guarded("celery")
def _process_init(**_: Any) -> None:
    """A new pool process: nothing in progress, the recorder bound afresh."""
    global _recorder
    _recorder = None
    _running.clear()
    _publishing.span = None


@guarded("celery")
def _process_shutdown(**_: Any) -> None:
    """A pool process ends through os._exit, skipping atexit: export what it recorded."""
    active = _active.current()
    if active is not None:
        active.force_flush()


# --- connecting --------------------------------------------------------------------------------

_RECEIVERS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("before_task_publish", _before_publish),
    ("after_task_publish", _after_publish),
    ("task_prerun", _prerun),
    ("task_postrun", _postrun),
    ("task_failure", _failure),
    ("task_retry", _retry),
    ("task_revoked", _revoked),
    ("task_rejected", _rejected),
    ("task_unknown", _rejected),
    ("worker_process_init", _process_init),
    ("worker_process_shutdown", _process_shutdown),
)

_lock = threading.Lock()
_connected: ModuleType | None = None  # celery.signals, while the receivers are connected
_explicit = False  # instrument_celery() was called: the receivers stay for good
_reject: type[BaseException] | None = None


def _connect(signals: ModuleType) -> None:
    global _connected, _reject
    if _connected is not None:
        return
    _reject = importlib.import_module("celery.exceptions").Reject
    for signal_name, receiver in _RECEIVERS:
        getattr(signals, signal_name).connect(
            receiver, weak=False, dispatch_uid=f"otelkit.celery.{signal_name}"
        )
    _connected = signals


def _disconnect() -> None:
    global _connected
    signals = _connected
    if signals is None:
        return
    for signal_name, receiver in _RECEIVERS:
        getattr(signals, signal_name).disconnect(
            receiver, dispatch_uid=f"otelkit.celery.{signal_name}"
        )
    _connected = None


def available(*, required: bool = False) -> bool:
    """Whether Celery is installed (without importing it).

    When it is not: with ``required`` (``celery`` named in ``OTELKIT_INSTRUMENT``) raise
    ``ConfigError`` naming the extra; otherwise log at debug level and return False.
    """
    if importlib.util.find_spec("celery") is not None:
        return True
    if required:
        raise ConfigError(
            "OTELKIT_INSTRUMENT (or instrument=) lists 'celery', which is not installed: "
            f"{EXTRA_HINT}"
        )
    logger.debug("otelkit: Celery is not installed; not instrumenting it")
    return False


def instrument_celery(app: object | None = None) -> None:
    """Measure Celery tasks and carry the trace from publisher to worker; idempotent.

    Call it where tasks are published and where they run (the module that creates the Celery
    app is imported in both). Celery's signals are process-wide, so this instruments every app
    of the process; ``app`` is only checked to be a Celery app. It may run before
    ``init_telemetry()``: recording starts with the configuration, in each pool process with
    that process' own configuration.
    """
    if app is not None and not any(
        f"{cls.__module__}.{cls.__qualname__}" == "celery.app.base.Celery"
        for cls in type(app).__mro__
    ):
        raise ConfigError(
            f"instrument_celery() needs a Celery application, got {type(app).__name__}"
        )
    global _explicit
    if importlib.util.find_spec("celery") is None:
        raise ConfigError(f"instrument_celery() needs Celery, which is not installed: {EXTRA_HINT}")
    with _lock:
        _explicit = True
        _connect(importlib.import_module("celery.signals"))


def install_auto(*, required: bool = False) -> bool:
    """For ``init_telemetry()``: connect the receivers if Celery is installed.

    ``required`` (``celery`` named in ``OTELKIT_INSTRUMENT``) turns a missing Celery into
    ``ConfigError`` (see ``available``); otherwise it is skipped quietly. True if connected.
    """
    if not available(required=required):
        return False
    with _lock:
        _connect(importlib.import_module("celery.signals"))
    return True


def uninstall_auto() -> None:
    """For ``Telemetry.shutdown()``: disconnect, unless ``instrument_celery()`` asked for them."""
    with _lock:
        if not _explicit:
            _disconnect()
