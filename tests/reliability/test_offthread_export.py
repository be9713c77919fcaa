"""A synchronous exporter plugin (``batch = False``) never exports on the request's thread.

The plugin's export takes a full second; an instrumented WSGI app served over real HTTP answers
its requests as fast as without it, and the export runs on a processor thread.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests

import otelkit
from tests.reliability._plugins import SLOW_EXPORT_SECONDS as EXPORT_SECONDS
from tests.reliability._plugins import slow_plugin_fixture  # noqa: F401 (slow_plugin)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

REQUESTS = 5


def hello(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served() -> Iterator[tuple[str, list[str]]]:
    """The instrumented app over HTTP on loopback, and the names of the threads that served."""
    serving: list[str] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        serving.append(threading.current_thread().name)
        return hello(environ, start_response)

    server: WSGIServer = make_server(
        "127.0.0.1", 0, otelkit.instrument_app(app), handler_class=_Quiet
    )
    thread = threading.Thread(target=server.serve_forever, name="wsgi-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", serving
    server.shutdown()
    server.server_close()


def test_a_slow_synchronous_exporter_adds_no_latency_to_requests(
    slow_plugin: str, served: tuple[str, list[str]]
) -> None:
    url, serving = served
    telemetry = otelkit.init_telemetry(service_name="shop", traces_exporters=slow_plugin)
    session = requests.Session()

    start = time.monotonic()
    for _ in range(REQUESTS):
        assert session.get(url, timeout=10).status_code == 200
    took = time.monotonic() - start

    exported_on = sys.modules["otelkit_slow_plugin"].EXPORTED_ON
    deadline = time.monotonic() + 5
    while not exported_on and time.monotonic() < deadline:
        time.sleep(0.05)
    telemetry.shutdown(timeout=1)
    print(f"\n{REQUESTS} requests with a {EXPORT_SECONDS} s exporter: {took * 1000:.1f} ms")
    assert took < EXPORT_SECONDS, f"{REQUESTS} requests took {took:.2f} s"
    assert exported_on, "the exporter never ran"
    assert not set(exported_on) & set(serving), (exported_on, serving)
