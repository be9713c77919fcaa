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
metrics_endpoint = otelkit.metrics_wsgi()
ITEM = re.compile(r"/items/\d+")


@otelkit.timed("shop.checkout.duration", attributes=lambda tier: {"shop.tier": tier})
@otelkit.counted("shop.orders", unit="{order}", attributes=lambda tier: {"shop.tier": tier})
def checkout(tier: str) -> float:
    """Charge a basket; 5 % of them fail."""
    time.sleep(random.uniform(0.001, 0.02))
    if random.random() < 0.05:
        raise RuntimeError("payment declined")
    value = random.uniform(3, 300)
    otelkit.record("shop.basket.value", value, **{"shop.tier": tier})
    return value


def shop(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A tiny WSGI app: /, /items/<id>, /checkout, and /metrics mounted in the app."""
    path = environ["PATH_INFO"]
    if path == "/metrics":
        return metrics_endpoint(environ, start_response)
    status = "200 OK"
    if path == "/":
        environ["otelkit.route"] = "/"
    elif ITEM.fullmatch(path):
        environ["otelkit.route"] = "/items/{item_id}"
    elif path == "/checkout":
        environ["otelkit.route"] = "/checkout"
        try:
            checkout(random.choice(["free", "gold"]))
        except RuntimeError:
            status = "500 Internal Server Error"
    else:
        status = "404 Not Found"
    start_response(status, [("Content-Type", "text/plain")])
    return [f"{status}\n".encode()]


app = otelkit.instrument_app(shop)


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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    args = parser.parse_args()

    server = make_server("127.0.0.1", args.port, app, WSGIServer, QuietHandler)
    base = f"http://127.0.0.1:{server.server_port}"
    stop = threading.Event()
    threading.Thread(target=generate_traffic, args=(base, stop), daemon=True).start()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    prometheus = telemetry.settings.exporter_options.get("prometheus", {})
    print(f"otelkit demo: service on {base}", flush=True)
    print(f"  metrics (in the app):        {base}/metrics", flush=True)
    if prometheus.get("port"):
        endpoint = f"http://{prometheus['host']}:{prometheus['port']}/metrics"
        print(f"  metrics (otelkit endpoint):  {endpoint}", flush=True)
    print("  Ctrl-C to stop", flush=True)
    try:
        time.sleep(args.duration if args.duration is not None else 1e9)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.shutdown()
        telemetry.shutdown()


if __name__ == "__main__":
    main()
