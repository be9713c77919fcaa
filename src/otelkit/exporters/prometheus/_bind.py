"""Where the ``/metrics`` listener binds, so that development process models work as they are.

Two rules, decided once at ``init_telemetry()``:

* A reloader's watching process never binds. ``flask run --debug`` and Django's ``runserver``
  load the application in a parent that only watches files and restarts a child that serves;
  the child gets the port. (``uvicorn --reload`` never loads the app in its parent.)
* A taken port moves on in development. With the default port (no keyword, no
  ``OTEL_EXPORTER_PROMETHEUS_PORT``) outside production, a second process on the machine (a
  Celery worker beside its web app, a script beside a server, the child of
  ``app.run(debug=True)``) serves on the next free port and says where in a WARNING. Processes of
  one pre-fork server still share one port (``SO_REUSEPORT``): they try the same ports in the
  same order. In production and staging, or with the port set explicitly, a taken port is a
  ``ConfigError``.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from typing import TYPE_CHECKING

from otelkit._errors import ConfigError
from otelkit.exporters.prometheus._endpoint import Listener

if TYPE_CHECKING:
    from otelkit.exporters.prometheus._endpoint import Exposition

logger = logging.getLogger("otelkit")

FALLBACK_PORTS = 15
"""How many ports after the default one a development process tries before an ephemeral one."""


def reloader_parent() -> str | None:
    """The reloader whose watching process this is (it never serves), or None.

    Read when ``init_telemetry()`` runs: inside ``flask run`` the click context of the command
    is active while the app loads; Django's ``runserver`` is named on the command line.
    """
    if os.environ.get("WERKZEUG_RUN_MAIN") != "true" and _flask_run_reloads():
        return "flask run --reload"
    if os.environ.get("RUN_MAIN") != "true" and _django_runserver_reloads():
        return "Django runserver"
    return None


def _flask_run_reloads() -> bool:
    cli = sys.modules.get("flask.cli")
    click = sys.modules.get("click")
    if cli is None or click is None:
        return False
    context = click.get_current_context(silent=True)
    if context is None or context.command is not getattr(cli, "run_command", None):
        return False
    reload = context.params.get("reload")
    if reload is None:  # flask run's default: reload when debugging
        from flask.helpers import get_debug_flag

        return bool(get_debug_flag())
    return bool(reload)


def _django_runserver_reloads() -> bool:
    if "django" not in sys.modules:
        return False
    arguments = sys.argv[1:]
    return bool(arguments) and arguments[0] == "runserver" and "--noreload" not in arguments


def listen(
    host: str,
    port: int,
    exposition: Exposition,
    sources: tuple[str, str],
    *,
    reuse_port: bool,
    movable: bool,
) -> Listener:
    """The listener on ``port``, or, when ``movable`` and it is taken, on the next free one.

    Raises ``ConfigError`` when the port is taken and not movable, or when no port is free.
    """
    try:
        return Listener(host, port, exposition, sources, reuse_port=reuse_port)
    except ConfigError as exc:
        if not (movable and _address_in_use(exc)):
            raise
        taken = exc
    candidates = [p for p in range(port + 1, port + 1 + FALLBACK_PORTS) if p <= 65535]
    for candidate in [*candidates, 0]:
        try:
            listener = Listener(host, candidate, exposition, sources, reuse_port=reuse_port)
        except ConfigError as exc:
            if _address_in_use(exc):
                continue
            raise
        logger.warning(
            "otelkit: %s:%d is already in use (another process on this machine); this "
            "process (pid %d) serves its metrics at http://%s/metrics instead. Set %s to "
            "choose the port.",
            host,
            port,
            os.getpid(),
            _authority(str(listener.host), listener.port),
            sources[1],
        )
        return listener
    raise taken  # pragma: no cover - every port, the ephemeral one included, was taken


def _address_in_use(error: ConfigError) -> bool:
    """Whether the listener's ConfigError came from EADDRINUSE (the OSError is its context)."""
    cause = error.__cause__ or error.__context__
    return isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
