"""Where otelkit's own endpoints are in a Starlette/FastAPI app, known before a request runs.

Two marks tell the HTTP middlewares that a request is a scrape or a probe, not app traffic:

- ``ENDPOINT_KEY`` (``health._mark``), which the endpoint that answers sets in the scope or
  environ. It works with any router, WSGI, a wrapping app, but only once the app has run: by
  then the server span was started and was the current span while the endpoint ran, so the
  spans made meanwhile (an inner middleware's, a scrape's gauge callback querying a database)
  are its children. The middleware ends that span as any other (dropping it would leave those
  children, already exported, without their parent), records no metrics, and excludes the
  path from then on (``HttpRecorder.learn``).
- The routes found here, from the app's routing table: otelkit endpoint apps mounted
  (``app.mount("/api/v1/metrics", otelkit.metrics_app())``) or added as routes, and the routes
  of ``health_router()`` under any prefix. Known before the app runs, so for these requests the
  middleware starts neither a clock nor a span, even the first time.

The routing table also serves the bare mount path: Starlette's ``Mount`` matches
``/api/v1/metrics/…`` only, and answers ``/api/v1/metrics`` itself with a 307 to the
trailing-slash form, which Prometheus follows at every scrape. The middleware adds the slash
(so the router answers, the user's inner middleware still runs), but only when nothing else in
the app would answer that path: ``resolve()`` follows the paths the way Starlette's routers
match them (first route whose pattern matches, into mounted sub-apps), so a user's route at
the mount path keeps it, and so does one below the mount path declared before the mount
(such paths are resolved at their first request). Methods and hosts are not looked at: a
route of the user's matching the path by pattern alone counts as the user's, which at worst
leaves the mark to the first mechanism. An endpoint mounted at the root (``app.mount("/",
otelkit.health_app())`` as a fallback) is left to the first mechanism too: every path is below
it, and checking each request would cost every request. The table is read once, when the app
is known (``scope["app"]`` inside Starlette, the wrapped app itself from outside, else what
Starlette left in the scope after the first request): a route added later is not seen.
"""

from __future__ import annotations

import enum
from typing import Any

from otelkit.health._mark import ENDPOINT_ATTRIBUTE

__all__ = ["Endpoints", "Found", "endpoints_of", "resolve"]

_MAX_DEPTH = 8
_MAX_REMEMBERED = 256


class Found(enum.Enum):
    """Who answers a path, by the routing table."""

    OTELKIT = "otelkit"
    USER = "user"
    NOTHING = "nothing"  # Starlette would redirect to the trailing slash (or answer 404)


class Endpoints:
    """otelkit's endpoints in one app: full paths, none ending in ``/``."""

    __slots__ = ("_below", "_routes", "bare", "exact", "mounts")

    def __init__(
        self,
        routes: list[Any] | None = None,
        mounts: tuple[str, ...] = (),
        exact: frozenset[str] = frozenset(),
        bare: frozenset[str] = frozenset(),
    ) -> None:
        self._routes = routes or []
        self.mounts = mounts
        """Mount paths of otelkit endpoint apps (not at the root: that would be every path)."""
        self.exact = exact
        """Paths of otelkit routes (``health_router()``, ``add_route(path, metrics_app())``)."""
        self.bare = bare
        """Mount paths that nothing answers without the trailing slash: the middleware adds it."""
        self._below: dict[str, bool] = {}

    def prefixes(self, root_path: str) -> tuple[str, ...]:
        """What a request path may start with to be one of these (a quick first test), with
        and without ``root_path`` (servers differ on whether ``path`` includes it)."""
        paths = (*self.mounts, *sorted(self.exact))
        return paths + tuple(root_path + p for p in paths) if root_path else paths

    def lookup(self, route_path: str) -> tuple[bool, bool]:
        """``(otelkit's, add the slash)`` for a path relative to the app's root.

        Below a mount path a route of the user's declared before the mount may answer, so
        such a path is resolved once, and remembered (these are scrape paths: few)."""
        if route_path in self.exact:
            return True, False
        if route_path in self.bare:
            return True, True
        for mount in self.mounts:
            if route_path.startswith(mount) and route_path[len(mount) : len(mount) + 1] == "/":
                known = self._below.get(route_path)
                if known is None:
                    known = resolve(self._routes, route_path) is Found.OTELKIT
                    if len(self._below) < _MAX_REMEMBERED:
                        self._below[route_path] = known
                return known, False
        return False, False


def endpoints_of(root_app: object) -> Endpoints | None:
    """otelkit's endpoints in ``root_app``'s routing table; None if it has none to read."""
    routes = getattr(root_app, "routes", None)
    if not isinstance(routes, list):
        return None
    mounts: list[str] = []
    exact: list[str] = []
    _collect(routes, "", mounts, exact, 0)
    mounts = [m for m in mounts if m and resolve(routes, m + "/") is Found.OTELKIT]
    return Endpoints(
        routes,
        mounts=tuple(mounts),
        exact=frozenset(p for p in exact if resolve(routes, p) is Found.OTELKIT),
        bare=frozenset(m for m in mounts if resolve(routes, m) is Found.NOTHING),
    )


def _flat(routes: list[Any]) -> list[tuple[Any, Any]]:
    """``(route, view)`` pairs: the route for its kind, the view for its path and endpoint.

    FastAPI (0.160 on) keeps an included router as one entry, with no path of its own;
    ``fastapi.routing.iter_route_contexts`` lists its routes with their full paths, in order.
    """
    if all(hasattr(route, "path") for route in routes):
        return [(route, route) for route in routes]
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return [(route, route) for route in routes]
    return [(context.original_route, context) for context in iter_route_contexts(routes)]


def _is(route: object, name: str) -> bool:
    return any(cls.__name__ == name for cls in type(route).__mro__)


def _otelkit(route: object) -> bool:
    for target in (getattr(route, "app", None), getattr(route, "endpoint", None)):
        if (
            target is not None
            and getattr(target, ENDPOINT_ATTRIBUTE, None)
            and getattr(target, "app", None) is None  # not wrapping an app of the user's
        ):
            return True
    return False


def _collect(
    routes: list[Any], prefix: str, mounts: list[str], exact: list[str], depth: int
) -> None:
    for route, view in _flat(routes):
        path = getattr(view, "path", None)
        if not isinstance(path, str) or _is(route, "WebSocketRoute"):
            continue
        if _otelkit(view):
            if _is(route, "Mount"):
                mounts.append(prefix + path.rstrip("/"))
            elif "{" not in path:
                exact.append(prefix + path)
            continue
        children = getattr(view, "routes", None)
        if children and depth < _MAX_DEPTH and _is(route, "Mount"):
            _collect(list(children), prefix + path.rstrip("/"), mounts, exact, depth + 1)


def resolve(routes: list[Any], path: str, depth: int = 0) -> Found:
    """Who answers ``path``: the first route whose pattern matches it, into mounted apps."""
    for route, view in _flat(routes):
        if _is(route, "WebSocketRoute"):
            continue  # never matches an HTTP request
        pattern = getattr(view, "path_regex", None)
        if pattern is None:
            return Found.USER  # a Host or a route of unknown kind: assume it may answer
        match = pattern.match(path)
        if match is None:
            continue
        if _otelkit(view):
            return Found.OTELKIT
        children = getattr(view, "routes", None)
        if not _is(route, "Mount"):
            return Found.USER
        if not children or depth >= _MAX_DEPTH:
            return Found.USER  # a mounted app with no routing table of its own answers all
        return resolve(list(children), "/" + match.group("path"), depth + 1)
    return Found.NOTHING
