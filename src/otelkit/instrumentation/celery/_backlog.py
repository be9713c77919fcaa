"""The backlog: how long the broker's queues are, and the tasks a worker holds but has not started.

Both are observable instruments, read only when the metrics are collected (a scrape, a push),
never on the task path:

- ``celery.queue.length``: the length of each queue the worker consumes, read from a Redis
  broker (``_broker``) with a short timeout. A broker that is down or slow skips that
  collection: the error is counted in ``otelkit.internal.errors`` and logged once, nothing raises.
- ``celery.worker.reserved_tasks``: the tasks the worker has taken from the broker (prefetched)
  and not yet started, from Celery's worker state. Tasks held for their ETA are not counted:
  they are not due yet.

They are registered when the worker starts (``worker_init``, sent by every worker, and again at
``worker_ready``, sent by ``celery worker`` once it consumes, after the receivers that configure
telemetry in ``worker_init`` have run), in the worker's main process (the prefork parent, or the
only process of the solo and thread pools), on the configuration running then: they are read
once per worker, not once per pool process. Pool processes forked
later inherit the meter provider with the instruments; the callbacks answer only in the process
that registered them. Every worker of a service reads the same queues: their series are equal,
and queries take their ``max``; reserved tasks are each worker's own, and add up.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from opentelemetry.semconv._incubating.attributes.messaging_attributes import (
    MESSAGING_DESTINATION_NAME,
)

from otelkit import _active
from otelkit._errors import guarded, record_internal_error
from otelkit.instrumentation.celery._broker import RedisQueues, redis_queues
from otelkit.instrumentation.celery._message import queue_of
from otelkit.instrumentation.celery._recorder import COMPONENT, QUEUE_LENGTH, RESERVED_TASKS, SCOPE

if TYPE_CHECKING:
    from collections.abc import Iterable

    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.sdk.metrics import MeterProvider

__all__ = ["BROKER_COMPONENT", "READ_TIMEOUT", "consumed_queues", "watch", "worker_started"]

logger = logging.getLogger("otelkit")

READ_TIMEOUT = 1.0
"""Seconds a collection waits for the broker, to connect and to answer, before it skips."""
BROKER_COMPONENT = "celery.broker"
"""The component a failed read of the broker is counted under in ``otelkit.internal.errors``."""


class _Watched:
    """What the callbacks read: the queues, their reader, and the process that registered."""

    __slots__ = ("pid", "queues", "reader")

    def __init__(self, queues: tuple[str, ...], reader: RedisQueues | None) -> None:
        self.queues = queues
        self.reader = reader
        self.pid = os.getpid()


_watched: _Watched | None = None
_lock = threading.Lock()
_providers: weakref.WeakSet[MeterProvider] = weakref.WeakSet()


def consumed_queues(app: Any) -> tuple[str, ...]:
    """The queues the app's worker consumes (``-Q``, else every configured queue), without
    broadcast (fanout) queues, which are no lists in the broker."""
    queues = app.amqp.queues.consume_from
    return tuple(
        name
        for name, queue in queues.items()
        if getattr(getattr(queue, "exchange", None), "type", None) != "fanout"
    )


@guarded(COMPONENT)
def worker_started(sender: Any = None, **_: Any) -> None:
    """``worker_init`` and ``worker_ready``: the worker's main process reports its backlog."""
    app = getattr(sender, "app", None)
    if app is not None:
        watch(app)


def watch(app: Any, queues: Iterable[str] | None = None, *, timeout: float = READ_TIMEOUT) -> bool:
    """Report the length of ``queues`` (default: those the app's worker consumes) and this
    process' reserved tasks, from now on, on the running configuration.

    Replaces what an earlier call watched. False when no configuration is running (nothing is
    reported until the next call).
    """
    global _watched
    names = tuple(dict.fromkeys(queues if queues is not None else consumed_queues(app)))
    reader = redis_queues(app.connection_for_read(), names, timeout=timeout)
    if reader is None:
        logger.debug(
            "otelkit: the broker of Celery app %r is not Redis (or redis-py is missing); "
            "celery.queue.length is not reported",
            getattr(app, "main", app),
        )
    with _lock:
        previous, _watched = _watched, _Watched(names, reader)
    if previous is not None and previous.reader is not None and previous.pid == os.getpid():
        previous.reader.close()
    telemetry = _active.current()
    if telemetry is None or not telemetry.enabled or telemetry._pipeline is None:
        return False
    _register(telemetry._pipeline.meter_provider)
    return True


def _register(provider: MeterProvider) -> None:
    with _lock:
        if provider in _providers:
            return
        _providers.add(provider)
    meter = provider.get_meter(SCOPE.name, SCOPE.version)
    meter.create_observable_gauge(
        QUEUE_LENGTH.name,
        callbacks=[_observe_lengths],
        unit=QUEUE_LENGTH.unit,
        description=QUEUE_LENGTH.description,
    )
    meter.create_observable_up_down_counter(
        RESERVED_TASKS.name,
        callbacks=[_observe_reserved],
        unit=RESERVED_TASKS.unit,
        description=RESERVED_TASKS.description,
    )


def _here() -> _Watched | None:
    """What is watched, if this is the process that registered it (not a forked child)."""
    watched = _watched
    return watched if watched is not None and watched.pid == os.getpid() else None


@guarded(COMPONENT, default=[])
def _observe_lengths(options: CallbackOptions) -> list[Observation]:
    from opentelemetry.metrics import Observation

    watched = _here()
    if watched is None or watched.reader is None:
        return []
    try:
        lengths = watched.reader.lengths()
    except watched.reader.errors as exc:  # the broker, not us: skip this collection
        record_internal_error(BROKER_COMPONENT, exc)
        return []
    return [Observation(n, {MESSAGING_DESTINATION_NAME: q}) for q, n in lengths.items()]


@guarded(COMPONENT, default=[])
def _observe_reserved(options: CallbackOptions) -> list[Observation]:
    from opentelemetry.metrics import Observation

    state = importlib.import_module("celery.worker.state")  # untyped; imported by the worker

    watched = _here()
    if watched is None:
        return []
    counts = dict.fromkeys(watched.queues, 0)
    for request in _waiting(state.reserved_requests, state.active_requests):
        queue = queue_of(getattr(request, "delivery_info", None))
        if queue is not None:
            counts[queue] = counts.get(queue, 0) + 1
    return [Observation(n, {MESSAGING_DESTINATION_NAME: q}) for q, n in counts.items()]


def _waiting(reserved: Iterable[Any], active: Iterable[Any]) -> list[Any]:
    """The reserved requests not yet started. The consumer thread changes both sets while this
    reads them; a read that sees one change is tried again."""
    for _ in range(5):
        try:
            started = set(active)
            return [request for request in reserved if request not in started]
        except RuntimeError:  # "set changed size during iteration"
            continue
    return []
