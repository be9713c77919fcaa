"""Exporter plugins: the built-ins, and the base class for third-party plugins.

A plugin is an ``ExporterPlugin`` subclass registered in the ``otelkit.exporters`` entry-point
group under the name users put in ``OTEL_METRICS_EXPORTER`` / ``OTEL_TRACES_EXPORTER`` /
``OTEL_LOGS_EXPORTER``. ``Setting`` declares a variable the plugin reads; ``ConfigError`` is what
its validation raises.
"""

from otelkit._errors import ConfigError
from otelkit.config._settings import Setting
from otelkit.exporters._plugin import ExporterPlugin

__all__ = ["ConfigError", "ExporterPlugin", "Setting"]
