"""The ``otelkit`` command: one module per verb, assembled in ``_app``.

typer and rich come with the ``cli`` extra; without them the command says what to install
instead of failing with an ImportError.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the ``otelkit`` command; returns its exit code (see ``docs/cli.md``)."""
    try:
        from otelkit.cli._app import build_app
    except ImportError as exc:  # the cli extra is missing
        print(
            f"otelkit: the command line needs the cli extra ({exc.name} is not installed):\n"
            "    pip install 'otelkit[cli]'",
            file=sys.stderr,
        )
        return 2
    app = build_app()
    try:
        app(args=argv, prog_name="otelkit", standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
