"""SIGTERM under load loses nothing recorded: every request answered is in what arrives.

A real server process (the standard library's wsgiref, an instrumented WSGI app counting each
order before it answers) exports over OTLP to a real receiver, with hour-long export
intervals so that only what shutdown sends arrives. This test keeps sending requests from a
thread and, in the middle of that load, sends the server SIGTERM. The counter the receiver got
must hold every request the client saw answered; at most one more, the request in flight when
the signal came (counted, then cut off before its answer reached the client).
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.fixtures.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

LOAD_S = 8.0 if os.environ.get("RELIABILITY_SOAK") == "1" else 1.5
"""How long the server is under load before the signal."""

SERVER = """
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server
import otelkit

telemetry = otelkit.init_telemetry(service_name="orders", exporters="otlp")
placed = telemetry.meter.create_counter("orders.placed")

def app(environ, start_response):
    placed.add(1)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"placed"]

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

server = make_server("127.0.0.1", 0, otelkit.instrument_app(app), handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
"""


def _load(port: int, answered: list[int], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("POST", "/orders", body=b"{}")
            response = connection.getresponse()
            if response.read() == b"placed" and response.status == 200:
                answered.append(1)
            connection.close()
        except OSError:
            return  # the server is gone


@pytest.mark.parametrize("otlp_receiver", ["http/protobuf", "grpc"], indirect=True)
def test_sigterm_under_load_delivers_every_answered_request(otlp_receiver: OtlpReceiver) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))},
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": otlp_receiver.protocol,
        "OTEL_BSP_SCHEDULE_DELAY": "3600000",
        "OTEL_METRIC_EXPORT_INTERVAL": "3600000",
    }
    server = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SERVER)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answered: list[int] = []
    stop = threading.Event()
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        client = threading.Thread(target=_load, args=(port, answered, stop), name="load")
        client.start()
        time.sleep(LOAD_S)
        assert answered, "no request answered before the signal"
        assert otlp_receiver.metrics("orders.placed") == []  # nothing exported yet
        server.send_signal(signal.SIGTERM)  # while the client keeps sending
        status = server.wait(timeout=20)
        stop.set()
        client.join(10)
    finally:
        stop.set()
        if server.poll() is None:
            server.kill()
        _, err = server.communicate()

    assert status == -signal.SIGTERM, err[-3000:]
    points = otlp_receiver.metrics("orders.placed")
    assert points, f"nothing arrived: {otlp_receiver.summary()}\n{err[-3000:]}"
    recorded = points[-1]["value"]  # cumulative: the last point holds the total
    print(f"\nSIGTERM under load ({otlp_receiver.protocol}): {len(answered)} answered, {recorded}")
    assert len(answered) <= recorded <= len(answered) + 1, (len(answered), recorded)
