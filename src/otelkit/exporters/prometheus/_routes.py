"""Extra pages of the metrics listener, registered from above (the status page).

The listener lives in ``exporters``, which may not import the features layered above it; a
feature that wants a path on the metrics port registers a responder here instead (the runtime
does it for ``/status``). The listener asks ``find()`` for any path it does not serve itself.
A route is ``protected`` by default: the listener checks the bearer token before calling the
responder, so a registered page is exactly as protected as ``/metrics``. An unprotected route
must serve nothing but static content.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["Responder", "Route", "add_route", "find", "remove_route"]

Response = tuple[int, list[tuple[str, str]], bytes]
Responder = Callable[[Any], Response]
"""Called with the listener's exposition (the Prometheus reader); returns the response."""


class Route(NamedTuple):
    responder: Responder
    protected: bool


_routes: dict[str, Route] = {}
_lock = threading.Lock()


def add_route(path: str, responder: Responder, *, protected: bool = True) -> None:
    """Serve ``path`` on the metrics listener with ``responder`` (replacing an earlier one)."""
    with _lock:
        _routes[path] = Route(responder, protected)


def remove_route(path: str) -> None:
    with _lock:
        _routes.pop(path, None)


def find(path: str) -> Route | None:
    """The route registered for ``path``, if any (a dict lookup: no lock needed)."""
    return _routes.get(path)
