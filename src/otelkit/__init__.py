"""otelkit: production-grade OpenTelemetry for Python services, with one call at start-up.

The whole public API is listed in ``__all__``; everything else lives in private modules.
"""

from otelkit._errors import ConfigError
from otelkit._telemetry import Telemetry, init_telemetry
from otelkit._version import __version__
from otelkit.exporters._endpoint import metrics_app, metrics_wsgi

__all__ = [
    "ConfigError",
    "Telemetry",
    "__version__",
    "init_telemetry",
    "metrics_app",
    "metrics_wsgi",
]
