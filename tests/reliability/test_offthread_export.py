"""A synchronous exporter plugin (``batch = False``) never exports on the request's thread.

The plugin's export takes a full second; an instrumented WSGI app served over real HTTP answers
its requests as fast as without it, and the export runs on a processor thread.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests

import otelkit

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

EXPORT_SECONDS = 1.0
REQUESTS = 5

SLOW_PLUGIN = f"""
import threading
import time
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from otelkit.exporters import ExporterPlugin

EXPORTED_ON = []


class Slow(SpanExporter):
    def export(self, spans):
        EXPORTED_ON.append(threading.current_thread().name)
        time.sleep({EXPORT_SECONDS})
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass


class SlowPlugin(ExporterPlugin):
    name = "slow"
    signals = frozenset({{"traces"}})
    batch = False

    def span_exporter(self, resource):
        return Slow()
"""


@pytest.fixture(autouse=True)
def _no_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")) and name != "OTELKIT_REQUIRE_SERVERS":
            monkeypatch.delenv(name)


@pytest.fixture
def slow_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "otelkit_slow_plugin.py").write_text(SLOW_PLUGIN)
    info = tmp_path / "otelkit_slow-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: otelkit-slow\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[otelkit.exporters]\nslow = otelkit_slow_plugin:SlowPlugin\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield "slow"
    sys.modules.pop("otelkit_slow_plugin", None)


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
