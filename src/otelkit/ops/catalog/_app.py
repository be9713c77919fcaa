"""The catalog of one application: import it, then see which integrations it uses.

``--app module:attr`` (or ``module``) is imported the way uvicorn and gunicorn import an
application, with the current directory first on ``sys.path``; its decorators declare its
business metrics as it loads. Which integrations it uses:

- an integration whose library the application imports (itself or through another of its
  dependencies; otelkit's automatic instrumentation importing a library does not count):
  FastAPI, Starlette, Flask or Django → ``http``, SQLAlchemy → ``db``, Celery → ``celery``,
  httpx, requests, urllib3 or aiohttp → ``http_client``;
  ``system`` and ``process`` when psutil is installed; ``health`` and ``otelkit`` always;
- narrowed to what its configuration switches on (``OTELKIT_INSTRUMENT``,
  ``OTELKIT_SYSTEM_METRICS``): the configuration the import started with ``init_telemetry()``,
  else the one the environment gives; ``alerting`` when that configuration turns in-process
  alerting on. An app passed to ``instrument_app()``, an engine instrumented during the import
  and ``instrument_celery()`` keep their integration whatever the configuration says.

The imports are watched at ``builtins.__import__`` while the application loads (what an
``import`` statement calls); one with otelkit's code on the way to it is otelkit's doing, not
the application's. A module imported before (in the same process) has nothing left to watch:
then what is loaded counts.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import os
import sys
import threading
from typing import TYPE_CHECKING, NamedTuple

from otelkit import _active
from otelkit._errors import ConfigError
from otelkit.config._settings import load_core
from otelkit.instrumentation.celery._install import instrumented_explicitly
from otelkit.instrumentation.sqlalchemy._engine import TARGETS

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import FrameType, ModuleType


__all__ = [
    "ALWAYS",
    "LIBRARIES",
    "AppImport",
    "Switches",
    "import_app",
    "integrations_of",
    "used_integrations",
]

LIBRARIES: dict[str, tuple[str, ...]] = {
    "http": ("fastapi", "starlette", "flask", "django"),
    "db": ("sqlalchemy",),
    "celery": ("celery",),
    "http_client": ("httpx", "requests", "urllib3", "aiohttp"),
}
"""Integration → the libraries whose import by the application means it is used."""
ALWAYS = frozenset({"health", "otelkit"})
_SWITCHES: dict[str, tuple[str, ...]] = {
    "http": ("asgi", "wsgi"),
    "db": ("sqlalchemy",),
    "celery": ("celery",),
    "system": ("system",),
    "process": ("system",),
    "http_client": ("httpx", "requests", "urllib3", "aiohttp"),
}
"""Integration → the ``OTELKIT_INSTRUMENT`` names that switch it on."""
_WATCHED = frozenset(name for names in LIBRARIES.values() for name in names)
_watch_lock = threading.RLock()


class AppImport:
    """What importing the application gave: the target object and the libraries it imported."""

    __slots__ = ("libraries", "target")

    def __init__(self, target: object, libraries: frozenset[str]) -> None:
        self.target = target
        self.libraries = libraries


class _ImportWatch:
    """Records the watched libraries that code other than otelkit imports, while active."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._original = builtins.__import__

    def _import(
        self,
        name: str,
        globals: Mapping[str, object] | None = None,
        locals: Mapping[str, object] | None = None,
        fromlist: Sequence[str] | None = (),
        level: int = 0,
    ) -> ModuleType:
        top = name.partition(".")[0]
        if level == 0 and top in _WATCHED and top not in self.seen and not _by_otelkit():
            self.seen.add(top)
        return self._original(name, globals, locals, fromlist, level)

    def __enter__(self) -> _ImportWatch:
        builtins.__import__ = self._import
        return self

    def __exit__(self, *exc: object) -> None:
        builtins.__import__ = self._original


