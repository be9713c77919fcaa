"""ASGI middleware: HTTP server metrics and spans for Starlette, FastAPI and any ASGI app.

A plain ASGI class (no ``BaseHTTPMiddleware``: streaming and contextvars stay intact). The clock
stops when the last body chunk is sent, so background tasks that run afterwards are not counted;
WebSocket and lifespan scopes pass straight through; the app's exceptions propagate unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otelkit._errors import guarded
from otelkit.health._mark import ENDPOINT_KEY
from otelkit.instrumentation._error_type import error_type
from otelkit.instrumentation.http._common import (
    CLIENT_CLOSED_STATUS,
    INCOMPLETE_RESPONSE,
    Exchange,
    HttpRecorder,
    current_recorder,
    header_lookup,
    propagation_lookup,
)
from otelkit.instrumentation.http._mounts import Endpoints, endpoints_of

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    Scope = MutableMapping[str, Any]
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]
    ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ROUTE_KEY = "otelkit.route"
"""A bare ASGI app (no Starlette routing) may put its route template in the scope under this."""

# FastAPI >= 0.142 records its own HTTP telemetry unless this key is in the scope; otelkit
# measures the request, so mounted FastAPI sub-apps must stay quiet (see docs/architecture.md).
_FASTAPI_TELEMETRY_KEY = "fastapi.telemetry"
_ATTEMPTS = 16


class OtelkitMiddleware:
    """Measures every HTTP request of the wrapped ASGI app."""

    def __init__(self, app: ASGIApp, *, spans: bool | None = None) -> None:
        self.app = app
        self._spans = spans
        self._recorder: HttpRecorder | None = None
        self._routes: dict[int, str] = {}
        # otelkit's endpoints in the app's routes (``_mounts``), None until the app is known;
        # ``_prefixes``: the paths they start with, () when there are none, None until known.
        self._endpoints: Endpoints | None = None
        self._prefixes: tuple[str, ...] | None = None
        self._unknown = 0  # requests answered while the routes could not be found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        prefixes = self._prefixes
        if prefixes is None:
            prefixes = self._find_endpoints(scope)
        if prefixes and scope["path"].startswith(prefixes) and self._otelkit_endpoint(scope):
            await self.app(scope, receive, send)  # a scrape or a probe: not app traffic
            return
        exchange = self._begin(scope)
        if exchange is None:
            await self.app(scope, receive, send)
            return
        root_app = scope.get("app")
        disconnected = False

        async def receive_wrapper() -> Message:
            nonlocal disconnected
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected = True
            return message

        async def send_wrapper(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                exchange.status = message["status"]
            elif kind == "http.response.body":
                exchange.response_size += len(message.get("body", b""))
            await send(message)
            if kind == "http.response.body" and not message.get("more_body", False):
                self._end(exchange, scope, root_app, None)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except BaseException as exc:
            if disconnected:
                exchange.status = CLIENT_CLOSED_STATUS
                self._end(exchange, scope, root_app, None)
            else:
                exchange.status = exchange.status or 500
                self._end(exchange, scope, root_app, error_type(exc))
            raise
        finally:
            if not exchange.finished:
                if disconnected:
                    exchange.status = CLIENT_CLOSED_STATUS
                    self._end(exchange, scope, root_app, None)
                else:
                    exchange.status = exchange.status or 500
                    self._end(exchange, scope, root_app, INCOMPLETE_RESPONSE)
            exchange.detach_context()

    @guarded("asgi", ())
    def _find_endpoints(self, scope: Scope) -> tuple[str, ...]:
        """Before the app runs: read the routes of the app, the wrapped app's when it has
        some (the middleware wraps it from outside, maybe with middlewares between, which
        keep the next app as ``.app``), else Starlette's ``scope["app"]`` (the middleware
        runs inside it); the prefixes get this request's ``root_path``. Neither known yet:
        nothing is remembered, and ``_end`` reads what Starlette left in the scope."""
        endpoints = self._endpoints
        if endpoints is None:
            endpoints = _wrapped_endpoints(self.app) or endpoints_of(scope.get("app"))
            if endpoints is None:
                return ()
            self._endpoints = endpoints
        self._prefixes = endpoints.prefixes(scope.get("root_path") or "")
        return self._prefixes

    @guarded("asgi", False)
    def _otelkit_endpoint(self, scope: Scope) -> bool:
        """A request for an otelkit endpoint found in this app's routes: never measured.

        A bare mount path that nothing else answers gets the trailing slash that Starlette's
        ``Mount`` matches, so the router answers it instead of redirecting (see ``_mounts``)."""
        path: str = scope["path"]
        root_path: str = scope.get("root_path") or ""
        below_root = root_path and path.startswith(root_path)
        endpoints = self._endpoints
        if endpoints is None:
            return False
        ours, slash = endpoints.lookup(path[len(root_path) :] if below_root else path)
        if slash:
            scope["path"] = path + "/"
            raw_path = scope.get("raw_path")
            if isinstance(raw_path, bytes):
                scope["raw_path"] = raw_path + b"/"
        return ours

    @guarded("asgi", None)
    def _begin(self, scope: Scope) -> Exchange | None:
        recorder = self._recorder = current_recorder(self._recorder, self._spans)
        if recorder is None or recorder.excluded(scope["path"]):
            return None
        scope[_FASTAPI_TELEMETRY_KEY] = None
        headers = scope.get("headers") or ()
        exchange = Exchange(
            recorder,
            scope.get("method", "GET"),
            scope.get("scheme") or "http",
            scope.get("http_version"),
            scope["path"],
            propagation_lookup(headers) if recorder.spans is not None else None,
            scope.get("server"),
        )
        if recorder.request_size is not None:
            length = header_lookup(headers)("content-length")
            exchange.request_size = int(length) if length and length.isdigit() else None
        return exchange

    @guarded("asgi", None)
    def _end(self, exchange: Exchange, scope: Scope, root_app: object, error: str | None) -> None:
        if exchange.finished:
            return
        if self._endpoints is None:
            self._found_after(scope)
        if scope.get(ENDPOINT_KEY):  # an otelkit endpoint the routes did not show answered
            exchange.discard(self._route(scope, root_app), error)
        else:
            exchange.finish(self._route(scope, root_app), error)

    def _found_after(self, scope: Scope) -> None:
        """Starlette put itself in the scope: its routes, for the next requests. Not when a
        ``Mount`` matched (``app_root_path`` set): the app there may be a mounted sub-app.
        After a few requests with nothing to read, there is nothing to find."""
        self._unknown += 1
        found = None if "app_root_path" in scope else endpoints_of(scope.get("app"))
        if found is not None or self._unknown >= _ATTEMPTS:
            self._endpoints = found or Endpoints()

    def _route(self, scope: Scope, root_app: object) -> str | None:
        """The route template: Starlette's matched route, prefixed by the mounts above it."""
        explicit = scope.get(ROUTE_KEY)
        if isinstance(explicit, str):
            return explicit
        route = scope.get("route")
        if route is None:
            return None
        template = self._routes.get(id(route))
        if template is None:
            template = _template(route, root_app)
            if len(self._routes) < 10_000:  # routes are finite; never let this grow unbounded
                self._routes[id(route)] = template
        return template


def _wrapped_endpoints(app: object) -> Endpoints | None:
    """The endpoints of the first app down the ``.app`` chain with a routing table."""
    for _ in range(_ATTEMPTS):
        found = endpoints_of(app)
        if found is not None:
            return found
        app = getattr(app, "app", None)
        if app is None:
            break
    return None


def _path_of(route: Any) -> str:
    """A route's path without converters (``/items/{item_id:int}`` → ``/items/{item_id}``).

    For a ``Mount`` this ends in ``/{path}``: a mounted app without routes of its own.
    """
    path = getattr(route, "path_format", None) or getattr(route, "path", "") or ""
    return str(path)


def _template(route: Any, root_app: object) -> str:
    found = _find(getattr(root_app, "routes", None) or (), route, "")
    return found if found is not None else _path_of(route)


def _find(routes: Any, target: Any, prefix: str) -> str | None:
    """Depth-first search for ``target`` below ``routes``, joining the mount prefixes."""
    for route in routes:
        if route is target:
            return prefix + _path_of(route)
        children = getattr(route, "routes", None)
        if children:
            mount_prefix = _path_of(route).removesuffix("/{path}")
            found = _find(children, target, prefix + mount_prefix)
            if found is not None:
                return found
    return None
