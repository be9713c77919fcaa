"""``/healthz`` and ``/readyz`` over HTTP: one response function, several transports.

``liveness()`` and ``readiness()`` / ``areadiness()`` decide status, headers and body; the ASGI
app, the WSGI app, the FastAPI router, the Flask blueprint and the Prometheus plugin's listener
only move bytes. Every transport serves the process-wide registry of ``otelkit.health._registry``
at the paths of ``OTELKIT_HEALTH_LIVENESS_PATH`` / ``OTELKIT_HEALTH_READINESS_PATH``, and marks
the requests it answers so that the HTTP instrumentation leaves them out (``_mark``).
"""

from __future__ import annotations

import http
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from otelkit._errors import ConfigError, guarded
from otelkit.health._mark import ENDPOINT_ATTRIBUTE, ENDPOINT_KEY, health_paths
from otelkit.health._registry import HEALTH

if TYPE_CHECKING:
    from fastapi import APIRouter
    from flask import Blueprint

    from otelkit.health._report import HealthReport

__all__ = [
    "areadiness",
    "health_app",
    "health_blueprint",
    "health_router",
    "health_wsgi",
    "liveness",
    "readiness",
    "route_of",
]

Response = tuple[int, list[tuple[str, str]], bytes]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

LIVENESS = "liveness"
READINESS = "readiness"
_METHODS = ("GET", "HEAD")


def _json(status: int, payload: dict[str, Any]) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode() + b"\n"
    headers = [
        ("Content-Type", "application/json"),
        ("Cache-Control", "no-store"),
        ("Content-Length", str(len(body))),
    ]
    return status, headers, body


def liveness() -> Response:
    """200 ``{"status": "alive"}``: the process runs and answers; no check is run."""
    return _json(200, {"status": "alive"})


def _from_report(report: HealthReport, details: bool) -> Response:
    return _json(report.http_status, report.as_dict(details))


_BROKEN = _json(500, {"status": "unhealthy", "ready": False})


@guarded("health", default=_BROKEN)
def _broken(exc: Exception) -> Response:
    """A bug of ours while checking: 500 and one log line (our own tests re-raise it)."""
    raise exc


def readiness(details: bool = True) -> Response:
    """200 when every critical check passes, else 503; the report as JSON."""
    try:
        return _from_report(HEALTH.check(), details)
    except Exception as exc:
        return _broken(exc)


async def areadiness(details: bool = True) -> Response:
    """``readiness()`` for an event loop: the async checks run on the caller's loop."""
    try:
        return _from_report(await HEALTH.acheck(), details)
    except Exception as exc:
        return _broken(exc)


def route_of(path: str, mounted: bool = False) -> str | None:
    """``"liveness"`` or ``"readiness"`` if ``path`` (relative to the mount point) is one of
    the configured health paths. ``mounted``: an app that wraps no other answers readiness at
    its mount point itself (``app.mount("/api/health", health_app())`` serves ``/api/health``).
    """
    liveness_path, readiness_path = health_paths()
    if path == liveness_path:
        return LIVENESS
    if path == readiness_path or (mounted and path in ("", "/")):
        return READINESS
    return None


def _not_found() -> Response:
    liveness_path, readiness_path = health_paths()
    return _json(
        404, {"error": f"not found; health is served at {liveness_path} and {readiness_path}"}
    )


def _not_allowed() -> Response:
    status, headers, body = _json(405, {"error": "method not allowed"})
    return status, [*headers, ("Allow", ", ".join(_METHODS))], body


def health_app(app: ASGIApp | None = None, *, details: bool = True) -> ASGIApp:
    """``/healthz`` and ``/readyz`` as an ASGI app.

    Mount it at any prefix (``app.mount("/health", otelkit.health_app())`` serves
    ``/health/healthz`` and ``/health/readyz``), or wrap a whole ASGI app with it
    (``otelkit.health_app(django_asgi_app)``): the two paths are answered here and every other
    request goes to ``app``. ``details=False`` leaves the checks out of the ``/readyz`` body
    (only ``status`` and ``ready``), for an endpoint reachable from outside.
    """

    async def health(scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        route = route_of(_relative_path(scope), app is None) if kind == "http" else None
        if route is None:
            if app is not None:
                await app(scope, receive, send)
            elif kind == "lifespan":
                await _lifespan(receive, send)
            elif kind == "http":
                await _send(send, _not_found(), head=False)
            elif kind == "websocket":
                await send({"type": "websocket.close", "code": 1000})
            return
        scope[ENDPOINT_KEY] = "health"
        method = scope.get("method", "GET")
        if method not in _METHODS:
            response = _not_allowed()
        elif route == LIVENESS:
            response = liveness()
        else:
            response = await areadiness(details)
        await _send(send, response, head=method == "HEAD")

    if app is None:  # answers every path below where it is mounted: findable there
        setattr(health, ENDPOINT_ATTRIBUTE, "health")
    return health


def _relative_path(scope: Scope) -> str:
    """The path below the mount point (``root_path``), as Starlette's ``Mount`` sets it."""
    path: str = scope.get("path", "")
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path) and path[len(root_path) :][:1] in ("/", ""):
        return path[len(root_path) :] or "/"
    return path