def _by_otelkit() -> bool:
    """Whether otelkit's own code is on the way to this import, between the application and
    here: its automatic instrumentation imports every installed library to patch it (and those
    libraries' dependencies), which says nothing about what the application uses."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_code is _load.__code__:
            return False  # reached the application's import: only its own code was between
        module = frame.f_globals.get("__name__", "")
        if isinstance(module, str) and module.startswith("otelkit.") and module != __name__:
            return True
        frame = frame.f_back
    return False


def import_app(target: str) -> AppImport:
    """Import ``module:attr`` (or ``module``) with the current directory on ``sys.path``.
    A ConfigError names what could not be found; errors of the application's own propagate."""
    module_name, _, attribute = target.partition(":")
    if not module_name or (":" in target and not attribute):
        raise ConfigError(f"--app {target!r} is not valid. Accepted: 'module' or 'module:attr'.")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    fresh = module_name not in sys.modules
    with _watch_lock, _ImportWatch() as watch:
        module = _load(target, module_name, cwd)
    libraries = frozenset(watch.seen) if fresh else frozenset(_WATCHED & set(sys.modules))
    found: object = module
    for part in attribute.split(".") if attribute else ():
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ConfigError(f"--app {target!r}: {module_name} has no {attribute!r}.") from None
    return AppImport(found, libraries)


def _load(target: str, module_name: str, cwd: str) -> object:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not _names_part_of(exc.name, module_name):
            raise  # the application imports something that is missing: its own error
        raise ConfigError(
            f"--app {target!r}: no module {exc.name!r} (looked in {cwd} and sys.path)."
        ) from None
    except (ValueError, TypeError):  # an empty or relative module name
        raise ConfigError(
            f"--app {target!r} is not valid. Accepted: 'module' or 'module:attr', "
            "an absolute module path."
        ) from None


def _names_part_of(missing: str, module_name: str) -> bool:
    """Whether the missing module is ``module_name`` or one of its parent packages."""
    return module_name == missing or module_name.startswith(missing + ".")


class Switches(NamedTuple):
    """What a configuration switches on, as far as the catalog cares."""

    instrument: tuple[str, ...]
    system_metrics: bool
    alerts: bool


def switches() -> Switches:
    """Those of the configuration the application started, else those the environment gives
    (what ``init_telemetry()`` would start with here; a bad value is a ConfigError)."""
    telemetry = _active.current()
    if telemetry is not None:
        settings = telemetry.settings
        return Switches(settings.instrument, settings.system_metrics, settings.alerts)
    core = load_core({}, os.environ)
    return Switches(core["instrument"], core["system_metrics"], core["alerts"])


def used_integrations(imported: AppImport) -> frozenset[str]:
    """The integrations the imported application uses (see the module docstring): from the
    libraries it imported, the configuration it runs with, and what it instrumented."""
    explicit = set()
    if getattr(imported.target, "_otelkit_instrumented", False):
        explicit.add("http")
    if len(TARGETS):
        explicit.add("db")
    if instrumented_explicitly():
        explicit.add("celery")
    return integrations_of(
        imported.libraries,
        psutil=importlib.util.find_spec("psutil") is not None,
        switched=switches(),
        explicit=frozenset(explicit),
    )


def integrations_of(
    libraries: frozenset[str],
    *,
    psutil: bool,
    switched: Switches | None = None,
    explicit: frozenset[str] = frozenset(),
) -> frozenset[str]:
    """The rule itself: ``libraries`` the application imported, whether ``psutil`` is
    installed, what its configuration ``switched`` on (None: everything but alerting), and
    the integrations it instrumented ``explicit``-ly."""
    used = set(ALWAYS)
    for integration, names in LIBRARIES.items():
        if libraries & set(names):
            used.add(integration)
    if psutil:
        used.update(("system", "process"))
    if switched is not None:
        used = {i for i in used if _switched_on(switched, i)}
        if switched.alerts:
            used.add("alerting")
    return frozenset(used | explicit)


def _switched_on(switched: Switches, integration: str) -> bool:
    if integration in ("system", "process") and not switched.system_metrics:
        return False
    names = _SWITCHES.get(integration)
    if names is None:
        return True
    return switched.instrument == ("auto",) or any(n in switched.instrument for n in names)
