"""Serving the Prometheus exposition: one response function, three transports.

``respond()`` decides status, headers and body (token check, gzip); the stdlib listener of the
prometheus plugin, ``metrics_app()`` (ASGI) and ``metrics_wsgi()`` (WSGI) only move bytes. The
listener also answers ``/healthz`` and ``/readyz`` (``otelkit.health._http``).
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import hmac
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Protocol

from otelkit._errors import ConfigError, record_internal_error
from otelkit.exporters.prometheus._exposition import CONTENT_TYPE

if TYPE_CHECKING:
    from otelkit.config._parse import Secret

logger = logging.getLogger("otelkit")

Response = tuple[int, list[tuple[str, str]], bytes]


class Exposition(Protocol):
    """What an endpoint serves: the rendered scrape and the token that guards it."""

    token: Secret | None

    def scrape(self) -> bytes: ...


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
    exposition: Exposition | None, authorization: str | None, accept_encoding: str | None
) -> Response:
    """The response to one scrape request, whatever transport carries it."""
    if exposition is None:
        return _plain(
            503,
            "otelkit: no prometheus exporter is configured "
            "(OTEL_METRICS_EXPORTER does not include 'prometheus', or init_telemetry() "
            "has not run)",
        )
    if not authorized(exposition, authorization):
        return _plain(401, "unauthorized", [("WWW-Authenticate", 'Bearer realm="metrics"')])
    try:
        body = exposition.scrape()
    except Exception as exc:
        record_internal_error("prometheus.scrape", exc)
        return _plain(500, "otelkit: the scrape failed; see the otelkit log")
    headers = [("Content-Type", CONTENT_TYPE)]
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
    expected = f"Bearer {token.value}".encode()
    given = (authorization or "").encode("latin-1", "replace")
    return hmac.compare_digest(given, expected)


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


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as Prometheus reuses its connection
    timeout = 60  # an idle kept-alive connection's thread ends after this many seconds

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/healthz", "/readyz"):
            # No token needed: probes must get through. Without the token, /readyz names no
            # check (only the overall status), as check names describe the infrastructure.
            from otelkit.health import _http as _health_http

            details = authorized(self.server.exposition, self.headers.get("Authorization"))
            if path == "/healthz":
                status, headers, body = _health_http.liveness()
            else:
                status, headers, body = _health_http.readiness(details)
        elif path != "/metrics":
            status, headers, body = _plain(
                404, "not found; the metrics are at /metrics, health at /healthz and /readyz"
            )
        else:
            status, headers, body = respond(
                self.server.exposition,
                self.headers.get("Authorization"),
                self.headers.get("Accept-Encoding"),
            )
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name == "Content-Length" for name, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("otelkit metrics endpoint: " + format, *args)


class _Server(ThreadingHTTPServer):
    """Tracks open connections so that closing the listener also ends kept-alive scrapes."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        family: int,
        exposition: Exposition,
        *,
        reuse_port: bool = False,
        inherited: socket.socket | None = None,
    ) -> None:
        self.address_family = family
        self.exposition = exposition
        self.reuse_port = reuse_port
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler, bind_and_activate=inherited is None)
        if inherited is not None:  # a forked child serves the listening socket of its parent
            self.socket.close()
            self.socket = inherited
            self.server_address = inherited.getsockname()
        # Processes sharing one listening socket all wake up for a connection and one gets it:
        # a blocking accept() would leave the others stuck, deaf to shutdown().
        self.socket.setblocking(False)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = self.socket.accept()  # BlockingIOError: another process took it
        connection.setblocking(True)
        return connection, address

    def server_bind(self) -> None:
        if self.reuse_port:
            # The workers of a pre-fork server each bind the same port; the kernel spreads the
            # scrapes over them, and each answers with the total (``_multiprocess/``).
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A scraper that hangs up mid-response is routine, not worth a traceback on stderr."""
        logger.debug("otelkit metrics endpoint: error serving %s", client_address, exc_info=True)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)


class Listener:
    """The plugin's own ``/metrics`` listener on a daemon thread."""

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
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
            self._server = _Server((host, port), family, exposition, reuse_port=reuse_port)
        except OSError as exc:
            raise ConfigError(_bind_error(host, port, exc, sources)) from None
        self.host, self.port = self._server.server_address[:2]
        self._thread = self._serve()

    def _serve(self) -> threading.Thread:
        thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="otelkit-metrics",
            daemon=True,
        )
        thread.start()
        return thread

    def after_fork_in_child(self) -> None:
        """Serve the inherited listening socket from this process too (its thread is gone).

        The parent keeps serving it; the kernel hands each connection to one of them.
        """
        inherited = self._server
        host, port = inherited.server_address[:2]
        self._server = _Server(
            (str(host), int(port)),
            inherited.address_family,
            inherited.exposition,
            inherited=inherited.socket,
        )
        self._thread = self._serve()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.close_connections()
        self._thread.join(timeout=2)


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


def metrics_app() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The Prometheus exposition as an ASGI app, to mount at any path of the user's app.

    It serves the configuration active at request time, with the same token rules as the
    plugin's listener; before ``init_telemetry()`` (or without the prometheus exporter) it
    answers 503.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        status, response_headers, body = respond(
            _current, headers.get("authorization"), headers.get("accept-encoding")
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in response_headers],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


_REASONS = {
    200: "OK",
    401: "Unauthorized",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def metrics_wsgi() -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """The Prometheus exposition as a WSGI app (Flask, Django, any WSGI server)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        status, headers, body = respond(
            _current, environ.get("HTTP_AUTHORIZATION"), environ.get("HTTP_ACCEPT_ENCODING")
        )
        start_response(f"{status} {_REASONS.get(status, '')}".rstrip(), headers)
        return [body]

    return app
