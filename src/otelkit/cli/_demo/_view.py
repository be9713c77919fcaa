"""What the demo shows while it runs: the figures of its own ``/metrics``, live.

The view reads the demo's Prometheus endpoint the way ``otelkit scrape`` reads any service,
so what a person sees is what a scraper gets: RED per route with p50/p95/p99, the database
pool, the Celery tasks, the system, the business numbers and the alerts that fire.
"""

from __future__ import annotations

import collections
import threading
from typing import TYPE_CHECKING, Any

from otelkit.cli._exposition_text import Reading, increase
from otelkit.cli._output import table
from otelkit.cli._scrape import read, renderables, report_of

if TYPE_CHECKING:
    from otelkit.alerting._alert import Alert
    from otelkit.cli._demo._landing import Links

__all__ = ["Alerts", "Window", "business", "screen"]

ORDERS = "shop_orders_total"
BASKET_SUM = "shop_basket_value_sum"


class Window:
    """Readings of ``/metrics`` over the last ``seconds``: the figures are their differences."""

    def __init__(self, url: str, seconds: float) -> None:
        self.url = url
        self._seconds = seconds
        self._readings: collections.deque[Reading] = collections.deque()

    def read(self) -> tuple[Reading, Reading] | None:
        """Take a reading; returns (oldest in the window, newest) once there are two."""
        reading = read(self.url, None)
        self._readings.append(reading)
        while len(self._readings) > 2 and reading.at - self._readings[1].at >= self._seconds:
            self._readings.popleft()
        if len(self._readings) < 2:
            return None
        return self._readings[0], reading


class Alerts:
    """The alerts firing now, kept from the ``on_alert`` notifications."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._firing: dict[tuple[str, tuple[tuple[str, str], ...]], Alert] = {}
        self.notified = 0

    def __call__(self, alert: Alert) -> None:
        key = (alert.name, tuple(sorted(alert.labels.items())))
        with self._lock:
            self.notified += 1
            if alert.state == "firing":
                self._firing[key] = alert
            else:
                self._firing.pop(key, None)

    def firing(self) -> list[Alert]:
        with self._lock:
            return list(self._firing.values())


def business(before: Reading, after: Reading) -> list[dict[str, Any]]:
    """Orders per tier over the window, with their total ever and the basket value."""
    seconds = max(after.at - before.at, 1e-9)

    def tier(sample: Any) -> str:
        return str(sample.label("shop_tier", "?"))

    orders = increase(before.grouped(ORDERS, tier), after.grouped(ORDERS, tier))
    totals = after.grouped(ORDERS, tier)
    value = after.grouped(BASKET_SUM, tier)
    return [
        {
            "tier": key[0],
            "orders_per_s": round(orders.get(key, 0.0) / seconds, 3),
            "orders": int(count),
            "basket_value": round(value.get(key, 0.0), 2),
        }
        for key, count in sorted(totals.items())
    ]


def screen(
    links: Links, window: tuple[Reading, Reading] | None, alerts: Alerts, url: str
) -> list[Any]:
    """Everything the live view draws, top to bottom."""
    pages = table(None, ("open", "URL"), links.endpoints)
    parts: list[Any] = [pages]
    if window is None:
        return [*parts, "waiting for the second reading of /metrics …"]
    before, after = window
    report = report_of(url, before, after)
    parts.append(f"figures over the last {report['interval_s']:.0f} s of {report['url']}")
    parts.extend(renderables(report))
    rows = business(before, after)
    if rows:
        parts.append(
            table(
                "Business: shop.orders and shop.basket.value",
                ("tier", "orders/s", "orders", "basket value"),
                ((r["tier"], r["orders_per_s"], r["orders"], r["basket_value"]) for r in rows),
            )
        )
    firing = alerts.firing()
    parts.append(
        table(
            "Alerts firing (in-process)",
            ("alert", "severity", "value"),
            ((a.name, a.severity, f"{a.value:.3g}") for a in firing),
        )
        if firing
        else "no alert firing"
    )
    return parts
