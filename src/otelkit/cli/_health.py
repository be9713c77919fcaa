"""``otelkit health URL``: the readiness report of a running service (``/readyz``), readable.

Exit status: 0 ready, 1 not ready (503, a failed critical check, or no answer at all).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import typer

from otelkit.cli._output import OUTPUT, Output, console, escape, print_json, styled, table
from otelkit.cli._secrets import register_environment
from otelkit.config._redact import redact_text, redact_url, secrets_of_url

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["readiness_url", "register"]

EXIT_READY, EXIT_NOT_READY = 0, 1
READINESS_PATH_VARIABLE = "OTELKIT_HEALTH_READINESS_PATH"
TIMEOUT_S = 10.0
_STYLES = {"healthy": "green", "degraded": "yellow", "unhealthy": "bold red"}


def readiness_url(url: str, environ: Mapping[str, str]) -> str:
    """``host:9464`` or ``http://host:9464`` mean ``http://host:9464/readyz`` (or the path
    ``OTELKIT_HEALTH_READINESS_PATH`` names, when it is set here as for the service)."""
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    default = environ.get(READINESS_PATH_VARIABLE, "").strip() or "/readyz"
    path = parts.path if parts.path not in ("", "/") else default
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def fetch(url: str) -> dict[str, Any]:
    """The report as served, plus ``http_status``; ``error`` when there is none to read."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        shown = redact_text(str(reason))
        return {"ready": False, "error": f"cannot reach {redact_url(url)}: {shown}"}
    try:
        report = json.loads(body)
        if not isinstance(report, dict):
            raise ValueError("not an object")
    except ValueError:
        return {
            "ready": False,
            "http_status": status,
            "error": f"{redact_url(url)} answered HTTP {status} without a readiness report",
        }
    report["http_status"] = status
    report["ready"] = bool(report.get("ready", status == 200)) and status == 200
    return report


def _render(url: str, report: dict[str, Any]) -> None:
    out = console()
    if "error" in report:
        out.print(f"[bold red]not ready[/]: {escape(report['error'])}")
        return
    status = str(report.get("status", "unknown"))
    ready = "[green]ready[/]" if report["ready"] else "[bold red]not ready[/]"
    out.print(
        f"{escape(redact_url(url))}: {ready}, status [{_STYLES.get(status, 'white')}]"
        f"{escape(status)}[/] "
        f"(HTTP {report['http_status']})"
    )
    checks = report.get("checks") or {}
    if checks:
        rows = []
        for name, check in sorted(checks.items()):
            passed = check.get("status") == "pass"
            latency = check.get("latency_ms")
            rows.append(
                (
                    name,
                    styled("pass", "green") if passed else styled("fail", "bold red"),
                    "yes" if check.get("critical") else "no",
                    f"{latency:.1f} ms" if isinstance(latency, (int, float)) else "—",
                    check.get("error") or "",
                )
            )
        out.print(table("Checks", ("check", "result", "critical", "latency", "error"), rows))
    elif "checks" in report:
        out.print("no readiness checks registered")
    for source, state in (report.get("sources") or {}).items():
        out.print(escape(f"status source {source}: {state}"))


URL = typer.Argument(..., help="The service's /readyz URL (host:port means /readyz).")


def register(app: typer.Typer) -> None:
    @app.command()
    def health(
        url: str = URL,
        output: Output = OUTPUT,
    ) -> None:
        """Show a running service's readiness report; exit 0 if ready, 1 if not."""
        target = readiness_url(url, os.environ)
        register_environment(os.environ, *secrets_of_url(target))
        report = fetch(target)
        if output is Output.json:
            print_json({"url": redact_url(target), **report})
        else:
            _render(target, report)
        raise typer.Exit(EXIT_READY if report["ready"] else EXIT_NOT_READY)
