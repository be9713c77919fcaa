"""``/status`` and ``/status.json`` over HTTP: two response functions, three transports.

``page_response()`` and ``json_response()`` decide status, headers and body; the metrics
listener (through its route seam, ``exporters.prometheus._routes``, wired by the runtime),
``status_app()`` (ASGI) and ``status_wsgi()`` (WSGI) only move bytes. The rules are
``metrics_app()``'s: the configuration active at request time, the same bearer token
(``OTELKIT_PROMETHEUS_TOKEN``) for the figures, 503 without the prometheus exporter. The page
itself holds no data and needs no token: it asks for the token when ``status.json`` answers 401.
"""

from __future__ import annotations

import asyncio
import http
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from otelkit._errors import ConfigError, record_internal_error
from otelkit.exporters.prometheus import _endpoint, _routes
from otelkit.health._mark import ENDPOINT_ATTRIBUTE, ENDPOINT_KEY
from otelkit.status import _page

__all__ = ["JSON_PATH", "PAGE_PATH", "json_response", "page_response", "status_app", "status_wsgi"]

PAGE_PATH = "/status"
JSON_PATH = "/status.json"

Response = tuple[int, list[tuple[str, str]], bytes]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_COMMON = [
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
]


def _json(status: int, payload: object) -> Response:
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    headers = [("Content-Type", "application/json"), *_COMMON, ("Content-Length", str(len(body)))]
    return status, headers, body


def page_response(json_url: str = JSON_PATH) -> Response:
    """The page, reading its figures from ``json_url``."""
    body, policy = _page.page(json_url)
    headers = [
        ("Content-Type", "text/html; charset=utf-8"),
        *_COMMON,
        ("Content-Security-Policy", policy),
        ("Content-Length", str(len(body))),
    ]
    return 200, headers, body


def json_response(exposition: Any) -> Response:
    """The figures of ``exposition`` (the prometheus plugin's reader), token already checked."""
    if exposition is None:
        return _json(
            503,
            {
                "error": "no prometheus exporter is configured (OTEL_METRICS_EXPORTER does not "
                "include 'prometheus', or init_telemetry() has not run)"
            },
        )
    from otelkit.status import _document  # the figures' modules: on the first request only

    try:
        return _json(200, _document.document(exposition))
    except Exception as exc:
        record_internal_error("status", exc)
        return _json(500, {"error": "the status figures failed; see the otelkit log"})


def _unauthorized() -> Response:
    status, headers, body = _json(401, {"error": "unauthorized"})
    return status, [*headers, ("WWW-Authenticate", 'Bearer realm="metrics"')], body


def _figures(authorization: str | None) -> Response:
    exposition = _endpoint._current
    if exposition is not None and not _endpoint.authorized(exposition, authorization):
        return _unauthorized()
    return json_response(exposition)


def _route(relative: str, path: str, mounted: bool) -> str | None:
    """``"page"``, ``"json"`` or None for a path below the mount point (or of a wrapped app)."""
    if relative in (path, *(("", "/") if mounted else ())):
        return "page"
    if relative == path + ".json" or (mounted and relative == JSON_PATH):
        return "json"
    return None


def _json_url(prefix: str, relative: str, path: str) -> str:
    """Where the page served at ``relative`` finds its figures (an absolute path)."""
    return prefix.rstrip("/") + (path + ".json" if relative == path else JSON_PATH)


def _checked_path(function: str, path: object) -> str:
    if (
        not isinstance(path, str)
        or not path.startswith("/")
        or path.endswith("/")
        or any(c.isspace() for c in path)
    ):
        raise ConfigError(
            f"{function}(path={path!r}) is not valid. Accepted: a path starting with '/' and "
            "not ending with it, such as '/status'."
        )
    return path


def _relative(scope: Scope) -> tuple[str, str]:
    """The mount point (``root_path``) and the path below it."""
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) :][:1] in ("/", ""):
        return root, path[len(root) :]
    return root, path


class _StatusASGI:
    """The page and its figures over ASGI (a class, so that Starlette mounts it as an app)."""

    def __init__(self, app: ASGIApp | None, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if self.app is not None:
                await self.app(scope, receive, send)
            return
        root, relative = _relative(scope)
        route = _route(relative, self.path, self.app is None)
        if route is None and self.app is not None:
            await self.app(scope, receive, send)
            return
        scope[ENDPOINT_KEY] = "status"
        if route == "page":
            response = page_response(_json_url(root, relative, self.path))
        elif route == "json":
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            # Reading the figures collects metrics and may run health checks: not on the loop.
            response = await asyncio.to_thread(_figures, headers.get("authorization"))
        else:
            response = _json(404, {"error": "not found; the page is at the mount point"})
        status, response_headers, body = response
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in response_headers],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _StatusWSGI:
    """The page and its figures over WSGI (see ``_StatusASGI``)."""

    def __init__(self, app: WSGIApp | None, path: str) -> None:
        self.app = app
        self.path = path

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        relative = environ.get("PATH_INFO") or ""
        route = _route(relative, self.path, self.app is None)
        if route is None and self.app is not None:
            return self.app(environ, start_response)
        environ[ENDPOINT_KEY] = "status"
        if route == "page":
            response = page_response(_json_url(environ.get("SCRIPT_NAME", ""), relative, self.path))
        elif route == "json":
            response = _figures(environ.get("HTTP_AUTHORIZATION"))
        else:
            response = _json(404, {"error": "not found; the page is at the mount point"})
        status, headers, body = response
        start_response(f"{status} {http.HTTPStatus(status).phrase}", headers)
        return [body]


setattr(_StatusASGI, ENDPOINT_ATTRIBUTE, "status")
setattr(_StatusWSGI, ENDPOINT_ATTRIBUTE, "status")


def status_app(app: ASGIApp | None = None, *, path: str = PAGE_PATH) -> ASGIApp:
    """The status page as an ASGI app, to mount at any path of the user's app.

    Mounted (``app.mount("/ops", otelkit.status_app())``) it serves the page at the mount point
    (and at ``/ops/status``) and its figures at ``/ops/status.json``. Given an ``app``, it wraps
    it instead: ``path`` and ``path + ".json"`` are answered here, every other request goes to
    ``app``. The rules are ``metrics_app()``'s: the figures need the Prometheus token when one
    is set, and answer 503 before ``init_telemetry()`` or without the prometheus exporter.
    """
    return _StatusASGI(app, _checked_path("status_app", path))


def status_wsgi(app: WSGIApp | None = None, *, path: str = PAGE_PATH) -> WSGIApp:
    """The status page as a WSGI app (Flask, Django, any WSGI server); see ``status_app()``.

    Mount it with werkzeug's ``DispatcherMiddleware``, or wrap a whole WSGI application.
    """
    return _StatusWSGI(app, _checked_path("status_wsgi", path))


def install() -> None:
    """Serve the page and its figures on the metrics listener (the runtime calls this)."""
    _routes.add_route(PAGE_PATH, lambda _exposition: page_response(JSON_PATH), protected=False)
    _routes.add_route(JSON_PATH, json_response)
