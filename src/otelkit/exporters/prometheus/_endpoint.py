"""Serving the Prometheus exposition: one response function, three transports.

``respond()`` decides status, headers and body (token check, gzip); the stdlib listener of the
prometheus plugin, ``metrics_app()`` (ASGI) and ``metrics_wsgi()`` (WSGI) only move bytes. The
listener also answers ``/healthz`` and ``/readyz`` (``otelkit.health._http``).
"""

from __future__ import annotations

import errno
import gzip
import hmac
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from otelkit._errors import ConfigError, record_internal_error
from otelkit.exporters.prometheus import _routes
from otelkit.exporters.prometheus._connections import ConnectionServer, RequestHandler
from otelkit.exporters.prometheus._negotiation import CLASSIC, negotiate
from otelkit.health._mark import ENDPOINT_ATTRIBUTE, ENDPOINT_KEY, health_paths

if TYPE_CHECKING:
    from otelkit.config._parse import Secret
    from otelkit.exporters.prometheus._negotiation import Format

logger = logging.getLogger("otelkit")

Response = tuple[int, list[tuple[str, str]], bytes]


class Exposition(Protocol):
    """What an endpoint serves: the rendered scrape and the token that guards it."""

    token: Secret | None

    def scrape(self, fmt: Format = ...) -> bytes: ...


_current: Exposition | None = None


def set_current(exposition: Exposition) -> None:
    """The prometheus plugin registers its reader here; the mountable apps serve it."""
    global _current
    _current = exposition


def clear_current(exposition: Exposition) -> None:
    """Stop serving ``exposition`` (if it is still the current one)."""
    global _current
    if _current is exposition:
        _current = None


def _plain(status: int, message: str, extra: Iterable[tuple[str, str]] = ()) -> Response:
    body = message.encode() + b"\n"
    return status, [("Content-Type", "text/plain; charset=utf-8"), *extra], body


def respond(
    exposition: Exposition | None,
    authorization: str | None,
    accept_encoding: str | None,
    accept: str | None = None,
) -> Response:
    """The response to one scrape request, whatever transport carries it; the format is
    negotiated from ``accept`` (``_negotiation``: OpenMetrics when asked for, else text)."""
    if exposition is None:
        return _plain(
            503,
            "otelkit: no prometheus exporter is configured "
            "(OTEL_METRICS_EXPORTER does not include 'prometheus', or init_telemetry() "
            "has not run)",
        )
    if not authorized(exposition, authorization):
        return _plain(401, "unauthorized", [("WWW-Authenticate", 'Bearer realm="metrics"')])
    fmt = negotiate(accept)
    try:
        body = exposition.scrape(fmt) if fmt != CLASSIC else exposition.scrape()
    except Exception as exc:
        record_internal_error("prometheus.scrape", exc)
        return _plain(500, "otelkit: the scrape failed; see the otelkit log")
    headers = [("Content-Type", fmt.content_type)]
    if _accepts_gzip(accept_encoding):
        body = gzip.compress(body, compresslevel=1)
        headers.append(("Content-Encoding", "gzip"))
    headers.append(("Content-Length", str(len(body))))
    return 200, headers, body


def authorized(exposition: Exposition | None, authorization: str | None) -> bool:
    """Whether the request carries the exposition's token (always true when none is set)."""
    token = exposition.token if exposition is not None else None
    if token is None:
        return True
    # The scheme is case-insensitive (RFC 9110 §11.1): "bearer" and "BEARER" are "Bearer".
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    given = credentials.lstrip(" ").encode("latin-1", "replace")
    matches = hmac.compare_digest(given, token.value.encode())  # constant time in the token
    return matches and scheme.lower() == "bearer"


