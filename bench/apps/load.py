"""The app http_load serves with uvicorn: ``uvicorn bench.apps.load:create --factory``.

``OTELKIT_BENCH_VARIANT`` picks the instrumentation (see ``VARIANTS``). Besides the benchmark's
``GET /items/{item_id}`` (the same app as in http_asgi), ``GET /bench/recorded`` answers what the
variant's telemetry has counted so far, so that the benchmark can check that it recorded the load.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bench.http_asgi import make_app

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi import FastAPI

VARIANT_ENV = "OTELKIT_BENCH_VARIANT"


def bare() -> tuple[FastAPI, Callable[[], dict[str, float]]]:
    return make_app(), dict


def otelkit_metrics_spans() -> tuple[FastAPI, Callable[[], dict[str, float]]]:
    import otelkit
    from bench._http import otelkit_requests, otelkit_spans, otelkit_telemetry

    telemetry = otelkit_telemetry()
    app = make_app(telemetry=None)
    otelkit.instrument_app(app)

    def recorded() -> dict[str, float]:
        telemetry.force_flush()
        return {"requests": otelkit_requests(), "spans": otelkit_spans()}

    return app, recorded


def prometheus_fastapi_instrumentator() -> tuple[FastAPI, Callable[[], dict[str, float]]]:
    from prometheus_client import REGISTRY
    from prometheus_fastapi_instrumentator import Instrumentator

    from bench._http import prometheus_requests

    app = make_app()
    Instrumentator().instrument(app)
    return app, lambda: {"requests": prometheus_requests(REGISTRY, "http_requests_total")}


def otel_fastapi_metrics_spans() -> tuple[FastAPI, Callable[[], dict[str, float]]]:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    from bench._http import Providers

    providers = Providers.create(spans=True)
    app = make_app()
    FastAPIInstrumentor.instrument_app(
        app,
        meter_provider=providers.meter_provider,
        tracer_provider=providers.tracer_provider,
    )
    return app, lambda: {"requests": providers.requests(), "spans": providers.spans()}


VARIANTS = {
    "bare": bare,
    "otelkit metrics+spans": otelkit_metrics_spans,
    "prometheus-fastapi-instrumentator": prometheus_fastapi_instrumentator,
    "otel-fastapi metrics+spans": otel_fastapi_metrics_spans,
}


def create() -> FastAPI:
    app, recorded = VARIANTS[os.environ[VARIANT_ENV]]()

    @app.get("/bench/recorded")
    async def bench_recorded() -> dict[str, float]:
        return recorded()

    return app
