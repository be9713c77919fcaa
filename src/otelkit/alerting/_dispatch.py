"""Hands notifications to the channels, each on its own worker thread.

A channel that routes by severity (``accepts(alert)``: the webhook and e-mail channels) is
given only the alerts it has a destination for, so nothing is counted for the others.

The evaluation thread only enqueues, so a webhook that times out and retries, a slow mail
server or a callback that blocks delays neither the next evaluation nor the other channels. A
worker's thread starts with its first notification. Every delivery is counted in the
``otelkit.alert.notifications`` counter by ``channel`` and ``outcome`` (``sent``, ``failed``,
``dropped`` when a channel's queue is full), and a failure is logged at WARNING once per
channel and kind of error.

Why a counter rather than ``otelkit._errors.record_internal_error``: a refused webhook or an
unreachable mail server is the outside world failing, not a bug in otelkit. Operators want to
see and alert on it (a metric, exported with the rest), and our own test suite must not turn
it into a test failure the way it does internal errors.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otelkit._version import __version__
from otelkit.alerting._delivery import DeliveryError
from otelkit.metrics._fastpath import REGISTRY
from otelkit.metrics._spec import MetricSpec, own

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from otelkit.alerting._alert import Alert
    from otelkit.alerting._delivery import Channel
    from otelkit.metrics._fastpath import FastSum

__all__ = ["METRICS", "NOTIFICATIONS", "Dispatcher"]

logger = logging.getLogger("otelkit")

NOTIFICATIONS = "otelkit.alert.notifications"
SCOPE = InstrumentationScope("otelkit.alerting", __version__)
SPEC = MetricSpec(
    NOTIFICATIONS,
    "counter",
    "{notification}",
    "Alert notifications by channel and outcome (sent, failed, dropped).",
    (
        own("channel", description="The channel's name (log, callback, webhook, smtp, ...)."),
        own("outcome", "sent", "failed", "dropped"),
    ),
    "alerting",
)
METRICS = (SPEC,)
"""The counter, for the metric catalog; it is created from this declaration."""
QUEUE_SIZE = 1000
_STOP = object()


def notification_counter() -> FastSum:
    """The counter of delivery outcomes, fed to every reader of the active configuration."""
    return REGISTRY.sum(
        SPEC.name,
        unit=SPEC.unit,
        description=SPEC.description,
        scope=SCOPE,
        monotonic=True,
        transient=True,
    )


class _Worker:
    """One channel's queue and thread."""

    def __init__(self, channel: Channel, dispatcher: Dispatcher, size: int) -> None:
        self.channel = channel
        self.queue: queue.Queue[object] = queue.Queue(size)
        self._dispatcher = dispatcher
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def accepts(self, alert: Alert) -> bool:
        """A routed channel (webhook, smtp) takes only the severities it has a route for."""
        accepts = getattr(self.channel, "accepts", None)
        return accepts is None or bool(accepts(alert))

    def put(self, alert: Alert) -> bool:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"otelkit-alert-{self.channel.name}", daemon=True
                )
                self._thread.start()
        try:
            self.queue.put_nowait(alert)
        except queue.Full:
            return False
        return True

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            try:
                if item is _STOP:
                    return
                self._dispatcher.deliver(self.channel, item)  # type: ignore[arg-type]
            finally:
                self.queue.task_done()

    def stop(self, deadline: float) -> None:
        with self._lock:
            thread = self._thread
        if thread is None:
            return
        try:
            self.queue.put(_STOP, timeout=max(deadline - time.monotonic(), 0.001))
        except queue.Full:
            return
        thread.join(max(deadline - time.monotonic(), 0.0))

    def drain(self, deadline: float) -> bool:
        """Wait until everything queued was delivered (or failed); False if time ran out."""
        with self.queue.all_tasks_done:
            while self.queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.queue.all_tasks_done.wait(remaining)
        return True


class Dispatcher:
    """Routes each alert to its rule's channels (None: all of them)."""

    def __init__(self, channels: Mapping[str, Channel], *, queue_size: int = QUEUE_SIZE) -> None:
        self.channels = dict(channels)
        self._workers = {
            name: _Worker(channel, self, queue_size) for name, channel in channels.items()
        }
        self._counter: FastSum | None = None
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._logged: set[tuple[str, str]] = set()
        self._stopping = threading.Event()
        for channel in channels.values():
            if hasattr(channel, "sleep"):  # waits between retries end at shutdown
                setattr(channel, "sleep", self._stopping.wait)  # noqa: B010

    def export_counts(self) -> None:
        """Count outcomes in the ``otelkit.alert.notifications`` metric from now on.

        Called by ``AlertEngine.start()``, once a pipeline is there to read it; an engine that
        only evaluates (tests) keeps its counts in ``counts()`` alone.
        """
        self._counter = notification_counter()

    def dispatch(self, alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            names = alert.rule.channels if alert.rule.channels is not None else self._workers
            for name in names:
                worker = self._workers.get(name)
                if worker is None or not worker.accepts(alert):
                    continue  # not configured, or no route for this severity
                if not worker.put(alert):
                    self._count(name, "dropped")

    def deliver(self, channel: Channel, alert: Alert) -> None:
        """Send one notification on the calling thread and count the outcome."""
        try:
            channel.send(alert)
        except Exception as exc:
            self._count(channel.name, "failed")
            self._log_failure(channel.name, exc)
        else:
            self._count(channel.name, "sent")

    def counts(self) -> dict[tuple[str, str], int]:
        """Outcomes so far by (channel, outcome), e.g. ``{("webhook", "sent"): 2}``."""
        with self._lock:
            return dict(self._counts)

    def drain(self, timeout: float) -> bool:
        """Wait until every queued notification was handled; False if ``timeout`` ran out."""
        deadline = time.monotonic() + timeout
        return all(worker.drain(deadline) for worker in self._workers.values())

    def close(self, timeout: float) -> None:
        """Deliver what is queued within ``timeout`` (retries no longer wait), then stop."""
        deadline = time.monotonic() + timeout
        self._stopping.set()
        for worker in self._workers.values():
            worker.stop(deadline)

    def _count(self, channel: str, outcome: str) -> None:
        with self._lock:
            self._counts[channel, outcome] += 1
        counter = self._counter
        if counter is not None:
            counter.add((channel, outcome), {"channel": channel, "outcome": outcome}, 1)

    def _log_failure(self, channel: str, exc: Exception) -> None:
        kind = type(exc).__name__
        # A DeliveryError's message is written to be safe; anything else may hold a secret.
        detail = str(exc) if isinstance(exc, DeliveryError) else kind
        with self._lock:
            first = (channel, kind) not in self._logged
            self._logged.add((channel, kind))
        if first:
            logger.warning(
                "otelkit: alert channel %r failed to deliver a notification (logged once per "
                "kind; counted in %s): %s",
                channel,
                NOTIFICATIONS,
                detail,
            )
