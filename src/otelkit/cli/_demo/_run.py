"""Running the demo: telemetry, the shop, its worker, traffic, the view, and a clean stop.

Ctrl-C or SIGTERM stops the traffic, waits for the answers in flight, takes a last reading,
prints what was sent beside what otelkit measured, and shuts telemetry down so everything
recorded is flushed.
"""

from __future__ import annotations

import contextlib
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import otelkit
from otelkit.cli._demo._landing import Links, next_steps
from otelkit.cli._demo._shop import build_shop
from otelkit.cli._demo._traffic import Traffic
from otelkit.cli._demo._view import Alerts, Window, business, screen
from otelkit.cli._exposition_text import Reading
from otelkit.cli._scrape import read
from otelkit.cli._scrape_figures import HTTP_DURATION

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["DemoOptions", "run_demo"]

REFRESH_S = 2.0
WINDOW_S = 30.0
# The demo's alerts are tuned to fire within a minute on its injected errors and slow route,
# so that the alert table has something to show; a real service keeps the defaults.
ALERTING = {
    "alerts": True,
    "alert_interval": 5,
    "alert_window": 30,
    "alert_error_rate_threshold": 0.03,
    "alert_error_rate_for": 10,
    "alert_response_time_threshold": 0.25,
    "alert_response_time_for": 10,
    "alert_default_rules": "error_rate,response_time",
}


@dataclass(frozen=True)
class DemoOptions:
    host: str
    port: int
    metrics_port: int | None
    rps: float
    duration: float | None
    live: bool


class _Stop(Exception):
    """SIGTERM, turned into the same clean stop as Ctrl-C."""


def _system_metrics() -> bool:
    try:
        import psutil  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def _serving(app: Any, host: str, port: int) -> Iterator[None]:
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="otelkit-demo-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the demo shop could not listen on {host}:{port}")
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def _sigterm_stops() -> Iterator[None]:
    def stop(signum: int, frame: object) -> None:
        raise _Stop

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _measured_requests(reading: Reading) -> int:
    return int(sum(s.value for s in reading.get(f"{HTTP_DURATION}_count")))


def run_demo(options: DemoOptions, out: Any) -> dict[str, Any]:
    """Run until ``options.duration`` (or Ctrl-C/SIGTERM); returns the summary."""
    from celery.contrib.testing.worker import start_worker  # type: ignore[import-untyped]

    keywords: dict[str, Any] = dict(ALERTING)
    if options.metrics_port is not None:
        keywords["prometheus_port"] = options.metrics_port
    telemetry = otelkit.init_telemetry(
        "otelkit-demo",
        service_version=otelkit.__version__,
        system_metrics=_system_metrics(),
        **keywords,
    )
    alerts = Alerts()
    otelkit.on_alert(alerts)
    metrics_url = _metrics_url(telemetry)
    links = Links(
        app=f"http://{options.host}:{options.port}",
        metrics=metrics_url,
        status=metrics_url.removesuffix("/metrics") + "/status" if _has_status() else None,
    )
    traffic = Traffic(links.app, options.rps)
    window = Window(metrics_url, WINDOW_S)
    stopped_by = "duration"
    try:
        with (
            tempfile.TemporaryDirectory(prefix="otelkit-demo-") as directory,
            _sigterm_stops(),
        ):
            shop = build_shop(Path(directory), links)
            with (
                start_worker(shop.celery, perform_ping_check=False, shutdown_timeout=5),
                _serving(shop.app, options.host, options.port),
            ):
                _announce(out, links)
                traffic.start()
                try:
                    _loop(options, out, links, window, alerts)
                except (KeyboardInterrupt, _Stop) as exc:
                    stopped_by = "SIGTERM" if isinstance(exc, _Stop) else "Ctrl-C"
                finally:
                    traffic.stop()
                final = read(metrics_url, None)
                shop.engine.dispose()
    finally:
        otelkit.on_alert(alerts)  # keep it registered until the flush below has run
        flushed = telemetry.shutdown()
        from otelkit.alerting._callbacks import remove_callback

        remove_callback(alerts)
    return _summary(traffic, final, alerts, links, stopped_by, flushed)


def _loop(options: DemoOptions, out: Any, links: Links, window: Window, alerts: Alerts) -> None:
    deadline = None if options.duration is None else time.monotonic() + options.duration
    if not options.live:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(min(REFRESH_S, max(0.0, (deadline or float("inf")) - time.monotonic())))
        return
    from rich.console import Group
    from rich.live import Live

    with Live(Group(*screen(links, None, alerts, window.url)), console=out, screen=False) as live:
        while deadline is None or time.monotonic() < deadline:
            time.sleep(REFRESH_S)
            with contextlib.suppress(Exception):  # a missed reading only delays the view
                live.update(Group(*screen(links, window.read(), alerts, window.url)))


def _announce(out: Any, links: Links) -> None:
    out.print("[bold]otelkit demo[/]: a FastAPI shop with SQLite, Celery and traffic; Ctrl-C stops")
    for what, url in links.endpoints:
        out.print(f"  {what:<22} {url}")
    out.print("next, in another terminal:")
    for what, command in next_steps(links):
        out.print(f"  {what:<34} {command}")


def _summary(
    traffic: Traffic,
    final: Reading,
    alerts: Alerts,
    links: Links,
    stopped_by: str,
    flushed: bool,
) -> dict[str, Any]:
    empty = Reading(final.at - 1, [])
    return {
        "stopped_by": stopped_by,
        "requests_answered": traffic.answered,
        "requests_failed": traffic.failures,
        "statuses": {str(k): v for k, v in sorted(traffic.statuses.items())},
        "requests_measured": _measured_requests(final),
        "orders": {row["tier"]: row["orders"] for row in business(empty, final)},
        "alert_notifications": alerts.notified,
        "flushed": flushed,
        "urls": dict(links.endpoints),
    }


def _metrics_url(telemetry: Any) -> str:
    """Where this process serves ``/metrics`` (the port actually bound)."""
    pipeline = telemetry._pipeline
    plugin = pipeline.plugins.get("prometheus") if pipeline is not None else None
    address = getattr(plugin, "address", None)
    if address is None:
        raise RuntimeError(
            "the demo needs the Prometheus exporter (OTEL_METRICS_EXPORTER=prometheus)"
        )
    host, port = address
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"http://{authority}/metrics"


def _has_status() -> bool:
    import importlib.util

    return importlib.util.find_spec("otelkit.status") is not None