async def _send(send: Send, response: Response, head: bool) -> None:
    status, headers, body = response
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _lifespan(receive: Receive, send: Send) -> None:
    """Served alone (``uvicorn`` on the health app itself), accept startup and shutdown."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def health_wsgi(app: WSGIApp | None = None, *, details: bool = True) -> WSGIApp:
    """``/healthz`` and ``/readyz`` as a WSGI app; the same options as ``health_app()``.

    Wrapping serves Django: ``application = otelkit.health_wsgi(get_wsgi_application())``.
    """

    def health(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        route = route_of(environ.get("PATH_INFO") or "/", app is None)
        if route is None and app is not None:
            return app(environ, start_response)
        environ[ENDPOINT_KEY] = "health"
        method = environ.get("REQUEST_METHOD", "GET")
        if route is None:
            response = _not_found()
        elif method not in _METHODS:
            response = _not_allowed()
        elif route == LIVENESS:
            response = liveness()
        else:
            response = readiness(details)
        status, headers, body = response
        start_response(f"{status} {http.HTTPStatus(status).phrase}", headers)
        return [b"" if method == "HEAD" else body]

    if app is None:  # answers every path below where it is mounted: findable there
        setattr(health, ENDPOINT_ATTRIBUTE, "health")
    return health


def health_router(*, details: bool = True) -> APIRouter:
    """A FastAPI ``APIRouter`` with ``GET /healthz`` and ``GET /readyz`` (left out of the
    OpenAPI schema): ``app.include_router(otelkit.health_router())``, optionally with a
    ``prefix``. The paths are the configured ones when it is created (after
    ``init_telemetry()``)."""
    try:
        import fastapi
    except ImportError:
        raise ConfigError("health_router() needs FastAPI: pip install fastapi") from None

    def to_response(response: Response) -> fastapi.Response:
        status, headers, body = response
        return fastapi.Response(content=body, status_code=status, headers=dict(headers))

    async def healthz(request: fastapi.Request) -> fastapi.Response:
        request.scope[ENDPOINT_KEY] = "health"
        return to_response(liveness())

    async def readyz(request: fastapi.Request) -> fastapi.Response:
        request.scope[ENDPOINT_KEY] = "health"
        return to_response(await areadiness(details))

    # Resolved here: FastAPI cannot resolve the string annotations of a local import.
    for handler in (healthz, readyz):
        handler.__annotations__ = {"request": fastapi.Request, "return": fastapi.Response}
        setattr(handler, ENDPOINT_ATTRIBUTE, "health")  # found in the routes (_mounts)
    liveness_path, readiness_path = health_paths()
    router = fastapi.APIRouter()
    router.add_api_route(liveness_path, healthz, methods=["GET"], include_in_schema=False)
    router.add_api_route(readiness_path, readyz, methods=["GET"], include_in_schema=False)
    return router


def health_blueprint(*, details: bool = True, name: str = "otelkit_health") -> Blueprint:
    """A Flask ``Blueprint`` with ``GET /healthz`` and ``GET /readyz``:
    ``app.register_blueprint(otelkit.health_blueprint())``, optionally with a ``url_prefix``.
    The paths are the configured ones when it is created (after ``init_telemetry()``)."""
    try:
        import flask
    except ImportError:
        raise ConfigError("health_blueprint() needs Flask: pip install flask") from None

    def to_response(response: Response) -> flask.Response:
        flask.request.environ[ENDPOINT_KEY] = "health"
        status, headers, body = response
        return flask.Response(body, status=status, headers=headers)

    liveness_path, readiness_path = health_paths()
    blueprint = flask.Blueprint(name, __name__)
    blueprint.add_url_rule(liveness_path, "healthz", lambda: to_response(liveness()))
    blueprint.add_url_rule(readiness_path, "readyz", lambda: to_response(readiness(details)))
    return blueprint
