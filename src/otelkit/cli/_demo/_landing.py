"""What the demo tells a person: the URLs to open and the commands to try next.

The same links are printed on the terminal and served as the shop's root page, so whoever opens
``http://127.0.0.1:8000/`` first learns where the metrics, health and status pages are.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

__all__ = ["Links", "landing_page", "next_steps"]


@dataclass(frozen=True)
class Links:
    """Where the demo's pieces answer."""

    app: str
    metrics: str
    status: str | None

    @property
    def endpoints(self) -> list[tuple[str, str]]:
        """(what, URL) for each page worth opening."""
        pages = [
            ("the shop (this page)", f"{self.app}/"),
            ("Prometheus metrics", self.metrics),
            ("liveness", f"{self.app}/healthz"),
            ("readiness", f"{self.app}/readyz"),
            ("interactive API", f"{self.app}/docs"),
        ]
        if self.status is not None:
            pages.insert(1, ("status page", self.status))
        return pages


def next_steps(links: Links) -> list[tuple[str, str]]:
    """(what, command) for the operators' kit, generated for exactly what the demo emits."""
    app = "otelkit.cli._demo._shop:build_shop"
    return [
        ("live RED figures of any service", f"otelkit scrape {links.metrics}"),
        ("every metric this service emits", "otelkit metrics"),
        ("Prometheus alerting rules", "otelkit rules -o rules.yaml"),
        ("a Grafana dashboard", "otelkit dashboard -o dashboard.json"),
        ("check a configuration", "otelkit doctor"),
        ("the catalog of one app", f"otelkit metrics --app {app}"),
    ]


def landing_page(links: Links) -> str:
    """The shop's root page: what to open and what to run, instead of a bare "200 OK"."""
    pages = "".join(
        f'<li><a href="{html.escape(url)}">{html.escape(what)}</a> '
        f"<code>{html.escape(url)}</code></li>"
        for what, url in links.endpoints
    )
    commands = "".join(
        f"<li>{html.escape(what)}: <code>{html.escape(command)}</code></li>"
        for what, command in next_steps(links)
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>otelkit demo shop</title>"
        "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;"
        "padding:0 1rem}code{font-size:.9em}a:focus{outline:3px solid}</style></head><body>"
        "<h1>otelkit demo shop</h1>"
        "<p>This service is instrumented with one call to <code>otelkit.init_telemetry()</code>."
        " A traffic generator is calling it now: reads, checkouts with business metrics and a"
        " Celery task, a slow route and a flaky one.</p>"
        f"<h2>Open</h2><ul>{pages}</ul>"
        f"<h2>Try next</h2><ul>{commands}</ul>"
        "</body></html>"
    )
