"""``otelkit version``: otelkit's version and the OpenTelemetry versions it runs with."""

from __future__ import annotations

import json
from importlib import metadata

import typer

from otelkit._version import __version__

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
    def version(
        output: str = typer.Option("text", "--output", "-o", help="text or json"),
    ) -> None:
        """Print otelkit's version and the OpenTelemetry versions installed beside it."""
        found = versions()
        if output == "json":
            typer.echo(json.dumps(found, indent=2))
        else:
            typer.echo("\n".join(f"{name} {value}" for name, value in found.items()))
