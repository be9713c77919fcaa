"""``otelkit metrics``: the metric catalog, every metric otelkit can emit (or an app's).

With ``--app module:attr`` the application is imported first, so its business metrics are
listed and only the integrations it uses are shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.text import Text

from otelkit._errors import ConfigError
from otelkit.cli._output import OUTPUT, Output, console, print_json, table
from otelkit.ops.catalog import load_catalog

if TYPE_CHECKING:
    from otelkit.ops.catalog import Catalog, MetricSpec

__all__ = ["EXIT_APP_ERROR", "catalog_data", "register"]

EXIT_APP_ERROR = 2


def catalog_data(catalog: Catalog) -> dict[str, object]:
    """The catalog as plain data: its integrations in order, and every metric."""
    return {
        "integrations": list(catalog.ordered_integrations()),
        "metrics": [spec.as_dict() for spec in catalog.metrics],
    }


def _attributes(spec: MetricSpec) -> str:
    names = [a.name if a.status == "stable" else f"{a.name} ({a.status})" for a in spec.attributes]
    if spec.open_attributes:
        names.append("(others, per call)")
    return "\n".join(names)


def _print_text(catalog: Catalog) -> None:
    out = console()
    for integration in catalog.ordered_integrations():
        rows = (
            (
                spec.name,
                spec.instrument + ("\n(opt-in)" if spec.opt_in else ""),
                spec.unit,
                _attributes(spec),
                spec.prometheus_family,
            )
            for spec in catalog.by_integration(integration)
        )
        out.print(
            table(integration, ("metric", "instrument", "unit", "attributes", "Prometheus"), rows)
        )
    out.print(f"{len(catalog.metrics)} metrics in {len(catalog.integrations())} integrations.")


def register(app: typer.Typer) -> None:
    @app.command()
    def metrics(
        app_target: str | None = typer.Option(
            None,
            "--app",
            metavar="MODULE[:ATTR]",
            help="Import this application first: its business metrics, only its integrations.",
        ),
        output: Output = OUTPUT,
    ) -> None:
        """List every metric otelkit can emit: name, instrument, unit, attributes, Prometheus
        name."""
        try:
            catalog = load_catalog(app_target)
        except Exception as exc:
            if app_target is None:
                raise
            message = (
                str(exc)
                if isinstance(exc, ConfigError)
                else f"--app {app_target!r}: importing it raised {type(exc).__name__}: {exc}"
            )
            if output is Output.json:
                print_json({"error": message})
            else:
                console(stderr=True).print(Text.assemble(("error: ", "bold red"), message))
            raise typer.Exit(EXIT_APP_ERROR) from None
        if output is Output.json:
            print_json(catalog_data(catalog))
        else:
            _print_text(catalog)
