"""``instrument_app()`` and the automatic instrumentation of apps created after init.

The framework is told apart by its class (no framework is imported to find out): Starlette and
FastAPI get the ASGI middleware through ``add_middleware``, Flask gets the WSGI middleware around
``wsgi_app`` plus two hooks for the route and handled exceptions, any other callable is wrapped
(ASGI if it is a coroutine function, else WSGI). Each app is instrumented once, however often it
is passed in.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import threading
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from otelkit._errors import ConfigError
from otelkit.instrumentation.http.asgi import OtelkitMiddleware
from otelkit.instrumentation.http.wsgi import OtelkitWSGIMiddleware, flask_hooks

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from otelkit.config._settings import Settings

logger = logging.getLogger("otelkit")

App = TypeVar("App")
_MARK = "_otelkit_instrumented"


def _classes(app: object) -> set[str]:
    return {f"{cls.__module__}.{cls.__qualname__}" for cls in type(app).__mro__}


def instrument_app(app: App, *, spans: bool | None = None) -> App:
    """Measure every HTTP request of ``app``: RED metrics, and spans when tracing is on.

    FastAPI, Starlette and Flask apps are instrumented in place and returned; a bare ASGI or
    WSGI callable comes back wrapped, so use the return value: ``app = instrument_app(app)``.
    ``spans=False`` keeps this app's requests out of tracing (metrics only). Call it before the
    app serves its first request; it may run before ``init_telemetry()``, recording starts with
    the configuration.
    """
    if _contrib_wanted():
        from otelkit.instrumentation.http import contrib

        return contrib.instrument_app(app)
    classes = _classes(app)
    if "starlette.applications.Starlette" in classes:
        _instrument_starlette(app, spans)
        return app
    if "flask.app.Flask" in classes:
        _instrument_flask(app, spans)
        return app
    if classes & {"django.core.handlers.wsgi.WSGIHandler", "django.core.handlers.asgi.ASGIHandler"}:
        raise ConfigError(
            "instrument_app() got a Django handler. Add otelkit's middleware instead, first in "
            "settings.MIDDLEWARE: "
            'MIDDLEWARE.insert(0, "otelkit.instrumentation.http.django.Middleware")'
        )
    if isinstance(app, (OtelkitMiddleware, OtelkitWSGIMiddleware)):
        return app
    if not callable(app):
        raise ConfigError(
            f"instrument_app() needs an ASGI or WSGI application, got {type(app).__name__}. "
            "Accepted: FastAPI, Starlette, Flask, or an ASGI/WSGI callable."
        )
    call = app if inspect.isfunction(app) or inspect.ismethod(app) else type(app).__call__
    if inspect.iscoroutinefunction(call):
        return OtelkitMiddleware(app, spans=spans)  # type: ignore[return-value]
    return OtelkitWSGIMiddleware(app, spans=spans)  # type: ignore[return-value]


def _contrib_wanted() -> bool:
    """OTELKIT_HTTP_IMPLEMENTATION=contrib, read from the active configuration."""
    from otelkit import _active

    active = _active.current()
    return active is not None and active.settings.http_implementation == "contrib"


def _instrument_starlette(app: Any, spans: bool | None) -> None:
    if getattr(app, _MARK, False):
        return
    _quiet_fastapi_native_telemetry(app)
    try:
        app.add_middleware(OtelkitMiddleware, spans=spans)
    except RuntimeError as exc:  # Starlette refuses middleware once the app has started
        raise ConfigError(
            f"instrument_app() came too late: {exc}. Call it (or init_telemetry()) before the "
            "app serves its first request."
        ) from None
    setattr(app, _MARK, True)


def _quiet_fastapi_native_telemetry(app: Any) -> None:
    """FastAPI >= 0.142 measures requests itself; otelkit does it once, so switch that off.

    FastAPI reads this configuration per request, so changing it in place is enough.
    """
    config = getattr(app, "_telemetry", None)
    if isinstance(config, dict):
        for option in ("tracing", "metrics", "logs", "operation_spans"):
            if option in config:
                config[option] = False


def _instrument_flask(app: Any, spans: bool | None) -> None:
    if getattr(app, _MARK, False):
        return
    app.wsgi_app = OtelkitWSGIMiddleware(app.wsgi_app, spans=spans)
    flask_hooks(app)
    setattr(app, _MARK, True)


# The constructors patched per integration: FastAPI's __init__ does not call Starlette's.
_TARGETS: Mapping[str, tuple[tuple[str, str], ...]] = MappingProxyType(
    {
        "asgi": (("starlette.applications", "Starlette"), ("fastapi.applications", "FastAPI")),
        "wsgi": (("flask.app", "Flask"),),
    }
)


class AutoInstrumentation:
    """Patches the constructors of installed frameworks so that new apps are instrumented."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._patched: list[tuple[type, Callable[..., None]]] = []

    def install(self, settings: Settings) -> None:
        wanted = settings.instrument
        kinds = ("asgi", "wsgi") if wanted == ("auto",) else [k for k in wanted if k in _TARGETS]
        with self._lock:
            for kind in kinds:
                for module_name, class_name in _TARGETS[kind]:
                    self._patch(module_name, class_name, explicit=wanted != ("auto",))

    def uninstall(self) -> None:
        with self._lock:
            for cls, original in reversed(self._patched):
                cls.__init__ = original
            self._patched.clear()

    def _patch(self, module_name: str, class_name: str, explicit: bool) -> None:
        package = module_name.split(".", 1)[0]
        if importlib.util.find_spec(package) is None:
            if explicit:
                logger.warning(
                    "otelkit: OTELKIT_INSTRUMENT asks for %s, which is not installed", package
                )
            return
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            logger.debug(
                "otelkit: cannot auto-instrument %s.%s", module_name, class_name, exc_info=True
            )
            return
        if any(patched is cls for patched, _ in self._patched):
            return
        original = cls.__init__

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
            original(self, *args, **kwargs)
            instrument_app(self)  # once per app: a subclass may run both patched constructors

        __init__.__wrapped__ = original  # type: ignore[attr-defined]
        cls.__init__ = __init__
        self._patched.append((cls, original))


AUTO = AutoInstrumentation()
