"""httpx, sync and async: every request a transport sends over the network.

The wrapper sits on ``HTTPTransport.handle_request`` and ``AsyncHTTPTransport
.handle_async_request``, the public transport API every ``Client`` and ``AsyncClient`` sends
through: each hop is one call (a redirect the client follows is a second one), and in-process
transports (``ASGITransport``, ``WSGITransport``, ``MockTransport``) are not outgoing calls and
are not measured. The call ends when the response's headers are in; the body is the caller's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otelkit.instrumentation.http_client._patch import Patch
from otelkit.instrumentation.http_client._record import begin

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

__all__ = ["available", "install", "uninstall"]

_PATCHES: list[Patch] = []


def available() -> bool:
    try:
        import httpx  # noqa: F401
    except ImportError:
        return False
    return True


def _wrap_sync(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def handle_request(self: Any, request: Any) -> Any:
        url = request.url
        call = begin(request.method, url.scheme, url.host, url.port, url.path)
        if call is None:
            return original(self, request)
        call.inject(request.headers)
        try:
            response = original(self, request)
        except BaseException as exc:
            call.end(0, exc)
            raise
        call.end(response.status_code, None)
        return response

    return handle_request


def _wrap_async(
    original: Callable[[Any, Any], Coroutine[Any, Any, Any]],
) -> Callable[[Any, Any], Coroutine[Any, Any, Any]]:
    async def handle_async_request(self: Any, request: Any) -> Any:
        url = request.url
        call = begin(request.method, url.scheme, url.host, url.port, url.path)
        if call is None:
            return await original(self, request)
        call.inject(request.headers)
        try:
            response = await original(self, request)
        except BaseException as exc:
            call.end(0, exc)
            raise
        call.end(response.status_code, None)
        return response

    return handle_async_request


def install() -> bool:
    """Wrap httpx's transports; False when httpx is not installed."""
    if not available():
        return False
    import httpx

    if not _PATCHES:
        _PATCHES.append(Patch(httpx.HTTPTransport, "handle_request", _wrap_sync))
        _PATCHES.append(Patch(httpx.AsyncHTTPTransport, "handle_async_request", _wrap_async))
    for patch in _PATCHES:
        patch.install()
    return True


def uninstall() -> None:
    for patch in _PATCHES:
        patch.uninstall()
