"""``otelkit run [--] COMMAND ARGS...``: the command, with otelkit configured inside it.

Like ``opentelemetry-instrument``: the configuration is checked here first (a ``ConfigError``
stops before anything starts), then ``otelkit/cli/_bootstrap`` goes first on ``PYTHONPATH`` and
this process becomes the command (``exec``: same pid, its signals and exit code). Every Python
process the command starts imports that directory's ``sitecustomize``, which configures otelkit
with automatic instrumentation (``_autostart``).

Exit codes: the command's own; 2 for a configuration error; 127 when COMMAND is not found, 126
when it cannot be executed.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path

import typer

from otelkit.cli._autostart import SERVER_VARIABLE
from otelkit.cli._secrets import error_text, register_environment, register_settings

BOOTSTRAP = str(Path(__file__).resolve().parent / "_bootstrap")

# Servers whose serving processes are not the one started (see ``_autostart``).
DEFERRING_SERVERS = ("uvicorn", "flask")


def server_of(command: list[str]) -> str:
    """The server a command runs (``uvicorn``, ``flask``), as a path or as ``python -m``."""
    name = Path(command[0]).name
    if name.startswith("python") and len(command) > 2 and command[1] == "-m":
        name = command[2]
    return name if name in DEFERRING_SERVERS else ""


def environment_for(command: list[str], environ: dict[str, str]) -> dict[str, str]:
    """The command's environment: the bootstrap first on ``PYTHONPATH``, the server named."""
    env = dict(environ)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != BOOTSTRAP]
    env["PYTHONPATH"] = os.pathsep.join([BOOTSTRAP, *paths])
    env[SERVER_VARIABLE] = server_of(command)
    return env


def check_configuration(environ: dict[str, str]) -> str | None:
    """The configuration error ``init_telemetry()`` would raise in the command, if any, as it
    can be printed: the configuration's secrets (registered first) and URL credentials masked."""
    from otelkit import ConfigError
    from otelkit.runtime._load import instantiate, load_settings

    register_environment(environ)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the command's own start-up gives them
            loaded = load_settings({}, environ)
            register_settings(loaded.settings)
            instantiate(loaded)
    except ConfigError as exc:
        return error_text(exc)
    return None


def register(app: typer.Typer) -> None:
    @app.command(
        context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    )
    def run(
        command: list[str] = typer.Argument(  # noqa: B008 (typer's declaration style)
            ..., metavar="COMMAND", help="The program to run, then its arguments."
        ),
        service_name: str | None = typer.Option(
            None, "--service-name", "-s", help="Sets OTEL_SERVICE_NAME for the command."
        ),
    ) -> None:
        """Run COMMAND with otelkit configured inside it and automatic instrumentation.

        Example: otelkit run -- uvicorn shop:app --workers 4

        Configuration comes from the environment (OTEL_*, OTELKIT_*), as for init_telemetry().
        """
        if command and command[0] == "--":
            command = command[1:]
        if not command:
            typer.echo("otelkit run: name the command to run, e.g. otelkit run -- python app.py")
            raise typer.Exit(2)
        environ = dict(os.environ)
        if service_name:
            environ["OTEL_SERVICE_NAME"] = service_name
        problem = check_configuration(environ)
        if problem is not None:
            typer.echo(f"otelkit run: {problem}", err=True)
            raise typer.Exit(2)
        executable = shutil.which(command[0])
        if executable is None:
            typer.echo(f"otelkit run: {command[0]}: command not found", err=True)
            raise typer.Exit(127)
        sys.stdout.flush()
        try:
            os.execve(executable, command, environment_for(command, environ))
        except OSError as exc:
            typer.echo(f"otelkit run: cannot execute {executable}: {exc.strerror}", err=True)
            raise typer.Exit(126) from None
