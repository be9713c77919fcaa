"""HTTP instrumentation on FastAPI, in process: per-request cost through the ASGI callable.

Each variant is its own app serving ``GET /items/{item_id}`` (a small pydantic model as JSON),
driven by a minimal receive/send loop on one event loop: no sockets, no HTTP parsing, so what
differs between variants is the instrumentation. Variants:

- ``bare``: FastAPI with its native telemetry switched off (FastAPI ≥ 0.142 instruments itself
  whenever global OTel providers are set, and otelkit sets them in this process).
- ``otelkit metrics`` / ``otelkit metrics+spans``: ``otelkit.instrument_app(app, spans=False)`` /
  ``instrument_app(app)`` on a plain ``FastAPI()``, as a user writes it; otelkit is configured
  once per process (Prometheus, spans to a discarding exporter plugin).
- ``otel-fastapi …``: opentelemetry-instrumentation-fastapi; ``otel-asgi``: the ASGI
  ``OpenTelemetryMiddleware`` wrapped around the app; ``fastapi-native …``: FastAPI's own
  telemetry. All with their own SDK providers (metrics-only: a ``NoOpTracerProvider``; spans: a
  ``BatchSpanProcessor`` to the discarding exporter).
- ``prometheus-fastapi-instrumentator`` (own registry), ``starlette-exporter``.

Every peer app has FastAPI's native telemetry off, so that each measures only itself.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from pydantic import BaseModel

import otelkit
from bench._http import (
    OTELKIT_METRICS,
    OTELKIT_SPANS,
    Providers,
    Subject,
    otelkit_requests,
    otelkit_spans,
    otelkit_telemetry,
    prometheus_requests,
    run_subjects,
)

if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping

    from bench._harness import Result

BATCH = 200
"""Requests per measured batch."""
NO_TELEMETRY: Any = {"tracing": False, "metrics": False, "logs": False}
HEADERS = [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"otelkit-bench"), (b"accept", b"*/*")]
PATHS = [(f"/items/{i}", f"/items/{i}".encode()) for i in range(100)]
REQUEST = {"type": "http.request", "body": b"", "more_body": False}


class Item(BaseModel):
    item_id: int
    name: str


def make_app(telemetry: Any = NO_TELEMETRY) -> FastAPI:
    """The app under test; ``telemetry=None`` is FastAPI's default (native telemetry on)."""
    app = FastAPI(telemetry=telemetry)

    @app.get("/items/{item_id}")
    async def read_item(item_id: int) -> Item:
        return Item(item_id=item_id, name="widget")

    return app


# --- the driver: a minimal ASGI server loop ------------------------------------------------

_loop: asyncio.AbstractEventLoop | None = None


async def _receive() -> dict[str, Any]:
    return REQUEST


async def _requests(app: Any, n: int) -> None:
    statuses: list[int] = []
    last: list[bytes] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
        elif message["type"] == "http.response.body":
            last.append(message.get("body", b""))

    for index in range(n):
        path, raw_path = PATHS[index % len(PATHS)]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": raw_path,
            "root_path": "",
            "query_string": b"",
            "headers": HEADERS,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        await app(scope, _receive, send)
    expected = f'{{"item_id":{(n - 1) % len(PATHS)},"name":"widget"}}'.encode()
    if statuses.count(200) != n or last[-1] != expected:
        raise RuntimeError(f"bad responses: statuses {set(statuses)}, last body {last[-1:]}")


def driver(app: Any) -> Callable[[int], None]:
    """``n`` → send n requests through ``app`` on the benchmark's event loop."""
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
    loop = _loop
    return lambda n: loop.run_until_complete(_requests(app, n))


# --- the variants --------------------------------------------------------------------------


def bare() -> Subject:
    return Subject("bare", driver(make_app()))


def otelkit_metrics() -> Subject:
    app = make_app(telemetry=None)
    otelkit.instrument_app(app, spans=False)
    return Subject(OTELKIT_METRICS, driver(app), otelkit_requests, otelkit_spans)


def otelkit_metrics_spans() -> Subject:
    app = make_app(telemetry=None)
    otelkit.instrument_app(app)
    return Subject(OTELKIT_SPANS, driver(app), otelkit_requests, otelkit_spans)


def _otel_fastapi(name: str, *, spans: bool) -> Subject:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    providers = Providers.create(spans=spans)
    app = make_app()
    FastAPIInstrumentor.instrument_app(
        app,
        meter_provider=providers.meter_provider,
        tracer_provider=providers.tracer_provider,
    )
    return Subject(name, driver(app), providers.requests, providers.spans)


def otel_fastapi_metrics() -> Subject:
    return _otel_fastapi("otel-fastapi metrics", spans=False)


def otel_fastapi_metrics_spans() -> Subject:
    return _otel_fastapi("otel-fastapi metrics+spans", spans=True)


def otel_asgi_metrics_spans() -> Subject:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    providers = Providers.create(spans=True)
    app = OpenTelemetryMiddleware(
        make_app(),
        meter_provider=providers.meter_provider,
        tracer_provider=providers.tracer_provider,
    )
    return Subject("otel-asgi metrics+spans", driver(app), providers.requests, providers.spans)


def prometheus_fastapi_instrumentator() -> Subject:
    from prometheus_client import CollectorRegistry
    from prometheus_fastapi_instrumentator import Instrumentator

    registry = CollectorRegistry()
    app = make_app()
    Instrumentator(registry=registry).instrument(app)
    return Subject(
        "prometheus-fastapi-instrumentator",
        driver(app),
        lambda: prometheus_requests(registry, "http_requests_total"),
    )


def starlette_exporter() -> Subject:
    from prometheus_client import REGISTRY
    from starlette_exporter import PrometheusMiddleware

    # It registers its metrics in the default registry (no registry option): a unique prefix.
    app = make_app()
    app.add_middleware(PrometheusMiddleware, prefix="bench_asgi")
    return Subject(
        "starlette-exporter",
        driver(app),
        lambda: prometheus_requests(REGISTRY, "bench_asgi_requests_total"),
    )


def _fastapi_native(name: str, *, spans: bool) -> Subject:
    providers = Providers.create(spans=spans)
    app = make_app(
        telemetry={
            "meter_provider": providers.meter_provider,
            "tracer_provider": providers.tracer_provider,
            "tracing": spans,
            "logs": False,
        }
    )
    return Subject(name, driver(app), providers.requests, providers.spans)


def fastapi_native_metrics() -> Subject:
    return _fastapi_native("fastapi-native metrics", spans=False)


def fastapi_native_metrics_spans() -> Subject:
    return _fastapi_native("fastapi-native metrics+spans", spans=True)


def run(rounds: int) -> list[Result]:
    otelkit_telemetry()  # the global providers are set whether or not otelkit variants run
    builders = [
        bare,
        otelkit_metrics,
        otelkit_metrics_spans,
        prometheus_fastapi_instrumentator,
        starlette_exporter,
        otel_fastapi_metrics,
        otel_fastapi_metrics_spans,
        otel_asgi_metrics_spans,
        fastapi_native_metrics,
        fastapi_native_metrics_spans,
    ]
    subjects = [build() for build in builders]
    return [
        run_subjects(
            "FastAPI through the ASGI callable, µs per request",
            subjects,
            rounds=rounds,
            batch=BATCH,
            peer="prometheus-fastapi-instrumentator",
        )
    ]
