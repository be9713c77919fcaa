"""urllib3, and requests through it: every request a connection pool sends.

requests sends each request (each redirect hop too) through urllib3's
``HTTPConnectionPool.urlopen``, so wrapping urllib3 measures requests, urllib3 used directly and
every library built on either (botocore's vendored copy aside), with one wrapper: instrumenting
requests as well would measure its calls twice. A pool's ``urlopen`` calls itself again for
its own retries and redirects; those inner calls belong to the outer one, which measures the
whole (a thread-local flag), so one call of the caller is one measurement. The call ends when
the response's headers are in (requests reads the body afterwards).

The trace headers go into a copy of the request's headers: the caller's mapping (requests'
``PreparedRequest.headers``, a pool's default headers) is never changed.
"""

from __future__ import annotations

import threading
from typing import Any

from otelkit.instrumentation.http_client._patch import Patch
from otelkit.instrumentation.http_client._record import begin

__all__ = ["available", "install", "uninstall"]

_PATCHES: list[Patch] = []


class _Inside(threading.local):
    active = False


_inside = _Inside()


def available() -> bool:
    try:
        import urllib3  # noqa: F401
    except ImportError:
        return False
    return True


def _wrap(original: Any) -> Any:
    def urlopen(
        self: Any,
        method: str,
        url: str,
        body: Any = None,
        headers: Any = None,
        *args: Any,
        **kw: Any,
    ) -> Any:
        if _inside.active:
            return original(self, method, url, body, headers, *args, **kw)
        call = begin(method, self.scheme, self.host, self.port, url)
        if call is None:
            return original(self, method, url, body, headers, *args, **kw)
        given = self.headers if headers is None else headers
        sent = given.copy() if hasattr(given, "copy") else dict(given)  # its own type kept
        call.inject(sent)
        _inside.active = True
        try:
            response = original(self, method, url, body, sent, *args, **kw)
        except BaseException as exc:
            call.end(0, _cause(exc))
            raise
        finally:
            _inside.active = False
        call.end(response.status, None)
        return response

    return urlopen


def _cause(exc: BaseException) -> BaseException:
    """``MaxRetryError`` says only that retries ran out; what failed is its ``reason``."""
    reason = getattr(exc, "reason", None)
    if type(exc).__name__ == "MaxRetryError" and isinstance(reason, BaseException):
        return reason
    return exc


def install() -> bool:
    """Wrap urllib3's connection pools; False when urllib3 is not installed."""
    if not available():
        return False
    from urllib3.connectionpool import HTTPConnectionPool

    if not _PATCHES:
        _PATCHES.append(Patch(HTTPConnectionPool, "urlopen", _wrap))
    for patch in _PATCHES:
        patch.install()
    return True


def uninstall() -> None:
    for patch in _PATCHES:
        patch.uninstall()
