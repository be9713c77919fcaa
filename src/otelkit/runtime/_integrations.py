"""The integrations ``init_telemetry()`` switches on, in one table.

Each integration named in ``OTELKIT_INSTRUMENT`` (or all of them for ``auto``) is checked before
anything starts — a missing extra that the user asked for by name is a ``ConfigError``; under
``auto`` it is skipped quietly — then installed once the configuration is active, and removed
again by ``shutdown()`` in reverse order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otelkit.config._settings import Settings
    from otelkit.runtime._telemetry import Telemetry

Uninstall = Callable[[], None]


def wants(settings: Settings, integration: str) -> bool:
    """Whether OTELKIT_INSTRUMENT asks for ``integration`` (``auto`` asks for all)."""
    return settings.instrument == ("auto",) or integration in settings.instrument


def named(settings: Settings, integration: str) -> bool:
    """Whether the user named ``integration`` explicitly (so its absence is an error)."""
    return integration in settings.instrument


def check(settings: Settings) -> None:
    """Before anything starts: every integration asked for by name must be installed."""
    if settings.system_metrics and named(settings, "system"):
        from otelkit.instrumentation import system

        system.available(required=True)
    if named(settings, "celery"):
        from otelkit.instrumentation import celery

        celery.available(required=True)
    if named(settings, "sqlalchemy"):
        from otelkit.instrumentation import sqlalchemy

        sqlalchemy.available(required=True)
    if settings.http_client:
        from otelkit.instrumentation import http_client

        for name in http_client.LIBRARIES:
            if named(settings, name):
                http_client.available(name, required=True)
    if settings.http_implementation == "contrib":
        from otelkit.instrumentation.http import contrib

        contrib.require()


def install(telemetry: Telemetry) -> list[Uninstall]:
    """Switch the wanted integrations on; returns what undoes them."""
    settings = telemetry.settings
    undo: list[Uninstall] = []
    if wants(settings, "asgi") or wants(settings, "wsgi"):
        from otelkit.instrumentation.http._app import AUTO

        AUTO.install(settings)
        undo.append(AUTO.uninstall)
    if wants(settings, "celery"):
        from otelkit.instrumentation import celery

        celery.install_auto()
        undo.append(celery.uninstall_auto)
    if wants(settings, "sqlalchemy"):
        from otelkit.instrumentation import sqlalchemy

        if sqlalchemy.install_auto():
            undo.append(sqlalchemy.uninstall_auto)
    if settings.http_client:
        from otelkit.instrumentation import http_client

        undo.append(http_client.install(n for n in http_client.LIBRARIES if wants(settings, n)))
    if wants(settings, "logging"):
        from otelkit.instrumentation.logging import TraceContextRecords

        records = TraceContextRecords(settings.service_name)
        records.install()
        undo.append(records.uninstall)
    pipeline = telemetry._pipeline
    if settings.system_metrics and wants(settings, "system") and pipeline is not None:
        from otelkit.instrumentation import system

        system.install(
            pipeline.meter_provider,
            required=named(settings, "system"),
            detail=settings.system_metrics_detail,
        )
    return undo


def uninstall(undo: list[Uninstall]) -> None:
    for step in reversed(undo):
        step()
    undo.clear()
