"""A Celery worker measured by otelkit, and a command that sends it tasks.

    python worker.py             # the worker; metrics on http://127.0.0.1:9464/metrics
    python worker.py send 20     # in another terminal: publish 20 tasks

The broker is Redis (``CELERY_BROKER_URL``, default ``redis://127.0.0.1:6379/0``).
"""

from __future__ import annotations

import os
import random
import sys
import time

from celery import Celery, signals

import otelkit

app = Celery("example", broker=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"))


@app.task(name="example.resize_image")
def resize_image(image_id: int) -> int:
    time.sleep(random.uniform(0.005, 0.05))
    if image_id % 10 == 0:
        raise ValueError(f"image {image_id} is corrupt")
    return image_id


@signals.worker_init.connect(weak=False)
def configure_telemetry(**_: object) -> None:
    # The worker's main process, before its pool starts: every pool process inherits it.
    otelkit.init_telemetry(service_name="example-worker")


if __name__ == "__main__":
    if sys.argv[1:2] == ["send"]:
        for image_id in range(1, int(sys.argv[2]) + 1):
            resize_image.delay(image_id)
    else:
        app.worker_main(["worker", "--pool=solo", "--loglevel=INFO"])
