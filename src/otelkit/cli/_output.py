"""What every verb prints through: the ``--output`` option, rich tables, JSON, masking.

A verb builds plain data (dicts and lists) once; ``text`` renders it as rich tables for people,
``json`` prints the same data for scripts. Secrets are masked before either sees them, so no
output mode can leak them: the value of a setting declared ``secret`` is ``***`` (``MASK``);
URLs and every message (an exception's text included) go through ``config._redact``'s
``redact_url``/``redact_text``, the redaction of otelkit's logs and start-up line, which shows
credentials as ``REDACTED`` and knows the configuration's secrets (``_secrets``).
"""

from __future__ import annotations

import enum
import json
import shutil
import sys
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "MASK",
    "OUTPUT",
    "Output",
    "console",
    "escape",
    "output_option",
    "print_json",
    "styled",
    "table",
]

MASK = "***"
"""How the settings table shows the value of a setting declared ``secret`` (a token, a header
value, a password): as ``Secret`` and ``ConfigError`` show it. Everything else that may hold a
credential (URLs, messages) goes through ``config._redact`` (``REDACTED``), as in otelkit's logs."""


class Output(str, enum.Enum):
    """The ``--output`` formats (a ``str``: ``output == "json"`` reads naturally)."""

    text = "text"
    json = "json"


def output_option() -> Any:
    """``--output text|json`` (``-o``): the same data, as tables or as one JSON document."""
    return typer.Option(
        Output.text,
        "--output",
        "-o",
        case_sensitive=False,
        help="text (tables) or json (one document on stdout).",
    )


def console(stderr: bool = False) -> Console:
    """A rich console as wide as the terminal, or 120 columns when output is piped."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else shutil.get_terminal_size((120, 24)).columns
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    """A rich table whose cells wrap rather than being cut (a URL stays readable)."""
    grid = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(cell if isinstance(cell, Text) else _plain(cell) for cell in row))
    return grid


def _plain(cell: object) -> Text:
    """A cell shown as it is: ``[system]`` in a message is text, not a rich style."""
    return Text("" if cell is None else str(cell))


def styled(text: str, style: str) -> Text:
    """A table cell with a style (a status in colour)."""
    return Text(text, style=style)


def print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str, allow_nan=False))


OUTPUT = output_option()
"""The ``--output`` option, for a verb's signature (``output: Output = OUTPUT``)."""
