"""``otelkit scrape URL``: read a live ``/metrics`` twice, a few seconds apart, and show what
the service is doing: RED per route, database operations and pools, Celery tasks, system.

Rates and quantiles come from the difference between the two readings, so they describe those
seconds, not the life of the process. A redirect is not followed (it would carry the bearer
token to wherever it points): the error names its target. Exit status: 0 read, 1 the endpoint
could not be read (unreachable, refused, redirected, not an exposition), 2 a usage error.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import typer

from otelkit.cli import _scrape_figures as figures
from otelkit.cli._exposition_text import Reading, parse
from otelkit.cli._output import OUTPUT, Output, console, escape, print_json, table
from otelkit.cli._secrets import register_environment
from otelkit.config._redact import redact_text, redact_url, secrets_of_url

__all__ = ["read", "register", "renderables", "report_of"]

EXIT_UNREADABLE = 1
TIMEOUT_S = 10.0


class Unreadable(Exception):
    """The endpoint did not give an exposition; the message says why (no credentials)."""


def metrics_url(url: str) -> str:
    """``host:9464`` or ``http://host:9464`` mean ``http://host:9464/metrics``."""
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    path = parts.path if parts.path not in ("", "/") else "/metrics"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: urllib would send the ``Authorization`` header (the bearer
    token) to wherever the answer points, another host included. The 3xx answer becomes an
    ``HTTPError`` that ``read`` reports with its target."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def read(url: str, token: str | None) -> Reading:
    """One reading of the exposition at ``url``; ``Unreadable`` says why there is none."""
    headers = {"Accept": "text/plain"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=headers)
    try:
        with _OPENER.open(request, timeout=TIMEOUT_S) as response:
            text = response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as exc:
        raise Unreadable(_http_error(url, exc)) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = redact_text(str(getattr(exc, "reason", exc)))
        raise Unreadable(f"cannot read {redact_url(url)}: {reason}") from None
    at = time.monotonic()
    samples = parse(text)
    if not samples:
        raise Unreadable(f"{redact_url(url)} served no metric samples")
    return Reading(at, samples)


def _http_error(url: str, exc: urllib.error.HTTPError) -> str:
    shown = redact_url(url)
    if 300 <= exc.code < 400:
        target = exc.headers.get("Location") if exc.headers else None
        where = redact_url(str(target)) if target else "nowhere (no Location)"
        return (
            f"{shown} answered HTTP {exc.code}, a redirect to {where}: not followed (the token "
            "would go with it); scrape the URL it names"
        )
    hint = " (give --token or OTELKIT_PROMETHEUS_TOKEN)" if exc.code == 401 else ""
    return f"{shown} answered HTTP {exc.code}{hint}"


def _seconds(value: object) -> str:
    if not isinstance(value, (int, float)):
        return "—"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def _ratio(value: object) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) else "—"


def _red_table(title: str, rows: list[dict[str, Any]], first: str) -> Any:
    return table(
        title,
        (first, "req/s" if first == "route" else "per s", "errors", "p50", "p95", "p99", "total"),
        (
            (
                row["name"],
                f"{row['rate_per_s']:.2f}",
                _ratio(row["error_ratio"]),
                _seconds(row["p50_s"]),
                _seconds(row["p95_s"]),
                _seconds(row["p99_s"]),
                row["total"],
            )
            for row in rows
        ),
    )


def renderables(report: dict[str, Any]) -> list[Any]:
    """The tables of a report, for ``scrape`` and for the demo's live view."""
    parts: list[Any] = []
    if report["http_routes"]:
        parts.append(_red_table("HTTP server (RED per route)", report["http_routes"], "route"))
    else:
        parts.append("no HTTP server requests measured (http.server.request.duration)")
    if report["db_operations"]:
        parts.append(_red_table("Database operations", report["db_operations"], "operation"))
    if report["db_pools"]:
        columns = ("pool", "used", "idle", "max", "pending", "timeouts/s", "wait p95")
        parts.append(
            table(
                "Connection pools",
                columns,
                (
                    (
                        p["pool"],
                        p["used"],
                        p["idle"],
                        p["max"],
                        p["pending"],
                        p["timeouts_per_s"],
                        _seconds(p["wait_p95_s"]),
                    )
                    for p in report["db_pools"]
                ),
            )
        )
    if report["celery_tasks"]:
        parts.append(_red_table("Celery tasks", report["celery_tasks"], "task"))
    if report["system"]:
        rows = ((name, _ratio(v) if "ratio" in name else v) for name, v in report["system"].items())
        parts.append(table("System and process", ("figure", "value"), rows))
    return parts


def report_of(url: str, before: Reading, after: Reading) -> dict[str, Any]:
    """The figures between two readings of ``url``."""
    return {
        "url": redact_url(url),
        "interval_s": round(after.at - before.at, 3),
        "http_routes": figures.http_routes(before, after),
        "db_operations": figures.db_operations(before, after),
        "db_pools": figures.db_pools(before, after),
        "celery_tasks": figures.celery_tasks(before, after),
        "system": figures.system(before, after),
    }


def _render(report: dict[str, Any]) -> None:
    out = console()
    out.print(escape(f"{report['url']}: {report['interval_s']:.1f} s between readings"))
    for part in renderables(report):
        out.print(part)


URL = typer.Argument(..., help="The /metrics URL (host:port means /metrics).")
INTERVAL = typer.Option(5.0, "--interval", "-i", min=0.1, help="Seconds between the readings.")
TOKEN = typer.Option(
    None, "--token", envvar="OTELKIT_PROMETHEUS_TOKEN", help="Bearer token of /metrics."
)


def register(app: typer.Typer) -> None:
    @app.command()
    def scrape(
        url: str = URL,
        interval: float = INTERVAL,
        token: str | None = TOKEN,
        output: Output = OUTPUT,
    ) -> None:
        """Read a live /metrics twice and show RED per route, DB pools, Celery and system."""
        target = metrics_url(url)
        register_environment(os.environ, token, *secrets_of_url(target))
        try:
            before = read(target, token)
            time.sleep(interval)
            after = read(target, token)
        except Unreadable as exc:
            if output is Output.json:
                print_json({"url": redact_url(target), "error": str(exc)})
            else:
                console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(EXIT_UNREADABLE) from None
        report = report_of(target, before, after)
        if output is Output.json:
            print_json(report)
        else:
            _render(report)
