"""HTTP instrumentation on Flask, in process: per-request cost through the WSGI callable.

Each variant is its own Flask app serving ``GET /items/<int:item_id>`` as JSON, called with a
minimal environ and ``start_response`` (the body iterated and closed, as a server does).
Variants:

- ``bare``: Flask alone.
- ``otelkit metrics`` / ``otelkit metrics+spans``: ``otelkit.instrument_app(app, spans=False)`` /
  ``instrument_app(app)``; otelkit is configured once per process (see bench/_http.py).
- ``prometheus-flask-exporter``: ``PrometheusMetrics`` with its own registry, grouped by URL rule
  (its default groups by raw path: one series per item id).
- ``otel-wsgi metrics`` / ``otel-wsgi metrics+spans``: opentelemetry-instrumentation-wsgi's
  ``OpenTelemetryMiddleware`` around ``app.wsgi_app``, with its own SDK providers
  (metrics-only: a ``NoOpTracerProvider``).
"""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING, Any

from flask import Flask

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
    from collections.abc import Callable

    from bench._harness import Result

BATCH = 200
"""Requests per measured batch."""
PATHS = [f"/items/{i}" for i in range(100)]
ENVIRON = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "QUERY_STRING": "",
    "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "50000",
    "HTTP_HOST": "127.0.0.1:8000",
    "HTTP_USER_AGENT": "otelkit-bench",
    "HTTP_ACCEPT": "*/*",
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.errors": sys.stderr,
    "wsgi.multithread": False,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
}


def make_app() -> Flask:
    app = Flask("bench")

    @app.get("/items/<int:item_id>")
    def read_item(item_id: int) -> dict[str, Any]:
        return {"item_id": item_id, "name": "widget"}

    return app


# --- the driver: a minimal WSGI server loop ------------------------------------------------


def _write(data: bytes) -> None:
    pass


def _requests(app: Any, n: int) -> None:
    statuses: list[str] = []

    def start_response(status: str, headers: object, exc_info: object = None) -> Any:
        statuses.append(status)
        return _write

    body = b""
    for index in range(n):
        environ = {
            **ENVIRON,
            "PATH_INFO": PATHS[index % len(PATHS)],
            "wsgi.input": io.BytesIO(b""),
        }
        chunks = app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
    expected = f'{{"item_id":{(n - 1) % len(PATHS)},"name":"widget"}}'.encode()
    if statuses.count("200 OK") != n or body.strip() != expected:
        raise RuntimeError(f"bad responses: statuses {set(statuses)}, last body {body!r}")


def driver(app: Any) -> Callable[[int], None]:
    """``n`` → send n requests through the WSGI callable ``app``."""
    return lambda n: _requests(app, n)


# --- the variants --------------------------------------------------------------------------


def bare() -> Subject:
    return Subject("bare", driver(make_app()))


def otelkit_metrics() -> Subject:
    app = make_app()
    otelkit.instrument_app(app, spans=False)
    return Subject(OTELKIT_METRICS, driver(app), otelkit_requests, otelkit_spans)


def otelkit_metrics_spans() -> Subject:
    app = make_app()
    otelkit.instrument_app(app)
    return Subject(OTELKIT_SPANS, driver(app), otelkit_requests, otelkit_spans)


def prometheus_flask_exporter() -> Subject:
    from prometheus_client import CollectorRegistry
    from prometheus_flask_exporter import PrometheusMetrics

    registry = CollectorRegistry()
    app = make_app()
    PrometheusMetrics(app, registry=registry, group_by="url_rule", path=None)
    return Subject(
        "prometheus-flask-exporter",
        driver(app),
        lambda: prometheus_requests(registry, "flask_http_request_total"),
    )


def _otel_wsgi(name: str, *, spans: bool) -> Subject:
    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

    providers = Providers.create(spans=spans)
    app = make_app()
    app.wsgi_app = OpenTelemetryMiddleware(
        app.wsgi_app,
        meter_provider=providers.meter_provider,
        tracer_provider=providers.tracer_provider,
    )
    return Subject(name, driver(app), providers.requests, providers.spans)


def otel_wsgi_metrics() -> Subject:
    return _otel_wsgi("otel-wsgi metrics", spans=False)


def otel_wsgi_metrics_spans() -> Subject:
    return _otel_wsgi("otel-wsgi metrics+spans", spans=True)


def run(rounds: int) -> list[Result]:
    otelkit_telemetry()  # the global providers are set whether or not otelkit variants run
    builders = [
        bare,
        otelkit_metrics,
        otelkit_metrics_spans,
        prometheus_flask_exporter,
        otel_wsgi_metrics,
        otel_wsgi_metrics_spans,
    ]
    subjects = [build() for build in builders]
    return [
        run_subjects(
            "Flask through the WSGI callable, µs per request",
            subjects,
            rounds=rounds,
            batch=BATCH,
            peer="prometheus-flask-exporter",
        )
    ]
