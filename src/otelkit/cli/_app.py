"""The typer application: each verb lives in its own module and registers itself here."""

from __future__ import annotations

import importlib

import typer

# One module per verb (or group of verbs); each defines ``register(app: typer.Typer) -> None``.
# A module listed here but not yet written is skipped, so verbs land one at a time.
VERB_MODULES = (
    "otelkit.cli._version",
    "otelkit.cli._config",
    "otelkit.cli._doctor",
    "otelkit.cli._metrics",
    "otelkit.cli._rules",
    "otelkit.cli._dashboard",
    "otelkit.cli._scrape",
    "otelkit.cli._health",
    "otelkit.cli._alerts",
    "otelkit.cli._run",
    "otelkit.cli._demo",
)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="otelkit",
        help="Production-grade OpenTelemetry for Python services: check, inspect, generate.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _group() -> None:
        """Production-grade OpenTelemetry for Python services: check, inspect, generate."""

    for name in VERB_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(app)
    return app
