"""The backlog of a Celery service: queue lengths read from a real Redis broker, reserved tasks.

No worker consumes in these tests: tasks are published to a Redis database of the test's own
and stay there, so the broker holds exactly what was published. The process that watches the
queues is this one (``watch()`` is what the worker's main process calls when it starts), and
the ``telemetry`` fixture of otelkit's pytest plugin reads what it reports; the test with a real
worker, paused behind a long task, is in test_celery_backlog_worker.py.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import TYPE_CHECKING, Any

import pytest

from otelkit._errors import internal_error_count
from otelkit.instrumentation.celery._backlog import BROKER_COMPONENT, watch
from otelkit.instrumentation.celery._broker import queue_keys
from tests.fixtures.servers import free_port
from tests.tasks.celery_app import QUEUE, QUICK, create_app

if TYPE_CHECKING:
    from collections.abc import Iterator

    from celery import Celery

    from otelkit.testing import CapturedTelemetry
    from tests.fixtures.redis import RedisServer

pytestmark = pytest.mark.integration

LENGTH, RESERVED = "celery.queue.length", "celery.worker.reserved_tasks"
DESTINATION = "messaging.destination.name"
URGENT = "otelkit-tests-urgent"


@pytest.fixture
def app(redis_url: str) -> Iterator[Celery]:
    app = create_app(redis_url)
    yield app
    app.close()


def by_queue(telemetry: CapturedTelemetry, name: str) -> dict[str, float]:
    """The value of each queue's series of ``name``, collected now."""
    return {p.attributes[DESTINATION]: p.value for p in telemetry.metric(name).points()}


def database(url: str) -> int:
    return int(url.rsplit("/", 1)[1])


# Celery's default transport options, and the ones its documentation suggests for priorities
# (ten steps, a readable separator), with a global key prefix as a shared Redis would have.
OPTIONS = {
    "defaults": {},
    "custom": {"sep": ":", "priority_steps": list(range(10)), "global_keyprefix": "shop:"},
}


@pytest.mark.parametrize("options", OPTIONS.values(), ids=OPTIONS.keys())
def test_queue_length_is_what_waits_in_the_broker(
    telemetry: CapturedTelemetry, app: Celery, redis_server: RedisServer, options: dict[str, Any]
) -> None:
    """N tasks published to a queue read N; priorities, kept in keys of their own, count too."""
    app.conf.broker_transport_options = options
    n, per_priority = 7, 2
    for _ in range(n):
        app.tasks[QUICK].apply_async(queue=QUEUE)
    for priority in range(10):
        for _ in range(per_priority):
            app.tasks[QUICK].apply_async(queue=URGENT, priority=priority)

    assert watch(app, [QUEUE, URGENT]) is True
    length = telemetry.gauge(LENGTH)
    assert length.value(messaging_destination_name=QUEUE) == n
    assert length.value(messaging_destination_name=URGENT) == 10 * per_priority

    # The urgent messages really are spread over several lists (one per priority step).
    db = database(app.conf.broker_url)
    keys = queue_keys(
        URGENT,
        sep=options.get("sep", "\x06\x16"),
        steps=options.get("priority_steps", (0, 3, 6, 9)),
        prefix=options.get("global_keyprefix", ""),
    )
    lengths = [int(redis_server.command("LLEN", key, db=db)[1:]) for key in keys]
    assert sum(lengths) == 10 * per_priority
    assert sum(1 for length in lengths if length) > 1, lengths


def test_queue_length_follows_the_broker(telemetry: CapturedTelemetry, app: Celery) -> None:
    """Each collection reads the broker again: more tasks, a longer queue; purged, zero."""
    watch(app, [QUEUE])
    assert by_queue(telemetry, LENGTH) == {QUEUE: 0}
    for _ in range(3):
        app.tasks[QUICK].delay()
    assert by_queue(telemetry, LENGTH) == {QUEUE: 3}
    with app.connection_for_write() as connection:
        app.amqp.queues[QUEUE].bind(connection.default_channel).purge()
    assert by_queue(telemetry, LENGTH) == {QUEUE: 0}


def test_default_queues_are_the_ones_the_worker_consumes(
    telemetry: CapturedTelemetry, app: Celery
) -> None:
    """Without a list of queues, the queues the app's worker would consume are read."""
    app.tasks[QUICK].delay()
    watch(app)
    assert by_queue(telemetry, LENGTH) == {QUEUE: 1}


def test_no_reserved_tasks_outside_a_worker(telemetry: CapturedTelemetry, app: Celery) -> None:
    """A process that holds no task reports 0 reserved for each watched queue."""
    watch(app, [QUEUE, URGENT])
    reserved = telemetry.updowncounter(RESERVED)
    assert reserved.series() == [{DESTINATION: QUEUE}, {DESTINATION: URGENT}]
    assert reserved.value() == 0
    assert reserved.unit == "{task}"


def test_nothing_is_watched_without_a_configuration(app: Celery) -> None:
    """Before init_telemetry() there is nothing to report into: watch() says so."""
    assert watch(app, [QUEUE]) is False


@pytest.fixture
def silent_broker() -> Iterator[int]:
    """A port that accepts connections and never answers (a broker hung or behind a firewall)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.mark.parametrize("broker", ["refused", "silent"])
def test_unreachable_broker_skips_the_collection(
    telemetry: CapturedTelemetry,
    silent_broker: int,
    broker: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A broker that refuses or never answers: no series, within the timeout, counted each time,
    logged once, and the collection of every other metric goes on."""
    port = free_port() if broker == "refused" else silent_broker
    app = create_app(f"redis://127.0.0.1:{port}/0")
    timeout = 0.3
    before = internal_error_count(BROKER_COMPONENT)
    watch(app, [QUEUE], timeout=timeout)
    with caplog.at_level(logging.WARNING, logger="otelkit"):
        for _ in range(3):
            started = time.monotonic()
            assert by_queue(telemetry, LENGTH) == {}
            elapsed = time.monotonic() - started
            assert elapsed < timeout + 1.0
            assert by_queue(telemetry, RESERVED) == {QUEUE: 0}  # the rest is still collected
    app.close()
    assert internal_error_count(BROKER_COMPONENT) - before == 6  # two collections per round
    warnings = [r for r in caplog.records if BROKER_COMPONENT in r.getMessage()]
    assert len(warnings) <= 1  # once per kind of error for the process
