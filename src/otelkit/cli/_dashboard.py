"""``otelkit dashboard``: the Grafana dashboard for what otelkit (and the application) emits.

With ``--app module:attr`` the application is imported first, so the dashboard has a panel per
business metric and only the rows of the integrations it uses.
"""

from __future__ import annotations

import os
from pathlib import Path  # noqa: TC003 (typer reads the annotations at run time)

import typer
from rich.markup import escape

from otelkit._errors import ConfigError
from otelkit.cli._output import console

__all__ = ["EXIT_ERROR", "register"]

EXIT_ERROR = 2
SDK_HINT = (
    "the dashboard is built with grafana-foundation-sdk (Python 3.11+), which is not "
    "installed:\n    pip install 'otelkit[cli]'"
)

# Options whose values are not immutable are built once, here (typer reads the defaults).
_SLO_OPTION = typer.Option(
    [],
    "--slo",
    metavar="SPEC",
    help="An SLO as for `otelkit rules` (availability=99.9, latency=0.5s@99, route=..., "
    "function=...); repeatable. The application's registered SLOs are added.",
)
_OUTPUT_OPTION = typer.Option(
    None,
    "--output",
    metavar="FILE",
    help="Write the dashboard JSON to FILE (default: standard output).",
    dir_okay=False,
)


def register(app: typer.Typer) -> None:
    @app.command()
    def dashboard(
        service: str | None = typer.Option(
            None, "--service", metavar="NAME", help="Preselect this service (Prometheus job)."
        ),
        app_target: str | None = typer.Option(
            None,
            "--app",
            metavar="MODULE[:ATTR]",
            help="Import this application first: its business metrics, only its integrations.",
        ),
        slo: list[str] = _SLO_OPTION,
        output: Path | None = _OUTPUT_OPTION,
    ) -> None:
        """Write a Grafana dashboard (JSON) for the metrics otelkit emits: overview, routes,
        database, Celery, system, health, alerts, SLOs, business metrics."""
        try:
            from otelkit.ops._native import native_from_environment
            from otelkit.ops.catalog import load_catalog
            from otelkit.ops.dashboard import generate, render
            from otelkit.ops.rules import parse_slo_flag, registered_slos

            catalog = load_catalog(app_target)  # imports the app: its SLOs register first
            slos = {s.name: s for s in registered_slos()}
            slos.update((s.name, s) for flag in slo for s in parse_slo_flag(flag))
            native = native_from_environment(os.environ)  # OTELKIT_HISTOGRAM_AGGREGATION
            model = generate(
                catalog, service=service, slos=tuple(slos.values()), native_histograms=native
            )
            text = render(model)
        except ConfigError as exc:
            console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(EXIT_ERROR) from None
        except ImportError as exc:
            if exc.name is None or not exc.name.startswith("grafana_foundation_sdk"):
                raise
            console(stderr=True).print(f"[bold red]error:[/] {escape(SDK_HINT)}")
            raise typer.Exit(EXIT_ERROR) from None
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            console(stderr=True).print(f"wrote {escape(str(output))}")
