"""A Celery app configured in its worker's main process, as docs/celery.md shows.

The broker comes from SHOP_BROKER_URL (the tests' real Redis).
"""

import logging
import os

from celery import Celery, signals

import otelkit

app = Celery("shop", broker=os.environ["SHOP_BROKER_URL"])


@signals.worker_init.connect(weak=False)
def configure_telemetry(**_: object) -> None:
    logging.basicConfig(level=logging.INFO)  # before Celery's own logging: the start-up line
    if os.environ.get("SHOP_CONFIGURE", "1") == "1":  # `otelkit run` configures it instead
        otelkit.init_telemetry(service_name="shop-worker")


@app.task(name="shop.add")
def add(x: int, y: int) -> int:
    logging.getLogger("shop").info("adding %d and %d", x, y)
    return x + y
