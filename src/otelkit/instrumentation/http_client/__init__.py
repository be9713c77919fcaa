"""Outgoing HTTP calls: httpx (sync and async), urllib3 (and requests through it), aiohttp.

Each call is one ``http.client.request.duration`` measurement and, when tracing is on, one
CLIENT span whose context goes out in the request's headers through the configured
propagator. One module per library wraps it (``_httpx``, ``_urllib3``, ``_aiohttp``); what they
share, the recording, is ``_record``, and the metric's declaration ``_metrics``.
``init_telemetry()`` installs the wrappers of the libraries that are present and
``shutdown()`` removes them (``runtime._integrations``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit._errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ["LIBRARIES", "available", "install", "uninstall"]

LIBRARIES = {"httpx": "httpx", "requests": "urllib3", "urllib3": "urllib3", "aiohttp": "aiohttp"}
"""The integration names ``OTELKIT_INSTRUMENT`` accepts, and the library each instruments
(requests through urllib3)."""


def _module(library: str) -> tuple[Callable[[], bool], Callable[[], bool], Callable[[], None]]:
    if library == "httpx":
        from otelkit.instrumentation.http_client import _httpx as module
    elif library == "urllib3":
        from otelkit.instrumentation.http_client import _urllib3 as module  # type: ignore[no-redef]
    else:
        from otelkit.instrumentation.http_client import _aiohttp as module  # type: ignore[no-redef]
    return module.available, module.install, module.uninstall


def available(name: str, *, required: bool = False) -> bool:
    """Whether the library behind integration ``name`` is installed; if not and ``required``,
    a ConfigError saying which package to install."""
    library = LIBRARIES[name]
    if _module(library)[0]():
        return True
    if required:
        raise ConfigError(
            f"OTELKIT_INSTRUMENT names {name!r}, but {library} is not installed "
            f"(pip install {library})"
        )
    return False


def install(names: Iterable[str]) -> Callable[[], None]:
    """Wrap the libraries behind the integrations ``names`` that are installed; returns what
    removes the wrappers again."""
    installed: list[Callable[[], None]] = []
    for library in dict.fromkeys(LIBRARIES[name] for name in names):
        _, install_library, uninstall_library = _module(library)
        if install_library():
            installed.append(uninstall_library)

    def uninstall_all() -> None:
        for step in reversed(installed):
            step()

    return uninstall_all


def uninstall() -> None:
    """Remove every wrapper this package installed."""
    for library in dict.fromkeys(LIBRARIES.values()):
        _module(library)[2]()
