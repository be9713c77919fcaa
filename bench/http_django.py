"""HTTP instrumentation on Django, in process: per-request cost through the WSGI callable.

Each variant is its own ``WSGIHandler`` (Django reads ``MIDDLEWARE`` when a handler is created,
so one settings module serves them all) for a minimal JSON view on ``items/<int:item_id>``,
driven by http_wsgi's minimal WSGI server loop. Variants:

- ``bare``: Django with no middleware at all.
- ``otelkit metrics+spans``: otelkit's middleware, first in ``MIDDLEWARE``.
- ``otelkit metrics``: the same middleware with spans off for its app: Django's middleware has
  no ``spans=False`` (``instrument_app()`` has), so a bench subclass starts it with the recorder
  ``instrument_app(app, spans=False)`` would use.
- ``django-prometheus``: its before/after middlewares (the metrics-only peer; global registry).
- ``otel-django metrics+spans``: opentelemetry-instrumentation-django's middleware with its own
  SDK providers (spans batched to the discarding exporter), inserted by
  ``DjangoInstrumentor().instrument()`` for that handler only.

otelkit's spans go to the discarding exporter plugin (see bench/_http.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import JsonResponse
from django.urls import path

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
from bench.http_wsgi import BATCH, driver
from otelkit.instrumentation.http._common import HttpRecorder
from otelkit.instrumentation.http.django import Middleware

if TYPE_CHECKING:
    from collections.abc import Callable

    from bench._harness import Result

OTELKIT = "otelkit.instrumentation.http.django.Middleware"
PEER = "django-prometheus"


def read_item(request: Any, item_id: int) -> JsonResponse:
    return JsonResponse(
        {"item_id": item_id, "name": "widget"}, json_dumps_params={"separators": (",", ":")}
    )


urlpatterns = [path("items/<int:item_id>", read_item)]


class MetricsOnlyMiddleware(Middleware):
    """otelkit's Django middleware recording metrics and no spans (bench only)."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        super().__init__(get_response)
        self._recorder = HttpRecorder(otelkit_telemetry(), False)


def _configure() -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="otelkit-bench",
            ALLOWED_HOSTS=["127.0.0.1"],
            ROOT_URLCONF=__name__,
            INSTALLED_APPS=[],
            MIDDLEWARE=[],
            DATABASES={},
            USE_TZ=True,
            LOGGING_CONFIG=None,
        )
        django.setup()


def _handler(middleware: list[str]) -> Any:
    """A WSGI handler built with ``middleware`` (the settings are restored afterwards)."""
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    settings.MIDDLEWARE = middleware
    try:
        return WSGIHandler()
    finally:
        settings.MIDDLEWARE = []


def bare() -> Subject:
    return Subject("bare", driver(_handler([])))


def otelkit_metrics() -> Subject:
    app = _handler([f"{__name__}.MetricsOnlyMiddleware"])
    return Subject(OTELKIT_METRICS, driver(app), otelkit_requests, otelkit_spans)


def otelkit_metrics_spans() -> Subject:
    return Subject(OTELKIT_SPANS, driver(_handler([OTELKIT])), otelkit_requests, otelkit_spans)


def django_prometheus() -> Subject | None:
    try:
        import django_prometheus  # noqa: F401
    except ImportError:
        print(f"note: django-prometheus is not installed; no {PEER!r} variant")
        return None
    from prometheus_client import REGISTRY

    app = _handler(
        [
            "django_prometheus.middleware.PrometheusBeforeMiddleware",
            "django_prometheus.middleware.PrometheusAfterMiddleware",
        ]
    )
    return Subject(
        PEER,
        driver(app),
        lambda: prometheus_requests(
            REGISTRY, "django_http_requests_latency_seconds_by_view_method_count"
        ),
    )


def otel_django_metrics_spans() -> Subject | None:
    try:
        from opentelemetry.instrumentation.django import DjangoInstrumentor
    except ImportError:
        print("note: opentelemetry-instrumentation-django is not installed; no otel-django")
        return None
    from django.conf import settings

    providers = Providers.create(spans=True)
    instrumentor = DjangoInstrumentor()
    instrumentor.instrument(
        tracer_provider=providers.tracer_provider, meter_provider=providers.meter_provider
    )
    # It inserted its middleware into the settings: build this handler with it, then no other.
    middleware = list(settings.MIDDLEWARE)
    settings.MIDDLEWARE = []
    app = _handler(middleware)
    return Subject("otel-django metrics+spans", driver(app), providers.requests, providers.spans)


def run(rounds: int) -> list[Result]:
    otelkit_telemetry()  # the global providers are set whether or not otelkit variants run
    _configure()
    builders = [
        bare,
        otelkit_metrics,
        otelkit_metrics_spans,
        django_prometheus,
        otel_django_metrics_spans,
    ]
    subjects = [s for s in (build() for build in builders) if s is not None]
    return [
        run_subjects(
            "Django through the WSGI callable, µs per request",
            subjects,
            rounds=rounds,
            batch=BATCH,
            peer=PEER if any(s.name == PEER for s in subjects) else None,
        )
    ]
