"""The app http_load serves with uvicorn: ``uvicorn bench.apps.load:create --factory``.

``OTELKIT_BENCH_VARIANT`` picks the instrumentation (see ``VARIANTS``); the variants that trace
send their spans over OTLP http/protobuf to the receiver at ``OTELKIT_BENCH_SINK`` (a base URL,
bench/apps/otlp_sink.py in another process), each under its own ``service.name`` (``SERVICES``).
Besides the benchmark's ``GET /items/{item_id}`` (the same app as in http_asgi),
``GET /bench/recorded`` flushes the variant's telemetry and answers what it has counted so far,
so that the benchmark can check that it recorded the load and exported every sampled span.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from bench.http_asgi import make_app

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi import FastAPI

VARIANT_ENV = "OTELKIT_BENCH_VARIANT"
SINK_ENV = "OTELKIT_BENCH_SINK"
OTELKIT_ALL = "otelkit metrics+spans"
OTELKIT_RATIO = "otelkit metrics+spans ratio 0.1"
RATIO = 0.1
OTEL_FASTAPI = "otel-fastapi metrics+spans"
SERVICES = {
    OTELKIT_ALL: "bench-otelkit-all",
    OTELKIT_RATIO: "bench-otelkit-ratio",
    OTEL_FASTAPI: "bench-otel-fastapi",
}
"""The ``service.name`` each tracing variant exports under: the receiver counts by it."""

Recorded = dict[str, float]


def bare() -> tuple[FastAPI, Callable[[], Recorded]]:
    return make_app(), dict


def _otelkit(variant: str, **sampler: object) -> tuple[FastAPI, Callable[[], Recorded]]:
    """otelkit with Prometheus (no listener) and OTLP http/protobuf spans to the receiver."""
    import otelkit
    from bench._otlp import prometheus_total

    telemetry = otelkit.init_telemetry(
        service_name=SERVICES[variant],
        prometheus_port=0,
        exporters={"metrics": "prometheus", "traces": "otlp"},
        otlp_endpoint=os.environ[SINK_ENV],
        otlp_protocol="http/protobuf",
        instrument="none",
        **sampler,  # type: ignore[arg-type]
    )
    app = make_app(telemetry=None)
    otelkit.instrument_app(app)

    def recorded() -> Recorded:
        delivered = telemetry.force_flush(timeout=30)
        return {
            "requests": prometheus_total("http_server_request_duration_seconds_count"),
            "dropped": prometheus_total("otelkit_dropped"),
            "export_failures": prometheus_total("otelkit_export_failures"),
            "flushed": float(delivered),
        }

    return app, recorded


def otelkit_all_sampled() -> tuple[FastAPI, Callable[[], Recorded]]:
    return _otelkit(OTELKIT_ALL)


def otelkit_ratio() -> tuple[FastAPI, Callable[[], Recorded]]:
    return _otelkit(
        OTELKIT_RATIO, traces_sampler="parentbased_traceidratio", traces_sampler_arg=RATIO
    )


def prometheus_fastapi_instrumentator() -> tuple[FastAPI, Callable[[], Recorded]]:
    from prometheus_client import REGISTRY
    from prometheus_fastapi_instrumentator import Instrumentator

    from bench._http import prometheus_requests

    app = make_app()
    Instrumentator().instrument(app)
    return app, lambda: {"requests": prometheus_requests(REGISTRY, "http_requests_total")}


def otel_fastapi_metrics_spans() -> tuple[FastAPI, Callable[[], Recorded]]:
    """The contrib instrumentation with its own SDK providers: metrics to an in-memory reader,
    spans through the SDK's ``BatchSpanProcessor`` and ``OTLPSpanExporter`` to the receiver."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from bench._http import Providers

    providers = Providers.create(spans=False)
    tracer_provider = TracerProvider(
        resource=Resource.create({"service.name": SERVICES[OTEL_FASTAPI]}),
        shutdown_on_exit=False,
    )
    exporter = OTLPSpanExporter(endpoint=f"{os.environ[SINK_ENV]}/v1/traces")
    tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
    app = make_app()
    FastAPIInstrumentor.instrument_app(
        app, meter_provider=providers.meter_provider, tracer_provider=tracer_provider
    )

    def recorded() -> Recorded:
        delivered = tracer_provider.force_flush(timeout_millis=30_000)
        return {"requests": providers.requests(), "flushed": float(delivered)}

    return app, recorded


VARIANTS = {
    "bare": bare,
    OTELKIT_ALL: otelkit_all_sampled,
    OTELKIT_RATIO: otelkit_ratio,
    "prometheus-fastapi-instrumentator": prometheus_fastapi_instrumentator,
    OTEL_FASTAPI: otel_fastapi_metrics_spans,
}


def create() -> FastAPI:
    app, recorded = VARIANTS[os.environ[VARIANT_ENV]]()

    @app.get("/bench/recorded")
    async def bench_recorded() -> Recorded:
        return recorded()

    return app
