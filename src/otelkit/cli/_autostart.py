"""What ``otelkit run``'s ``sitecustomize`` does in each Python process of the command.

``init_telemetry()`` from the environment, with automatic instrumentation, at the moment that
gives each process model the right result:

* servers whose serving processes are not the one started (``uvicorn --reload`` and
  ``--workers`` spawn them; ``flask run --debug`` reloads into a child): right before the server
  loads the application, in the process that loads it. A reloader's watching process then
  knows what it is and leaves the metrics port to the child; spawned uvicorn workers share the
  port and add up like any pre-fork server's.
* everything else (gunicorn, ``celery worker``, ``python script.py``): at once, before the
  program's own code. A pre-fork master configured before it forks hands the configuration to
  its workers (``otelkit.runtime._fork``).

``otelkit run`` names the server in ``_OTELKIT_RUN_SERVER`` (inherited by every process it
starts).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.machinery
import importlib.util
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

SERVER_VARIABLE = "_OTELKIT_RUN_SERVER"
"""Internal (not an ``OTELKIT_*`` setting): the server ``otelkit run`` started, for its children."""

# The method each deferring server calls to load the application, in the process that serves.
_LOADERS = {
    "uvicorn": ("uvicorn.config", "Config", "load"),
    "flask": ("flask.cli", "ScriptInfo", "load_app"),
}


def start() -> None:
    """Configure now, or right before the server named in ``_OTELKIT_RUN_SERVER`` loads it."""
    loader = _LOADERS.get(os.environ.get(SERVER_VARIABLE, ""))
    if loader is None or not _defer(*loader):
        _configure_or_exit()


def _defer(module_name: str, class_name: str, method: str) -> bool:
    """Wrap the server's app-loading method so that otelkit is configured first."""
    try:
        owner = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        return False  # not that server after all (or another version): configure at once
    original = getattr(owner, method)

    @functools.wraps(original)
    def load_configured(self: Any, *args: Any, **kwargs: Any) -> Any:
        _configure()  # a ConfigError surfaces where the server reports a failed app load
        return original(self, *args, **kwargs)

    setattr(owner, method, load_configured)
    return True


def _configure() -> None:
    import otelkit
    from otelkit._active import current

    if current() is None:  # once per process (the loader may run again)
        with _start_up_shown():
            otelkit.init_telemetry()


@contextlib.contextmanager
def _start_up_shown() -> Iterator[None]:
    """Show otelkit's start-up records on stderr when nothing else would (logging is not
    configured yet when a program starts): a command run by hand says where its metrics are."""
    log = logging.getLogger("otelkit")
    if log.hasHandlers() and log.isEnabledFor(logging.INFO):
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level, propagate = log.level, log.propagate
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(handler)
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate


def _configure_or_exit() -> None:
    from otelkit import ConfigError

    try:
        _configure()
    except ConfigError as exc:
        sys.stderr.write(f"otelkit run: {exc}\n")
        sys.stderr.flush()
        os._exit(2)


def run_hidden_sitecustomize(ours: str) -> None:
    """Run the ``sitecustomize`` that ours hides further down the path, if there is one."""
    here = os.path.dirname(os.path.abspath(ours))
    path = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
