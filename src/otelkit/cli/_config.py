"""``otelkit config``: the effective settings table, each value with its source, secrets masked.

The same loading as ``init_telemetry()`` in this environment: a bad value exits with status 2
and the ``ConfigError`` message naming the variable; a warning (an unknown ``OTELKIT_*``
variable) is shown beside the table.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

import typer

from otelkit._errors import ConfigError
from otelkit.cli import _effective
from otelkit.cli._output import OUTPUT, Output, console, escape, print_json, table
from otelkit.cli._secrets import error_text, register_environment, register_settings
from otelkit.config._environ import UnknownVariableWarning
from otelkit.config._redact import redact_text

if TYPE_CHECKING:
    from otelkit.cli._effective import EffectiveValue
    from otelkit.exporters._plugin import ExporterPlugin
    from otelkit.runtime._load import Loaded

__all__ = ["EXIT_CONFIG_ERROR", "load_with_warnings", "register"]

EXIT_CONFIG_ERROR = 2


def load_with_warnings(
    *, variables: bool = True
) -> tuple[Loaded, dict[str, ExporterPlugin], list[str]]:
    """Load and validate the configuration of this environment (settings, chosen plugins);
    the loader's warnings are returned (redacted), not printed; ``variables=False`` leaves out
    those about unknown variables (doctor reports them itself). The configuration's secrets are
    registered first, so nothing printed afterwards can show them."""
    register_environment(os.environ)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded, plugins = _effective.load(os.environ)
    register_settings(loaded.settings)
    return (
        loaded,
        plugins,
        [
            redact_text(str(w.message))
            for w in caught
            if variables or not issubclass(w.category, UnknownVariableWarning)
        ],
    )


def settings_table(rows: list[EffectiveValue]) -> object:
    """The settings that have a value; the unset ones are counted in the caption."""
    shown = [r for r in rows if r.value not in (None, [], {}) or r.source != "default"]
    unset = len(rows) - len(shown)
    grid: Any = table(
        "Effective configuration",
        ("setting", "value", "source", "read by"),
        ((r.name, _effective.rendered(r.value), r.source, r.owner) for r in shown),
    )
    if unset:
        grid.caption = f"{unset} settings unset or empty by default (--output json lists them)"
    return grid


def register(app: typer.Typer) -> None:
    @app.command()
    def config(output: Output = OUTPUT) -> None:
        """Show every effective setting and where it comes from (variable or default)."""
        try:
            loaded, _, warned = load_with_warnings()
        except ConfigError as exc:
            message = error_text(exc)
            if output is Output.json:
                print_json({"error": message})
            else:
                console(stderr=True).print(f"[bold red]configuration error:[/] {escape(message)}")
            raise typer.Exit(EXIT_CONFIG_ERROR) from None
        rows = _effective.effective_values(loaded, os.environ)
        if output is Output.json:
            print_json({"settings": [r.as_dict() for r in rows], "warnings": warned})
            return
        out = console()
        out.print(settings_table(rows))
        for message in warned:
            console(stderr=True).print(f"[yellow]warning:[/] {escape(message)}")
