"""ASGI middleware: HTTP server metrics and spans for Starlette, FastAPI and any ASGI app.

A plain ASGI class (no ``BaseHTTPMiddleware``: streaming and contextvars stay intact). The clock
stops when the last body chunk is sent, so background tasks that run afterwards are not counted;
WebSocket and lifespan scopes pass straight through; the app's exceptions propagate unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otelkit._errors import guarded
from otelkit.instrumentation._error_type import error_type
from otelkit.instrumentation.http._common import (
    CLIENT_CLOSED_STATUS,
    INCOMPLETE_RESPONSE,
    Exchange,
    HttpRecorder,
    current_recorder,
    header_lookup,
)

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


class OtelkitMiddleware:
    """Measures every HTTP request of the wrapped ASGI app."""

    def __init__(self, app: ASGIApp, *, spans: bool | None = None) -> None:
        self.app = app
        self._spans = spans
        self._recorder: HttpRecorder | None = None
        self._routes: dict[int, str] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
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
            header_lookup(headers) if recorder.spans is not None else None,
            scope.get("server"),
        )
        if recorder.request_size is not None:
            length = header_lookup(headers)("content-length")
            exchange.request_size = int(length) if length and length.isdigit() else None
        return exchange

    @guarded("asgi", None)
    def _end(self, exchange: Exchange, scope: Scope, root_app: object, error: str | None) -> None:
        if not exchange.finished:
            exchange.finish(self._route(scope, root_app), error)

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
