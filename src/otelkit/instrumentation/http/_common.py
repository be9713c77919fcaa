"""What the ASGI and WSGI middlewares share: decided once per configuration, used per request.

``HttpRecorder`` (an ``instrumentation._recorder.Recorder``) holds the fast instruments, the
span factory (None when spans are off), the excluded paths and the attribute sets, all derived
from the active ``Telemetry`` when it is bound; each middleware keeps its own, since its
``spans`` option is its own. ``Exchange`` is one request in flight: it starts the clock (and
the span), and ``finish()`` records the duration, the active-request decrement and ends the span
with the same timing. Both are written so that nothing in them can raise into the application:
the middlewares call them through ``guarded``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as context_api
from opentelemetry import propagate, trace
from opentelemetry.propagators import textmap
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_REQUEST_METHOD_ORIGINAL,
    HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE,
    HttpRequestMethodValues,
)
from opentelemetry.semconv.attributes.network_attributes import NETWORK_PROTOCOL_VERSION
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.semconv.attributes.url_attributes import URL_PATH, URL_SCHEME
from opentelemetry.trace import NonRecordingSpan, SpanKind

from otelkit._version import __version__
from otelkit.instrumentation._recorder import Recorder
from otelkit.instrumentation.http import _metrics
from otelkit.instrumentation.http._url import host_of, path_of
from otelkit.tracing._base import KitSpan
from otelkit.tracing._light import LightSpan

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from otelkit.metrics._fastpath import FastHistogram, FastSum
    from otelkit.runtime._telemetry import Telemetry
    from otelkit.tracing._spans import SpanFactory

KNOWN_METHODS = frozenset(m.value for m in HttpRequestMethodValues if m.value != "_OTHER")
_METHODS = {method: method for method in KNOWN_METHODS}
"""Each known method as one shared string (the server's own copy is not kept by the span)."""
OTHER_METHOD = HttpRequestMethodValues.OTHER.value
SCOPE = InstrumentationScope("otelkit.http", __version__)

# A client that goes away before the response is complete: nginx's "client closed request".
# No error.type: the server did not fail, so it does not count against the 5xx error ratio.
CLIENT_CLOSED_STATUS = 499
INCOMPLETE_RESPONSE = "incomplete_response"

Getter = Callable[[str], str | None]


class _HeaderGetter(textmap.Getter[Getter]):
    """Adapts a header lookup function to the propagator's getter protocol."""

    def get(self, carrier: Getter, key: str) -> list[str] | None:
        value = carrier(key)
        return [value] if value is not None else None

    def keys(self, carrier: Getter) -> list[str]:
        return []


_GETTER = _HeaderGetter()
# The key the API keeps the current span under, found through the public API only.
(_SPAN_KEY,) = tuple(trace.set_span_in_context(trace.INVALID_SPAN, context_api.Context()))


class HttpRecorder(Recorder):
    """Per-configuration state of one instrumented app."""

    def __init__(self, telemetry: Telemetry, spans: bool | None) -> None:
        super().__init__(telemetry, SCOPE, spans=spans is not False)
        settings = telemetry.settings
        self.duration: FastHistogram = self.histogram_of(
            _metrics.REQUEST_DURATION, settings.http_buckets
        )
        self.active: FastSum = self.sum_of(_metrics.ACTIVE_REQUESTS)
        self.request_size: FastHistogram | None = None
        self.response_size: FastHistogram | None = None
        if settings.http_body_size:
            self.request_size = self.histogram_of(_metrics.REQUEST_BODY_SIZE, _SIZE_BUCKETS)
            self.response_size = self.histogram_of(_metrics.RESPONSE_BODY_SIZE, _SIZE_BUCKETS)
        exact = {p for p in settings.http_excluded_urls if not p.endswith("/*")}
        prefixes = tuple(p[:-2] for p in settings.http_excluded_urls if p.endswith("/*"))
        # otelkit's own health paths are never app traffic, whatever the user's list says.
        health = {settings.health_liveness_path, settings.health_readiness_path}
        self._excluded_exact = exact | set(prefixes) | health
        self._learned = 0
        self._excluded_prefixes = tuple(p + "/" for p in prefixes)

    def excluded(self, path: str) -> bool:
        return path in self._excluded_exact or (
            bool(self._excluded_prefixes) and path.startswith(self._excluded_prefixes)
        )

    def learn(self, path: str) -> None:
        """An otelkit endpoint answered ``path``, which only the app could tell: from now on
        (in this configuration) it is excluded before a clock or a span starts. Bounded, for a
        path of the client's choosing below an endpoint."""
        if self._learned < _MAX_LEARNED and path not in self._excluded_exact:
            self._learned += 1
            self._excluded_exact.add(path)


_SIZE_BUCKETS = (0.0, 100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0, 10_000_000.0)
_MAX_LEARNED = 64


current_recorder = HttpRecorder.current
"""``current_recorder(cached, spans)``: the recorder for the active configuration, ``cached``
while it is still active (the bound class method itself: one call per request)."""


class Exchange:
    """One request in flight; ``finish()`` may be called once, later calls do nothing."""

    __slots__ = (
        "_active_series",
        "_recorder",
        "_span",
        "_span_name",
        "_start",
        "_start_ns",
        "_token",
        "finished",
        "method",
        "original_method",
        "path",
        "protocol",
        "request_size",
        "response_size",
        "scheme",
        "status",
    )

    def __init__(
        self,
        recorder: HttpRecorder,
        method: str,
        scheme: str,
        protocol: str | None,
        path: str,
        headers: Getter | None,
        server: tuple[str, int | None] | None,
    ) -> None:
        """``headers``: the request's header lookup, for the span's parent; None when spans
        are off or the middleware found no propagation header (``PROPAGATION_HEADERS``)."""
        self._recorder = recorder
        self.original_method = method
        self.method = _METHODS.get(method, OTHER_METHOD)
        self.scheme = scheme
        self.protocol = protocol
        self.path = path
        self.status = 0
        self.finished = False
        self.request_size: int | None = None
        self.response_size = 0
        key = (self.method, scheme)
        self._active_series = recorder.active.series(
            key, lambda: {HTTP_REQUEST_METHOD: self.method, URL_SCHEME: scheme}
        )
        self._active_series.add(1)
        self._span: Span | None = None
        self._token: object | None = None
        self._start_ns = time.time_ns()
        self._start = time.perf_counter()
        if recorder.spans is not None:
            self._start_span(recorder.spans, path, headers, server)

    def _start_span(
        self,
        spans: SpanFactory,
        path: str,
        headers: Getter | None,
        server: tuple[str, int | None] | None,
    ) -> None:
        parent = None
        if headers is not None and any(headers(name) for name in PROPAGATION_HEADERS):
            parent = propagate.extract(headers, getter=_GETTER)
        attributes: dict[str, Any] = {
            HTTP_REQUEST_METHOD: self.method,
            URL_PATH: path_of(path),
            URL_SCHEME: self.scheme,
        }
        if self.method != self.original_method:
            attributes[HTTP_REQUEST_METHOD_ORIGINAL] = self.original_method
        if self.protocol:
            attributes[NETWORK_PROTOCOL_VERSION] = self.protocol
        if server is not None:
            attributes[SERVER_ADDRESS] = host_of(server[0])
            if server[1] is not None:
                attributes[SERVER_PORT] = server[1]
        self._span_name = "HTTP" if self.method == OTHER_METHOD else self.method
        span = spans.start(self._span_name, parent, SpanKind.SERVER, attributes, self._start_ns)
        self._span = span
        # ``trace.set_span_in_context(span, parent)``, with one copy of the context, not two
        base = parent if parent is not None else context_api.get_current()
        self._token = context_api.attach(context_api.Context(base, **{_SPAN_KEY: span}))

    def detach_context(self) -> None:
        """Leave the span's context (call in the same task or thread that created it)."""
        if self._token is not None:
            context_api.detach(self._token)  # type: ignore[arg-type]
            self._token = None

    def discard(self, route: str | None, error: str | None) -> None:
        """An otelkit endpoint answered (a scrape, a probe), as only the app could tell: no
        metrics, and the path is excluded from now on (``HttpRecorder.learn``).

        The span still ends, as in ``finish()``: it was current while the endpoint ran, so
        the spans made meanwhile are its children and may be exported already; dropping it
        would leave them with a parent that never arrives."""
        if self.finished:
            return
        self.finished = True
        self._active_series.add(-1)
        self._recorder.learn(self.path)
        if self._span is not None:
            self._end_span(self._span, route, error, time.perf_counter() - self._start)

    def finish(self, route: str | None, error: str | None) -> None:
        """Record the request: duration, active requests, sizes, the span's end."""
        if self.finished:
            return
        self.finished = True
        elapsed = time.perf_counter() - self._start
        recorder = self._recorder
        status = self.status
        if error is None and status >= 500:
            error = str(status)
        key = (self.method, route, status, self.scheme, error, self.protocol)
        recorder.duration.record(key, lambda: self._attributes(route, error), elapsed)
        self._active_series.add(-1)
        if recorder.request_size is not None and self.request_size is not None:
            recorder.request_size.record(
                key, lambda: self._attributes(route, error), self.request_size
            )
        if recorder.response_size is not None:
            recorder.response_size.record(
                key, lambda: self._attributes(route, error), self.response_size
            )
        span = self._span
        # as _end_span(), inline: the usual end of every request; an unsampled request's
        # ``NonRecordingSpan`` has nothing to end
        if span is not None and type(span) is not NonRecordingSpan:
            end_ns = self._start_ns + int(elapsed * 1e9)
            if type(span) is LightSpan or isinstance(span, KitSpan):  # started by otelkit
                span.end_http(self._span_name, route, status, error, end_ns)
            else:
                span.end(end_time=end_ns)

    def _end_span(self, span: Span, route: str | None, error: str | None, elapsed: float) -> None:
        end_ns = self._start_ns + int(elapsed * 1e9)
        if error is None and self.status >= 500:
            error = str(self.status)
        if isinstance(span, KitSpan):
            span.end_http(self._span_name, route, self.status, error, end_ns)
        else:
            span.end(end_time=end_ns)

    def _attributes(self, route: str | None, error: str | None) -> Mapping[str, Any]:
        attributes: dict[str, Any] = {HTTP_REQUEST_METHOD: self.method, URL_SCHEME: self.scheme}
        if route is not None:
            attributes[HTTP_ROUTE] = route
        if self.status:
            attributes[HTTP_RESPONSE_STATUS_CODE] = self.status
        if error is not None:
            attributes[ERROR_TYPE] = error
        if self.protocol:
            attributes[NETWORK_PROTOCOL_VERSION] = self.protocol
        return attributes


PROPAGATION_HEADERS = ("traceparent", "baggage")
"""The request headers that may carry a parent or baggage: without them nothing is extracted."""
_PROPAGATION_KEYS = frozenset(name.encode() for name in PROPAGATION_HEADERS)


_VERSIONS = {f"HTTP/{v}": v for v in ("1.0", "1.1", "2", "2.0", "3")}


def protocol_version(server_protocol: str) -> str | None:
    """``network.protocol.version`` from ``SERVER_PROTOCOL`` (``HTTP/1.1`` → ``1.1``): the
    usual ones as shared strings, so a span waiting for export holds no copy of its own."""
    found = _VERSIONS.get(server_protocol)
    return found if found is not None else (server_protocol.removeprefix("HTTP/") or None)


def propagation_lookup(pairs: Iterable[tuple[bytes, bytes]]) -> Getter | None:
    """``header_lookup(pairs)`` when a propagation header is among them, else None: one scan
    for the usual request without one, instead of one per header name."""
    wanted = _PROPAGATION_KEYS
    for key, _ in pairs:
        if key.lower() in wanted:
            return header_lookup(pairs)
    return None


def header_lookup(pairs: Iterable[tuple[bytes, bytes]]) -> Getter:
    """A case-insensitive lookup over ASGI header pairs, scanning only when asked."""

    def get(name: str) -> str | None:
        wanted = name.lower().encode("latin-1")
        for key, value in pairs:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    return get
