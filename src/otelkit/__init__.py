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
    from otelkit._business import counted, gauge, record, timed, traced, track_inprogress
    from otelkit._health import HealthCheck, add_health_check
    from otelkit._health_http import health_app, health_blueprint, health_router, health_wsgi
    from otelkit._instrument import instrument_app
    from otelkit._telemetry import Telemetry, init_telemetry
    from otelkit.alerting._callbacks import on_alert
    from otelkit.alerting._rules import AlertRule
    from otelkit.exporters._endpoint import metrics_app, metrics_wsgi
    from otelkit.instrumentation.celery import instrument_celery
    from otelkit.instrumentation.sqlalchemy import instrument_sqlalchemy

__all__ = [
    "AlertRule",
    "ConfigError",
    "HealthCheck",
    "Telemetry",
    "__version__",
    "add_health_check",
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
    "timed",
    "traced",
    "track_inprogress",
]

_LAZY = {
    "AlertRule": "otelkit.alerting._rules",
    "on_alert": "otelkit.alerting._callbacks",
    "instrument_sqlalchemy": "otelkit.instrumentation.sqlalchemy",
    "instrument_celery": "otelkit.instrumentation.celery",
    "HealthCheck": "otelkit._health",
    "add_health_check": "otelkit._health",
    "health_app": "otelkit._health_http",
    "health_blueprint": "otelkit._health_http",
    "health_router": "otelkit._health_http",
    "health_wsgi": "otelkit._health_http",
    "counted": "otelkit._business",
    "gauge": "otelkit._business",
    "record": "otelkit._business",
    "timed": "otelkit._business",
    "traced": "otelkit._business",
    "track_inprogress": "otelkit._business",
    "Telemetry": "otelkit._telemetry",
    "init_telemetry": "otelkit._telemetry",
    "instrument_app": "otelkit._instrument",
    "metrics_app": "otelkit.exporters._endpoint",
    "metrics_wsgi": "otelkit.exporters._endpoint",
}


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otelkit' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
