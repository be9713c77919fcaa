"""The alternative HTTP instrumentation: OpenTelemetry contrib's ASGI and WSGI middlewares.

Chosen with ``OTELKIT_HTTP_IMPLEMENTATION=contrib`` for teams that standardise on contrib. It is
several times slower than otelkit's own middleware (see docs/architecture.md) and records through
the SDK instruments; otelkit still sets it up so that it emits the stable HTTP semantic
conventions (``http.server.request.duration`` in seconds), excludes the same paths, and is never
combined with FastAPI's native telemetry (FastAPI steps aside for contrib's middleware).
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from otelkit._errors import ConfigError
from otelkit.instrumentation.http._url import (
    contrib_asgi_hook,
    contrib_asgi_span_details,
    contrib_wsgi_hook,
)

App = TypeVar("App")
_MARK = "_otelkit_instrumented"
_STABILITY = "OTEL_SEMCONV_STABILITY_OPT_IN"


def require() -> None:
    """Fail at init time, naming the extra, when contrib's middlewares are not installed."""
    try:
        import opentelemetry.instrumentation.asgi
        import opentelemetry.instrumentation.wsgi  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "OTELKIT_HTTP_IMPLEMENTATION='contrib' needs opentelemetry-instrumentation-asgi and "
            f"-wsgi ({exc.name} is missing): pip install 'otelkit[contrib]'."
        ) from None


def _stable_http_conventions() -> None:
    """Contrib emits the pre-stable HTTP names unless told otherwise (read once, at import)."""
    current = [v.strip() for v in os.environ.get(_STABILITY, "").split(",") if v.strip()]
    if "http" not in current and "http/dup" not in current:
        os.environ[_STABILITY] = ",".join([*current, "http"])


def _options() -> dict[str, Any]:
    """The active configuration's providers (the OTel globals stay on the first configuration
    of the process) and its excluded paths."""
    from otelkit import _active

    active = _active.current()
    pipeline = active._pipeline if active is not None else None
    if pipeline is None:
        return {}
    return {
        "tracer_provider": pipeline.tracer_provider,
        "meter_provider": pipeline.meter_provider,
    }


def _excluded() -> str:
    from otelkit import _active

    active = _active.current()
    paths = active.settings.http_excluded_urls if active is not None else ()
    return ",".join(p.replace("/*", "/.*") for p in paths)


def instrument_app(app: App) -> App:
    _stable_http_conventions()
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware as AsgiMiddleware
    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware as WsgiMiddleware

    classes = {f"{cls.__module__}.{cls.__qualname__}" for cls in type(app).__mro__}
    if getattr(app, _MARK, False):
        return app
    if "starlette.applications.Starlette" in classes:
        app.add_middleware(  # type: ignore[attr-defined]
            AsgiMiddleware,
            excluded_urls=_excluded(),
            server_request_hook=contrib_asgi_hook,
            default_span_details=contrib_asgi_span_details,
            **_options(),
        )
        setattr(app, _MARK, True)
        return app
    if "flask.app.Flask" in classes:
        flask_app: Any = app
        flask_app.wsgi_app = WsgiMiddleware(
            flask_app.wsgi_app, request_hook=contrib_wsgi_hook, **_options()
        )
        setattr(app, _MARK, True)
        return app
    import inspect

    call = app if inspect.isfunction(app) or inspect.ismethod(app) else type(app).__call__
    if inspect.iscoroutinefunction(call):
        return AsgiMiddleware(  # type: ignore[return-value]
            app,
            excluded_urls=_excluded(),
            server_request_hook=contrib_asgi_hook,
            default_span_details=contrib_asgi_span_details,
            **_options(),
        )
    return WsgiMiddleware(app, request_hook=contrib_wsgi_hook, **_options())  # type: ignore[return-value]
