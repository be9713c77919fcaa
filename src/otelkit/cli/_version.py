"""``otelkit version``: otelkit's version and the OpenTelemetry versions it runs with."""

from __future__ import annotations

from importlib import metadata

import typer

from otelkit._version import __version__
from otelkit.cli._output import OUTPUT, Output, print_json

DISTRIBUTIONS = ("opentelemetry-api", "opentelemetry-sdk", "opentelemetry-semantic-conventions")


def versions() -> dict[str, str]:
    found = {"otelkit": __version__}
    for name in DISTRIBUTIONS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def register(app: typer.Typer) -> None:
    @app.command()
    def version(output: Output = OUTPUT) -> None:
        """Print otelkit's version and the OpenTelemetry versions installed beside it."""
        found = versions()
        if output is Output.json:
            print_json(found)
        else:
            typer.echo("\n".join(f"{name} {value}" for name, value in found.items()))
