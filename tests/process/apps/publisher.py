"""A script beside a running server: configured with default settings, publishes tasks, then
stays up (until stopped) so that its own metrics can be read."""

import logging
import sys
import time

import otelkit

logging.basicConfig(level=logging.INFO)
otelkit.init_telemetry(service_name="shop")


@otelkit.counted("shop.publish.runs")
def publish() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "publish":
        from tasks import add

        for i in range(3):
            add.delay(i, i)


publish()
print("published", flush=True)
time.sleep(600)  # until the test stops it
