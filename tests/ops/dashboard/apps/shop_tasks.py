"""The shop's Celery tasks, for the dashboard tests: one succeeds, one fails, one retries once.

The broker comes from ``SHOP_BROKER_URL``; the worker's main process configures its telemetry
from the environment in ``worker_init`` (as docs/celery.md recommends: it reads the queue
backlog), the pool processes inherit it, and all of them serve the same Prometheus port.
Besides Celery's own metrics it declares a business counter, a gauge and an up-down counter,
so the dashboard's business row has one panel of each kind to prove.
"""

from __future__ import annotations

import os

from celery import Celery, Task, signals

import otelkit

QUEUE = "shop"
RECEIPT, CHARGE, SYNC = "shop.tasks.receipt", "shop.tasks.charge", "shop.tasks.sync"
TASKS = (RECEIPT, CHARGE, SYNC)

app = Celery("shop", broker=os.environ.get("SHOP_BROKER_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(
    task_default_queue=QUEUE,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

otelkit.gauge("shop.outbox.depth", lambda: 3)


@app.task(name=RECEIPT)
@otelkit.counted("shop.receipts.sent", attributes={"channel": "email"})
@otelkit.track_inprogress("shop.receipts.sending")
def receipt() -> None:
    """Always succeeds."""


@app.task(name=CHARGE)
def charge() -> None:
    """Always fails: the card is declined."""
    raise RuntimeError("card declined")


@app.task(name=SYNC, bind=True, max_retries=1)
def sync(self: Task) -> None:
    """Retried once, then succeeds."""
    if self.request.retries == 0:
        raise self.retry(countdown=0)


otelkit.instrument_celery(app)


@signals.worker_init.connect(weak=False)
def configure_telemetry(**_: object) -> None:
    otelkit.init_telemetry()
