"""Django: one line in settings.py makes every request measured.

    MIDDLEWARE.insert(0, "otelkit.instrumentation.http.django.Middleware")

It works under WSGI and ASGI servers. The route is Django's own pattern
(``/items/<int:item_id>``), as the HTTP semantic conventions ask; a streaming response is
measured until its last chunk.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from otelkit._errors import guarded
from otelkit.instrumentation._error_type import error_type
from otelkit.instrumentation.http._common import (
    Exchange,
    HttpRecorder,
    current_recorder,
    protocol_version,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator


def _header_getter(request: Any) -> Callable[[str], str | None]:
    def get(name: str) -> str | None:
        value = request.headers.get(name)
        return value if isinstance(value, str) else None

    return get


class Middleware:
    """Django middleware (sync and async capable); put it first in ``MIDDLEWARE``."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self._recorder: HttpRecorder | None = None
        self._async = inspect.iscoroutinefunction(get_response)
        if self._async:
            from asgiref.sync import markcoroutinefunction

            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self._async:
            return self._acall(request)
        exchange = self._begin(request)
        if exchange is None:
            return self.get_response(request)
        try:
            response = self.get_response(request)
        except BaseException as exc:
            _fail(exchange, request, exc)
            raise
        _end(exchange, request, response)
        return response

    async def _acall(self, request: Any) -> Any:
        exchange = self._begin(request)
        if exchange is None:
            return await self.get_response(request)
        try:
            response = await self.get_response(request)
        except BaseException as exc:
            _fail(exchange, request, exc)
            raise
        _end(exchange, request, response)
        return response

    def process_exception(self, request: Any, exception: BaseException) -> None:
        """Django turns a view's exception into a 500 response; remember what it was."""
        request._otelkit_error_type = error_type(exception)

    @guarded("django", None)
    def _begin(self, request: Any) -> Exchange | None:
        recorder = self._recorder = current_recorder(self._recorder, None)
        if recorder is None or recorder.excluded(request.path_info):
            return None
        meta = request.META
        protocol = str(meta.get("SERVER_PROTOCOL", ""))
        port = str(meta.get("SERVER_PORT", ""))
        exchange = Exchange(
            recorder,
            request.method or "GET",
            request.scheme or "http",
            protocol_version(protocol),
            request.path_info,
            _header_getter(request) if recorder.spans is not None else None,
            (str(meta.get("SERVER_NAME", "")), int(port) if port.isdigit() else None),
        )
        if recorder.request_size is not None:
            length = str(meta.get("CONTENT_LENGTH") or "")
            exchange.request_size = int(length) if length.isdigit() else None
        return exchange


_ROUTES: dict[str, str] = {}
"""Each URL pattern's ``http.route``, built once: one string shared by every request's span
while it waits for export, not a new one per request."""
_ROUTES_LIMIT = 4096


def _route(request: Any) -> str | None:
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None)
    if not route:
        return None
    text = str(route)
    found = _ROUTES.get(text)
    if found is None:
        if len(_ROUTES) >= _ROUTES_LIMIT:  # patterns are few; bounded all the same
            _ROUTES.clear()
        found = _ROUTES[text] = text if text.startswith("/") else "/" + text
    return found


@guarded("django", None)
def _end(exchange: Exchange, request: Any, response: Any) -> None:
    exchange.status = int(response.status_code)
    route = _route(request)
    # Django answers Http404, PermissionDenied and the like with a 4xx: the view raised, but
    # the server did not fail, so the exception is not the request's error.type (as with a
    # framework's HTTPException under ASGI, which otelkit never even sees).
    error = getattr(request, "_otelkit_error_type", None) if exchange.status >= 500 else None
    if not getattr(response, "streaming", False):
        exchange.response_size = len(getattr(response, "content", b""))
        try:
            exchange.finish(route, error)  # with the span current: its exemplar
        finally:
            exchange.detach_context()
        return
    exchange.detach_context()
    if getattr(response, "is_async", False):
        response.streaming_content = _measured_async(
            response.streaming_content, exchange, route, error
        )
    else:
        response.streaming_content = _measured(response.streaming_content, exchange, route, error)


def _measured(
    chunks: Iterable[bytes], exchange: Exchange, route: str | None, error: str | None
) -> Iterator[bytes]:
    """A streaming response is measured until its last chunk is handed to the server."""
    try:
        for chunk in chunks:
            exchange.response_size += len(chunk)
            yield chunk
    except BaseException as exc:
        _finish(exchange, route, error_type(exc))
        raise
    finally:
        _finish(exchange, route, error)


async def _measured_async(
    chunks: AsyncIterable[bytes], exchange: Exchange, route: str | None, error: str | None
) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            exchange.response_size += len(chunk)
            yield chunk
    except BaseException as exc:
        _finish(exchange, route, error_type(exc))
        raise
    finally:
        _finish(exchange, route, error)


@guarded("django", None)
def _finish(exchange: Exchange, route: str | None, error: str | None) -> None:
    exchange.finish(route, error)


@guarded("django", None)
def _fail(exchange: Exchange, request: Any, exc: BaseException) -> None:
    exchange.status = exchange.status or 500
    exchange.finish(_route(request), error_type(exc))
    exchange.detach_context()
