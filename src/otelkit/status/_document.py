"""``/status.json``: the whole document, version 1 (the schema is in docs/status.md).

The metric figures come from the Prometheus reader's own collection (what a scrape renders:
the fast path merged in, or the sum over a pre-fork server's processes), health from the
registry's cached report, alerts from the running alerting engine, objectives from the SLO
registry. Nothing secret goes in: no URL, no query value, no setting; check errors are
exception class names and alert labels are metric attributes.

One document is built at most once per ``CACHE_SECONDS`` per process, however many pages are
open; building it takes a reading for the window (``_window``).
"""

from __future__ import annotations

import datetime
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from otelkit import _active
from otelkit.health._registry import HEALTH
from otelkit.status import _figures, _read, _slos
from otelkit.status._window import EVERY, Window

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricsData

__all__ = ["CACHE_SECONDS", "REFRESH_SECONDS", "VERSION", "build", "document"]

logger = logging.getLogger("otelkit")

VERSION = 1
"""The schema version: bumped when a field changes meaning or goes away (new fields do not)."""
REFRESH_SECONDS = EVERY
"""How often the page reads the document again (one kept reading per refresh)."""
CACHE_SECONDS = 1.0

_window = Window()
_cache_lock = threading.Lock()
_cached: tuple[float, object, dict[str, Any]] | None = None  # (monotonic, exposition, document)


def _metrics_data(exposition: Any) -> MetricsData | None:
    """The collection a scrape of ``exposition`` (the prometheus plugin's reader) renders."""
    shared = getattr(exposition, "shared", None)
    if shared is not None:
        data: MetricsData | None = shared.exposition()
        return data
    collect = getattr(exposition, "collect_now", None)
    return collect() if callable(collect) else None


def _iso(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _health() -> dict[str, Any]:
    report = HEALTH.check()
    return {
        "status": report.status,
        "ready": report.ready,
        "checks": [{"name": result.name, **result.as_dict()} for result in report.checks],
        "sources": [{"name": name, "status": status} for name, status in report.sources],
    }


def _alerts() -> dict[str, Any]:
    running = _active.current()
    engine = getattr(running, "alerts", None) if running is not None else None
    if engine is None:
        return {"enabled": False, "active": []}
    active = []
    for alert in engine.alerts():
        if alert.state == "resolved":
            continue
        fields = alert.to_dict()
        active.append(
            {
                key: fields[key]
                for key in (
                    "status",
                    "alertname",
                    "severity",
                    "value",
                    "threshold",
                    "labels",
                    "summary",
                    "active_at",
                    "fired_at",
                )
            }
        )
    active.sort(key=lambda a: (a["status"] != "firing", a["severity"] != "critical"))
    return {"enabled": True, "active": active}


def _rounded(figures: dict[str, float]) -> dict[str, float | None] | None:
    return {key: _figures.number(value) for key, value in figures.items()} or None


def _service(exposition: Any, reading: _read.Reading) -> dict[str, Any]:
    running = _active.current()
    name = running.settings.service_name if running is not None else None
    return {
        "name": name,
        "pid": os.getpid(),
        "processes": reading.processes,
        "shared": getattr(exposition, "shared", None) is not None,
    }


def build(
    exposition: Any, window: Window | None = None, now: float | None = None
) -> dict[str, Any]:
    """A new document from ``exposition``'s data (one reading, kept in ``window`` if due)."""
    window = _window if window is None else window
    reading = _read.read(_metrics_data(exposition), now)
    baseline, history = window.observe(reading)
    seconds = _figures.interval(reading, baseline)
    return {
        "version": VERSION,
        "generated_at": _iso(reading.taken),
        "refresh_seconds": REFRESH_SECONDS,
        "service": _service(exposition, reading),
        "window": {
            "seconds": round(seconds, 3) if seconds is not None else None,
            "span_seconds": window.span,
            "readings": len(history),
        },
        "totals": _figures.totals(reading, baseline),
        "routes": _figures.routes(reading, baseline),
        "series": _figures.series(history),
        "db_pools": [
            {"pool": name, **(_rounded(figures) or {})}
            for name, figures in sorted(reading.pools.items())
        ],
        "celery": (
            {"active_tasks": reading.active_tasks, "tasks": _figures.tasks(reading, baseline)}
            if reading.tasks or reading.active_tasks is not None
            else None
        ),
        "system": _rounded(reading.system),
        "process": _rounded(reading.process),
        "health": _health(),
        "alerts": _alerts(),
        "slos": _slos.figures(reading, baseline),
    }


def document(exposition: Any) -> dict[str, Any]:
    """The current document: built anew, or the one built less than a second ago."""
    global _cached
    with _cache_lock:
        cached = _cached
        fresh = cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS
        if cached is not None and fresh and cached[1] is exposition:
            return cached[2]
        built = build(exposition)
        _cached = (time.monotonic(), exposition, built)
        return built


def _forget() -> None:
    """In a forked child: a window and a lock of its own."""
    global _cached, _cache_lock, _window
    _cached = None
    _cache_lock = threading.Lock()
    _window = Window()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)
