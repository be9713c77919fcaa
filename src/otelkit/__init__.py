"""otelkit: production-grade OpenTelemetry for Python services, with one call at start-up.

The whole public API is listed in ``__all__``; everything else lives in private modules. The
OpenTelemetry SDK is imported on first use of a name that needs it, so ``import otelkit`` stays
cheap for modules that only decorate functions at import time.
"""

import importlib as _importlib
import typing as _typing

from otelkit._errors import ConfigError
from otelkit._version import __version__

if _typing.TYPE_CHECKING:
    from otelkit.alerting._callbacks import on_alert
    from otelkit.alerting._rules import AlertRule
    from otelkit.exporters.prometheus._endpoint import metrics_app, metrics_wsgi
    from otelkit.health._http import health_app, health_blueprint, health_router, health_wsgi
    from otelkit.health._registry import HealthCheck, add_health_check
    from otelkit.instrumentation.celery import instrument_celery
    from otelkit.instrumentation.http._app import instrument_app
    from otelkit.instrumentation.sqlalchemy import instrument_sqlalchemy
    from otelkit.metrics._business import (
        count,
        counted,
        gauge,
        record,
        set_gauge,
        timed,
        traced,
        track_inprogress,
    )
    from otelkit.runtime._telemetry import Telemetry, init_telemetry
    from otelkit.status._http import status_app, status_wsgi

__all__ = [
    "AlertRule",
    "ConfigError",
    "HealthCheck",
    "Telemetry",
    "__version__",
    "add_health_check",
    "count",
    "counted",
    "gauge",
    "health_app",
    "health_blueprint",
    "health_router",
    "health_wsgi",
    "init_telemetry",
    "instrument_app",
    "instrument_celery",
    "instrument_sqlalchemy",
    "metrics_app",
    "metrics_wsgi",
    "on_alert",
    "record",
    "set_gauge",
    "status_app",
    "status_wsgi",
    "timed",
    "traced",
    "track_inprogress",
]

_LAZY = {
    "AlertRule": "otelkit.alerting._rules",
    "on_alert": "otelkit.alerting._callbacks",
    "instrument_sqlalchemy": "otelkit.instrumentation.sqlalchemy",
    "instrument_celery": "otelkit.instrumentation.celery",
    "HealthCheck": "otelkit.health._registry",
    "add_health_check": "otelkit.health._registry",
    "health_app": "otelkit.health._http",
    "health_blueprint": "otelkit.health._http",
    "health_router": "otelkit.health._http",
    "health_wsgi": "otelkit.health._http",
    "count": "otelkit.metrics._business",
    "counted": "otelkit.metrics._business",
    "gauge": "otelkit.metrics._business",
    "record": "otelkit.metrics._business",
    "set_gauge": "otelkit.metrics._business",
    "timed": "otelkit.metrics._business",
    "traced": "otelkit.metrics._business",
    "track_inprogress": "otelkit.metrics._business",
    "Telemetry": "otelkit.runtime._telemetry",
    "init_telemetry": "otelkit.runtime._telemetry",
    "instrument_app": "otelkit.instrumentation.http._app",
    "metrics_app": "otelkit.exporters.prometheus._endpoint",
    "metrics_wsgi": "otelkit.exporters.prometheus._endpoint",
    "status_app": "otelkit.status._http",
    "status_wsgi": "otelkit.status._http",
}


# Submodules reachable as ``from otelkit import health_checks``.
_MODULES = {"health_checks": "otelkit.health.checks"}


def __getattr__(name: str) -> _typing.Any:
    if name in _MODULES:
        return _importlib.import_module(_MODULES[name])
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otelkit' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