def _accepts_gzip(accept_encoding: str | None) -> bool:
    """True when ``gzip`` is listed with a non-zero quality (``gzip;q=0`` refuses it)."""
    for item in (accept_encoding or "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() != "gzip":
            continue
        quality = params.strip().lower().removeprefix("q=") if params else "1"
        try:
            return float(quality) > 0
        except ValueError:
            return False
    return False


class _Handler(RequestHandler):
    def __init__(
        self, connection: socket.socket, client_address: Any, exposition: Exposition
    ) -> None:
        super().__init__(connection, client_address)
        self.exposition = exposition

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        path = self.path.split("?", 1)[0]
        from otelkit.health import _http as _health_http

        health = _health_http.route_of(path)
        if health is not None:
            # No token needed: probes must get through. Without the token, readiness names no
            # check (only the overall status), as check names describe the infrastructure.
            details = authorized(self.exposition, self.headers.get("Authorization"))
            if health == _health_http.LIVENESS:
                status, headers, body = _health_http.liveness()
            else:
                status, headers, body = _health_http.readiness(details)
        elif (extra := _routes.find(path)) is not None:  # registered from above: the status page
            token = self.headers.get("Authorization")
            if not extra.protected or authorized(self.exposition, token):
                status, headers, body = extra.responder(self.exposition)
            else:
                status, headers, body = _plain(
                    401, "unauthorized", [("WWW-Authenticate", 'Bearer realm="metrics"')]
                )
        elif path != "/metrics":
            liveness_path, readiness_path = health_paths()
            status, headers, body = _plain(
                404,
                f"not found; the metrics are at /metrics, health at {liveness_path} and "
                f"{readiness_path}",
            )
        else:
            status, headers, body = respond(
                self.exposition,
                self.headers.get("Authorization"),
                self.headers.get("Accept-Encoding"),
                self.headers.get("Accept"),
            )
        self.send_whole(status, headers, body)


def _listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            # The workers of a pre-fork server each bind the same port; the kernel spreads the
            # scrapes over them, and each answers with the total (``_multiprocess/``).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    # Processes sharing one listening socket all wake up for a connection and one gets it:
    # a blocking accept() would leave the others stuck, deaf to shutdown().
    sock.setblocking(False)
    return sock


class Listener:
    """The plugin's own ``/metrics`` listener (threads and connections: ``_connections``)."""

    def __init__(
        self,
        host: str,
        port: int,
        exposition: Exposition,
        sources: tuple[str, str],
        *,
        reuse_port: bool = False,
    ) -> None:
        """``sources`` name where host and port came from (variable or keyword), for errors.

        ``reuse_port``: other processes of the same user may listen on the same port (the
        workers of a pre-fork server).
        """
        self._exposition = exposition
        try:
            listening = _listening_socket(host, port, reuse_port=reuse_port)
        except OSError as exc:
            raise ConfigError(_bind_error(host, port, exc, sources)) from None
        self.host, self.port = listening.getsockname()[:2]
        self._server = self._new_server(listening)
        self._thread = self._serve()

    def _new_server(self, listening: socket.socket) -> ConnectionServer:
        tls = getattr(self._exposition, "tls", None)  # the PrometheusReader's (``_tls``)
        return ConnectionServer(listening, partial(_Handler, exposition=self._exposition), tls)

    def _serve(self) -> threading.Thread:
        thread = threading.Thread(
            target=self._server.serve_forever, name="otelkit-metrics", daemon=True
        )
        thread.start()
        return thread

    def after_fork_in_child(self) -> None:
        """Serve the inherited listening socket from this process too (its threads are gone).

        The parent keeps serving it; the kernel hands each connection to one of them. The
        parent's connections stay the parent's: this process closes its copies.
        """
        inherited = self._server
        inherited.abandon()
        self._server = self._new_server(inherited.socket)
        self._thread = self._serve()

    def close(self) -> None:
        self._server.stop()
        self._thread.join(timeout=2)
        self._server.close()


def _bind_error(host: str, port: int, exc: OSError, sources: tuple[str, str]) -> str:
    where = f"{host}:{port}"
    host_source, port_source = sources
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{port_source}={port}: cannot listen on {where}, the address is already in use. "
            f"Set {port_source} to a free port, or to 0 to serve the metrics only through "
            "otelkit.metrics_app() / metrics_wsgi()."
        )
    return (
        f"{host_source}={host!r}: cannot listen on {where} "
        f"({exc.strerror or exc}). "
        "Accepted: a local interface address or host name, such as 127.0.0.1, ::1 or 0.0.0.0."
    )


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _path(function: str, path: object) -> str:
    if not isinstance(path, str) or not path.startswith("/") or any(c.isspace() for c in path):
        raise ConfigError(
            f"{function}(path={path!r}) is not valid. Accepted: a path starting with '/'."
        )
    return path


class _MetricsASGI:
    """The exposition over ASGI; a class (not a function) so that Starlette's ``add_route``
    takes it for an ASGI app, and so that otelkit's middleware can find where it is mounted
    (``ENDPOINT_ATTRIBUTE``, set below)."""

    def __init__(self, app: ASGIApp | None, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is not None and (scope["type"] != "http" or scope["path"] != self.path):
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        scope[ENDPOINT_KEY] = "metrics"
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        status, response_headers, body = respond(
            _current,
            headers.get("authorization"),
            headers.get("accept-encoding"),
            headers.get("accept"),
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in response_headers],
            }
        )
        await send({"type": "http.response.body", "body": body})


def metrics_app(app: ASGIApp | None = None, *, path: str = "/metrics") -> ASGIApp:
    """The Prometheus exposition as an ASGI app, to mount at any path of the user's app.

    Mounted (``app.mount("/api/v1/metrics", otelkit.metrics_app())``) it answers at the mount
    path and below it; otelkit's HTTP middleware answers the mount path itself without
    Starlette's redirect to a trailing slash, and never counts these requests as application
    traffic. Given an ``app`` (a Django ASGI application), it wraps it instead: requests to
    ``path`` are answered here, every other one goes to ``app``. It serves the configuration
    active at request time, with the same token rules as the plugin's listener; before
    ``init_telemetry()`` (or without the prometheus exporter) it answers 503.
    """
    return _MetricsASGI(app, _path("metrics_app", path))


_REASONS = {
    200: "OK",
    401: "Unauthorized",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class _MetricsWSGI:
    """The exposition over WSGI (see ``_MetricsASGI``)."""

    def __init__(self, app: WSGIApp | None, path: str) -> None:
        self.app = app
        self.path = path

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if self.app is not None and (environ.get("PATH_INFO") or "/") != self.path:
            return self.app(environ, start_response)
        environ[ENDPOINT_KEY] = "metrics"
        status, headers, body = respond(
            _current,
            environ.get("HTTP_AUTHORIZATION"),
            environ.get("HTTP_ACCEPT_ENCODING"),
            environ.get("HTTP_ACCEPT"),
        )
        start_response(f"{status} {_REASONS.get(status, '')}".rstrip(), headers)
        return [body]


setattr(_MetricsASGI, ENDPOINT_ATTRIBUTE, "metrics")
setattr(_MetricsWSGI, ENDPOINT_ATTRIBUTE, "metrics")


def metrics_wsgi(app: WSGIApp | None = None, *, path: str = "/metrics") -> WSGIApp:
    """The Prometheus exposition as a WSGI app (Flask, Django, any WSGI server).

    Mount it with werkzeug's ``DispatcherMiddleware`` (Flask), or wrap a whole WSGI
    application (Django's ``get_wsgi_application()``): requests to ``path`` are answered here,
    every other one goes to ``app``. Either way the requests never reach the app's own
    middleware, so they are never counted as application traffic.
    """
    return _MetricsWSGI(app, _path("metrics_wsgi", path))
