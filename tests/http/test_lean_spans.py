"""Server spans on the lean path, as a batch exporter gets them: children and logs still join.

With a batching exporter (any plugin but the in-memory one), an ended server span is queued as
it is and made readable on the export thread. While the handler runs it is still the current
span: a child span gets it as its parent and a log line carries its ids.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from flask import Flask

import otelkit
from otelkit.instrumentation.http._common import SCOPE
from otelkit.instrumentation.logging import JsonFormatter
from otelkit.tracing._spans import SpanFactory
from tests.reliability._plugins import install_plugin

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from opentelemetry.sdk.trace import ReadableSpan

KEPT_PLUGIN = """
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from otelkit.exporters import ExporterPlugin

EXPORTED = []


class Kept(SpanExporter):
    def export(self, spans):
        EXPORTED.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self):
        pass


class KeptPlugin(ExporterPlugin):
    name = "kept"
    signals = frozenset({"traces"})

    def span_exporter(self, resource):
        return Kept()
"""


@pytest.fixture
def telemetry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[otelkit.Telemetry]:
    """Spans through a batch processor to a plugin that keeps them; logs correlated."""
    for name in ("OTELKIT_HTTP_EXCLUDED_URLS", "OTELKIT_INSTRUMENT", "OTEL_TRACES_SAMPLER"):
        monkeypatch.delenv(name, raising=False)
    install_plugin(
        tmp_path,
        monkeypatch,
        module="otelkit_kept_plugin",
        entry_point="kept = otelkit_kept_plugin:KeptPlugin",
        source=KEPT_PLUGIN,
    )
    handle = otelkit.init_telemetry(
        "lean-test",
        exporters={"traces": "kept", "metrics": "memory"},
        instrument="logging",
    )
    assert handle._pipeline is not None
    factory = SpanFactory(handle._pipeline.tracer_provider, SCOPE)
    assert factory.sinks() is not None  # the lean path is the one under test
    yield handle
    handle.shutdown()
    sys.modules.pop("otelkit_kept_plugin", None)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("shop")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def exported(telemetry: otelkit.Telemetry) -> list[ReadableSpan]:
    telemetry.force_flush()
    return list(sys.modules["otelkit_kept_plugin"].EXPORTED)


def handle_order(telemetry: otelkit.Telemetry) -> None:
    """What both apps' handler does: a log line, a child span with a log line of its own."""
    logging.getLogger("shop").info("order received")
    with telemetry.tracer.start_as_current_span("charge"):
        logging.getLogger("shop").info("charging")


def check(telemetry: otelkit.Telemetry, captured: io.StringIO, route: str) -> None:
    spans = {span.name: span for span in exported(telemetry)}
    assert set(spans) == {f"POST {route}", "charge"}
    server, child = spans[f"POST {route}"], spans["charge"]
    assert server.attributes["http.route"] == route
    assert server.attributes["http.response.status_code"] == 200
    assert child.parent is not None
    assert child.parent.span_id == server.context.span_id
    assert child.context.trace_id == server.context.trace_id
    received, charging = (json.loads(line) for line in captured.getvalue().splitlines())
    assert received["trace_id"] == charging["trace_id"] == format(server.context.trace_id, "032x")
    assert received["span_id"] == format(server.context.span_id, "016x")
    assert charging["span_id"] == format(child.context.span_id, "016x")


def test_an_asgi_handlers_child_span_and_logs_join_the_server_span(
    telemetry: otelkit.Telemetry, captured: io.StringIO
) -> None:
    app = FastAPI()

    @app.post("/orders/{order_id}")
    async def order(order_id: int) -> dict[str, int]:
        handle_order(telemetry)
        return {"order_id": order_id}

    instrumented: Any = otelkit.instrument_app(app)

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=instrumented)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
            return await client.post("/orders/7")

    assert asyncio.run(post()).status_code == 200
    check(telemetry, captured, "/orders/{order_id}")


def test_a_wsgi_handlers_child_span_and_logs_join_the_server_span(
    telemetry: otelkit.Telemetry, captured: io.StringIO
) -> None:
    app = Flask("shop")

    @app.post("/orders/<int:order_id>")
    def order(order_id: int) -> dict[str, int]:
        handle_order(telemetry)
        return {"order_id": order_id}

    otelkit.instrument_app(app)
    assert app.test_client().post("/orders/7", buffered=True).status_code == 200
    check(telemetry, captured, "/orders/<int:order_id>")
