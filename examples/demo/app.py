"""otelkit demo: a small shop service with metrics you can open in a browser.

    python examples/demo/app.py            # or: nox -s demo

It needs nothing but otelkit: the service listens on http://127.0.0.1:8000, a built-in traffic
generator calls it, and the metrics are served by otelkit's Prometheus endpoint on
http://127.0.0.1:9464/metrics (and mounted in the app itself at /metrics).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import re
import threading
import time
import urllib.request
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import otelkit

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

telemetry = otelkit.init_telemetry("otelkit-demo", service_version="1.0")
meter = telemetry.meter
requests_duration = meter.create_histogram(
    "http.server.request.duration", unit="s", description="Duration of HTTP server requests."
)
orders = meter.create_counter("shop.orders", unit="{order}", description="Orders placed.")
basket_value = meter.create_histogram(
    "shop.basket.value",
    unit="EUR",
    description="Value of checked-out baskets.",
    explicit_bucket_boundaries_advisory=[5, 10, 25, 50, 100, 250],
)
metrics_endpoint = otelkit.metrics_wsgi()

ROUTES: list[tuple[str, re.Pattern[str]]] = [
    ("/", re.compile(r"/")),
    ("/items/{item_id}", re.compile(r"/items/\d+")),
    ("/checkout", re.compile(r"/checkout")),
]


def shop(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/metrics":
        return metrics_endpoint(environ, start_response)
    started = time.perf_counter()
    route = next((template for template, pattern in ROUTES if pattern.fullmatch(path)), None)
    status = "200 OK"
    if route is None:
        status = "404 Not Found"
    elif route == "/checkout":
        tier = random.choice(["free", "gold"])
        orders.add(1, {"shop.tier": tier})
        basket_value.record(random.uniform(3, 300), {"shop.tier": tier})
        if random.random() < 0.05:
            status = "500 Internal Server Error"
    time.sleep(random.uniform(0.001, 0.02))
    attributes: dict[str, str | int] = {
        "http.request.method": environ["REQUEST_METHOD"],
        "http.response.status_code": int(status[:3]),
        "url.scheme": "http",
    }
    if route is not None:
        attributes["http.route"] = route
    requests_duration.record(time.perf_counter() - started, attributes)
    start_response(status, [("Content-Type", "text/plain")])
    return [f"{status}\n".encode()]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def generate_traffic(base: str, stop: threading.Event) -> None:
    paths = ["/", "/items/1", "/items/42", "/checkout", "/checkout", "/nope"]
    while not stop.is_set():
        with contextlib.suppress(OSError):
            urllib.request.urlopen(base + random.choice(paths), timeout=2).read()
        stop.wait(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    args = parser.parse_args()

    server = make_server("127.0.0.1", args.port, shop, WSGIServer, QuietHandler)
    base = f"http://127.0.0.1:{server.server_port}"
    stop = threading.Event()
    threading.Thread(target=generate_traffic, args=(base, stop), daemon=True).start()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    prometheus = telemetry.settings.exporter_options.get("prometheus", {})
    print(f"otelkit demo: service on {base}", flush=True)
    print(f"  metrics (in the app):        {base}/metrics", flush=True)
    if prometheus.get("port"):
        print(
            f"  metrics (otelkit endpoint):  http://{prometheus['host']}:{prometheus['port']}/metrics",
            flush=True,
        )
    print("  Ctrl-C to stop", flush=True)
    try:
        if args.duration is None:
            while True:
                time.sleep(3600)
        time.sleep(args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.shutdown()
        telemetry.shutdown()


if __name__ == "__main__":
    main()
