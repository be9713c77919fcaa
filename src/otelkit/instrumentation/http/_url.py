"""What a request says about its URL, made safe to record: no userinfo, no credentials.

A server hands the middleware the request target as the client wrote it. For the usual
origin-form (``/items?id=1``) that is a path, but a client may send the absolute-form
(``GET http://user:password@host/items``, which proxies receive and servers must accept), and
servers put all of it in ``PATH_INFO`` / ``scope["path"]``. ``url.path`` is the path only:
``path_of()`` drops the scheme and authority, userinfo included. A ``Host`` header (gunicorn
takes ``SERVER_NAME`` from it) may carry ``user@``: ``host_of()`` drops it. Query values are
not recorded by otelkit's middlewares; ``redact_query`` (``otelkit.config._redact``) is what the
contrib middlewares' hook applies to the ``url.query`` they record.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

from opentelemetry.semconv.attributes.url_attributes import URL_PATH, URL_QUERY

from otelkit.config._redact import redact_query

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "contrib_asgi_hook",
    "contrib_asgi_span_details",
    "contrib_wsgi_hook",
    "host_of",
    "path_of",
]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")


def path_of(target: str) -> str:
    """The path of a request target: absolute-form loses its scheme and authority.

    Servers percent-decode the target before the app sees it, so a password may hold ``/``,
    ``?`` or ``@`` by then: everything up to the last ``@`` may be userinfo, and goes. (A path
    of an absolute-form target that itself holds ``@`` is cut there: nothing is kept that
    could be a credential.)
    """
    if target.startswith("/") and not target.startswith("//"):
        return target  # origin-form: the fast, usual case
    scheme = _SCHEME.match(target)
    if scheme is not None:
        rest = target[scheme.end() :]
    elif target.startswith("//") and "@" in target:
        rest = target[2:]
    else:
        return target  # a path that starts with two slashes, or not a URL at all
    rest = rest.rpartition("@")[2]
    cut = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=-1)
    if cut < 0 or rest[cut] != "/":
        return "/"
    return rest[cut:]


def host_of(host: str) -> str:
    """A host name without userinfo (``user:password@host`` → ``host``)."""
    return host.rpartition("@")[2] if "@" in host else host


def _record_safe_target(span: Any, path: str, query: str) -> None:
    if not span.is_recording():
        return
    clean = path_of(path)
    span.set_attribute(URL_PATH, clean)
    name = getattr(span, "name", None)  # contrib names a span without a route by its path
    if clean != path and isinstance(name, str) and path in name:
        span.update_name(name.replace(path, clean))
    if query:
        span.set_attribute(URL_QUERY, redact_query(query))


def contrib_asgi_hook(span: Any, scope: Mapping[str, Any]) -> None:
    """``server_request_hook`` of contrib's ASGI middleware: its ``url.path`` and ``url.query``
    are the raw target; these replace them with the safe ones."""
    with contextlib.suppress(Exception):
        raw = scope.get("query_string") or b""
        query = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        _record_safe_target(span, str(scope.get("path") or "/"), query)


def contrib_wsgi_hook(span: Any, environ: Mapping[str, Any]) -> None:
    """``request_hook`` of contrib's WSGI middleware (see ``contrib_asgi_hook``)."""
    with contextlib.suppress(Exception):
        path = str(environ.get("PATH_INFO") or "/")
        _record_safe_target(span, path, str(environ.get("QUERY_STRING") or ""))


def contrib_asgi_span_details(scope: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``default_span_details`` of contrib's ASGI middleware: its own, from the clean path (the
    server span's name is reused for its ``http send`` / ``http receive`` spans)."""
    from opentelemetry.instrumentation.asgi import get_default_span_details

    clean = {**scope, "path": path_of(str(scope.get("path") or ""))}
    name, attributes = get_default_span_details(clean)
    return str(name), dict(attributes)
