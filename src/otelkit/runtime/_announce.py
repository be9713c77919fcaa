"""The start-up line: what ``init_telemetry()`` configured and where each signal goes.

One record on the ``otelkit`` logger per configuration, INFO, for example::

    otelkit: service 'orders' in development: metrics at http://127.0.0.1:9464/metrics;
    traces off (set OTEL_TRACES_EXPORTER); logs off (set OTEL_LOGS_EXPORTER)

(on one line). In production (and staging), a signal sent over OTLP without an endpoint
configured goes to the specification's default, ``localhost``, which is almost never what a
deployment wants: the line is then a WARNING naming ``OTEL_EXPORTER_OTLP_ENDPOINT``.
Credentials never appear: endpoint URLs are shown as ``config._redact.redact_url`` masks them
(user information, credential query values), headers not at all.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from otelkit._errors import guarded
from otelkit.config._redact import redact_url
from otelkit.config._settings import SIGNALS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from otelkit.config._settings import Settings
    from otelkit.exporters._plugin import ExporterPlugin

logger = logging.getLogger("otelkit")

_DESTINATIONS = {"console": "the console (stdout)", "memory": "memory (tests)"}


@guarded("start-up line")
def announce(settings: Settings, plugins: Mapping[str, ExporterPlugin]) -> None:
    """Log the start-up line (a WARNING when production sends OTLP to the default endpoint)."""
    level, line = summary(settings, plugins)
    logger.log(level, "%s", line)


def summary(settings: Settings, plugins: Mapping[str, ExporterPlugin]) -> tuple[int, str]:
    """The start-up line and its level."""
    parts = [_signal(settings, plugins, signal) for signal in SIGNALS]
    line = f"otelkit: service {settings.service_name!r} in {settings.environment}: " + "; ".join(
        parts
    )
    unset = _default_otlp_signals(settings, plugins)
    if settings.production_like and unset:
        return logging.WARNING, (
            f"{line}. No OTLP endpoint is configured for {', '.join(unset)}, so they go to "
            "localhost: set OTEL_EXPORTER_OTLP_ENDPOINT to the collector's URL"
        )
    return logging.INFO, line


def _signal(settings: Settings, plugins: Mapping[str, ExporterPlugin], signal: str) -> str:
    names = settings.exporters_for(signal)
    if not names:
        return f"{signal} off (set OTEL_{signal.upper()}_EXPORTER)"
    where = [_destination(name, plugins.get(name), signal) for name in names]
    return f"{signal} {' and '.join(where)}"


def _destination(name: str, plugin: ExporterPlugin | None, signal: str) -> str:
    if name == "prometheus" and plugin is not None:
        return _prometheus(plugin)
    if name == "otlp" and plugin is not None:
        config: Any = plugin.resolve(signal)  # type: ignore[attr-defined]
        return f"to OTLP {config.protocol} {redact_url(config.endpoint)}"
    return f"to {_DESTINATIONS.get(name, name)}"


def _prometheus(plugin: Any) -> str:
    address = plugin.address
    if address is not None:
        host, port = address
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        token = " (bearer token required)" if plugin.options.get("token") else ""
        return f"at http://{authority}/metrics{token}"
    if plugin.not_listening:
        return f"served by the reloaded process ({plugin.not_listening} watches from here)"
    return "through otelkit.metrics_app() only (OTEL_EXPORTER_PROMETHEUS_PORT=0)"


def _default_otlp_signals(settings: Settings, plugins: Mapping[str, ExporterPlugin]) -> list[str]:
    """The signals sent over OTLP to the default endpoint (no endpoint configured for them)."""
    plugin = plugins.get("otlp")
    if plugin is None:
        return []
    options = plugin.options
    return [
        signal
        for signal in SIGNALS
        if "otlp" in settings.exporters_for(signal)
        and options.get("endpoint") is None
        and options.get(f"{signal}_endpoint") is None
    ]
