"""WSGI middleware: HTTP server metrics and spans for Flask and any WSGI app.

The clock stops when the response iterable is exhausted or closed (streaming responses are
measured to their last chunk); the app's exceptions propagate unchanged. Flask's route template
(``/items/<int:item_id>``, the framework's own format as the HTTP semantic conventions ask) and
its handled exceptions reach the middleware through the WSGI environ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otelkit._errors import guarded
from otelkit.health._mark import ENDPOINT_KEY
from otelkit.instrumentation._error_type import error_type
from otelkit.instrumentation.http._common import (
    INCOMPLETE_RESPONSE,
    Exchange,
    HttpRecorder,
    current_recorder,
    protocol_version,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    StartResponse = Callable[..., Any]
    WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

ROUTE_KEY = "otelkit.route"
"""Where a framework hook (or a bare app) puts the route template in the environ."""
ERROR_KEY = "otelkit.error_type"
"""Where a framework hook puts the class of an exception it turned into an error response."""


def _header_getter(environ: dict[str, Any]) -> Callable[[str], str | None]:
    def get(name: str) -> str | None:
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        return value if isinstance(value, str) else None

    return get


class OtelkitWSGIMiddleware:
    """Measures every request of the wrapped WSGI app."""

    def __init__(self, app: WSGIApp, *, spans: bool | None = None) -> None:
        self.app = app
        self._spans = spans
        self._recorder: HttpRecorder | None = None
        self._last_server: tuple[tuple[object, object], tuple[str, int | None]] | None = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        exchange = self._begin(environ)
        if exchange is None:
            return self.app(environ, start_response)

        def start_response_wrapper(status: str, headers: Any, exc_info: Any = None) -> Any:
            _set_status(exchange, status)
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, start_response_wrapper)
        except BaseException as exc:
            exchange.status = exchange.status or 500
            _end(exchange, environ, error_type(exc))
            exchange.detach_context()
            raise
        return _MeasuredBody(body, exchange, environ)

    def _server(self, environ: dict[str, Any]) -> tuple[str, int | None]:
        """``server.address`` and ``server.port`` of the span, from the environ; the same pair
        as the previous request's (the usual case: one server) is not parsed again."""
        raw = (environ.get("SERVER_NAME", ""), environ.get("SERVER_PORT"))
        last = self._last_server
        if last is not None and last[0] == raw:
            return last[1]
        port = str(raw[1])
        server = (str(raw[0]), int(port) if port.isdigit() else None)
        self._last_server = (raw, server)
        return server

    @guarded("wsgi", None)
    def _begin(self, environ: dict[str, Any]) -> Exchange | None:
        recorder = self._recorder = current_recorder(self._recorder, self._spans)
        path = environ.get("PATH_INFO") or "/"
        if recorder is None or recorder.excluded(path):
            return None
        protocol = str(environ.get("SERVER_PROTOCOL", ""))
        exchange = Exchange(
            recorder,
            environ.get("REQUEST_METHOD", "GET"),
            environ.get("wsgi.url_scheme") or "http",
            protocol_version(protocol),
            path,
            _header_getter(environ)
            if recorder.spans is not None
            and ("HTTP_TRACEPARENT" in environ or "HTTP_BAGGAGE" in environ)
            else None,
            self._server(environ) if recorder.spans is not None else None,
        )
        if recorder.request_size is not None:
            length = str(environ.get("CONTENT_LENGTH") or "")
            exchange.request_size = int(length) if length.isdigit() else None
        return exchange


@guarded("wsgi", None)
def _set_status(exchange: Exchange, status: str) -> None:
    exchange.status = int(status.split(" ", 1)[0])


@guarded("wsgi", None)
def _end(exchange: Exchange, environ: dict[str, Any], error: str | None) -> None:
    if exchange.finished:
        return
    route = environ.get(ROUTE_KEY)
    route = route if isinstance(route, str) else None
    handled = environ.get(ERROR_KEY)
    if environ.get(ENDPOINT_KEY):  # an otelkit endpoint answered (health blueprint, wrapped app)
        exchange.discard(route, error or handled)
    else:
        exchange.finish(route, error or handled)


class _MeasuredBody:
    """The app's response iterable, finishing the measurement at its end or close()."""

    __slots__ = ("_body", "_environ", "_exchange")

    def __init__(self, body: Iterable[bytes], exchange: Exchange, environ: dict[str, Any]) -> None:
        self._body = body
        self._exchange = exchange
        self._environ = environ

    def __iter__(self) -> Iterator[bytes]:
        exchange = self._exchange
        try:
            for chunk in self._body:
                exchange.response_size += len(chunk)
                yield chunk
        except BaseException as exc:
            _end(exchange, self._environ, error_type(exc))
            raise
        _end(exchange, self._environ, None)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            exchange = self._exchange
            if not exchange.finished:
                # Closed before the last chunk: the client went away (WSGI cannot tell us), or
                # no response was ever started.
                error = None
                if not exchange.status:
                    exchange.status, error = 500, INCOMPLETE_RESPONSE
                _end(exchange, self._environ, error)
            exchange.detach_context()


class _NotedRule:
    """``url_rule`` of otelkit's Flask request class: an assignment is kept in the instance and
    its template noted in the environ. Only ``__set__``: reads find the instance's value
    without calling anything (a descriptor without ``__get__`` does not intercept them)."""

    def __set__(self, request: Any, rule: Any) -> None:
        request.__dict__["url_rule"] = rule
        if rule is not None:
            request.environ[ROUTE_KEY] = rule.rule


def flask_hooks(app: Any) -> None:
    """Make a Flask app tell the middleware its route template and handled exceptions.

    The route: Flask assigns ``request.url_rule`` when it matches the URL; a subclass of the
    app's request class copies it into the environ at that moment (cheaper than a
    ``before_request`` hook, and also set for requests that a hook later aborts). Flask reads
    ``url_rule`` half a dozen times per request: ``_NotedRule`` sees the assignment only, and
    every read stays a plain attribute read.
    """
    from flask import got_request_exception, request

    base = app.request_class

    class Request(base):  # type: ignore[misc, valid-type]
        url_rule = _NotedRule()

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.__dict__.setdefault("url_rule", None)  # read before any match: None

    Request.__name__ = Request.__qualname__ = base.__name__
    app.request_class = Request

    def remember_error(sender: Any, exception: BaseException, **extra: Any) -> None:
        request.environ[ERROR_KEY] = error_type(exception)

    got_request_exception.connect(remember_error, app, weak=False)
