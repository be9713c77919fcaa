"""``force_flush()`` tells the truth and cannot pile up threads: real exporters, real sockets."""

from __future__ import annotations

import importlib
import logging
import os
import socket
import sys
import threading
from typing import TYPE_CHECKING

import pytest

import otelkit
from tests.fixtures.servers import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from otelkit import Telemetry
    from tests.fixtures.otlp_receiver import OtlpReceiver

RAISING_PLUGIN = """
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from otelkit.exporters import ExporterPlugin


class Raising(SpanExporter):
    def export(self, spans):
        raise RuntimeError("the back end is gone")

    def shutdown(self):
        pass


class RaisingPlugin(ExporterPlugin):
    name = "raising"
    signals = frozenset({"traces"})

    def span_exporter(self, resource):
        return Raising()
"""


@pytest.fixture(autouse=True)
def _no_otel_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees only the OTEL_* / OTELKIT_* variables it sets itself."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")):
            monkeypatch.delenv(name)


@pytest.fixture
def black_hole() -> Iterator[str]:
    """An http:// endpoint that accepts connections (the kernel's backlog) and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(512)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.fixture
def raising_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A plugin installed as a distribution is: a dist-info with its entry point on sys.path."""
    (tmp_path / "otelkit_raising_plugin.py").write_text(RAISING_PLUGIN)
    info = tmp_path / "otelkit_raising-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: otelkit-raising\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[otelkit.exporters]\nraising = otelkit_raising_plugin:RaisingPlugin\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield "raising"
    sys.modules.pop("otelkit_raising_plugin", None)


def record_everything(telemetry: Telemetry, n: int = 0) -> None:
    telemetry.meter.create_counter("orders.placed").add(1)
    with telemetry.tracer.start_as_current_span(f"place-order-{n}"):
        logging.getLogger("orders").warning("order %d placed", n)


def test_a_refused_collector_makes_the_flush_false() -> None:
    telemetry = otelkit.init_telemetry(
        service_name="orders",
        exporters="otlp",
        otlp_endpoint=f"http://127.0.0.1:{free_port()}",
        otlp_timeout=500,
    )
    record_everything(telemetry)

    assert telemetry.force_flush(timeout=5) is False
    record_everything(telemetry, 1)
    assert telemetry.shutdown(timeout=5) is False  # its last exports were refused too


def test_an_exporter_that_raises_makes_the_flush_false(raising_plugin: str) -> None:
    telemetry = otelkit.init_telemetry(service_name="orders", traces_exporters=raising_plugin)
    record_everything(telemetry)

    assert telemetry.force_flush(timeout=5) is False
    assert telemetry.force_flush(timeout=5) is True  # nothing failed since the last flush
    record_everything(telemetry, 1)
    assert telemetry.shutdown(timeout=5) is False  # its last export raised too


def test_timed_out_flushes_hold_at_most_one_thread_per_signal(black_hole: str) -> None:
    telemetry = otelkit.init_telemetry(
        service_name="orders",
        exporters="otlp",
        otlp_endpoint=black_hole,
        otlp_timeout=1000,
    )
    record_everything(telemetry)
    start = threading.active_count()

    results = []
    peak = start
    for n in range(50):
        record_everything(telemetry, n)  # something to export in each flush
        results.append(telemetry.force_flush(timeout=0.2))
        peak = max(peak, threading.active_count())

    assert results == [False] * 50
    assert peak <= start + 4, f"{start} threads before 50 flushes, {peak} during them"
    telemetry.shutdown(timeout=2)


def test_a_healthy_collector_makes_the_flush_true(otlp_receiver: OtlpReceiver) -> None:
    telemetry = otelkit.init_telemetry(
        service_name="orders",
        exporters="otlp",
        otlp_endpoint=otlp_receiver.endpoint,
        otlp_protocol=otlp_receiver.protocol,
    )
    record_everything(telemetry)

    assert telemetry.force_flush(timeout=10) is True
    assert otlp_receiver.spans("place-order-0")
    assert telemetry.shutdown(timeout=10) is True
