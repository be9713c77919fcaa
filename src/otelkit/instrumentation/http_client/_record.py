"""What every client instrumentation shares: one call measured, its span, its trace headers.

A library's wrapper calls ``begin()`` with what the request says (method, scheme, host, port,
path) before it goes out, ``Call.inject(headers)`` to add the trace context to its headers, and
``Call.end(status, exc)`` once the response's headers are in (or the call failed). ``begin()``
returns None, and the wrapper just calls the library, when no configuration is running, when
instrumentation is suppressed (the SDK's exporters suppress it around their own requests, so an
OTLP export over ``requests`` is not measured and does not trace itself), or when the recorder
cannot be built. None of these raise into the caller: failures are counted as internal errors
of ``http_client``.

Only the parts of a URL that name the peer are recorded: ``server.address`` is the host alone
(the libraries keep userinfo apart from it), the span's ``url.full`` is rebuilt from scheme,
host, port and path, so neither a query nor credentials ever reach an attribute.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from opentelemetry import context as context_api
from opentelemetry import propagate, trace
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_REQUEST_METHOD_ORIGINAL,
    HTTP_RESPONSE_STATUS_CODE,
    HttpRequestMethodValues,
)
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.semconv.attributes.url_attributes import URL_FULL, URL_SCHEME
from opentelemetry.trace import SpanKind

from otelkit._errors import guarded
from otelkit._version import __version__
from otelkit.config._core import SEMCONV_DURATION_BUCKETS
from otelkit.instrumentation._error_type import error_type
from otelkit.instrumentation._recorder import CurrentRecorder, Recorder
from otelkit.instrumentation._suppress import suppressed
from otelkit.instrumentation.http._url import path_of
from otelkit.instrumentation.http_client import _metrics
from otelkit.tracing._base import KitSpan

if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping

    from opentelemetry.trace import Span

    from otelkit.metrics._fastpath import FastHistogram
    from otelkit.runtime._telemetry import Telemetry

__all__ = ["COMPONENT", "RECORDER", "SCOPE", "Call", "begin", "default_port"]

SCOPE = InstrumentationScope("otelkit.http_client", __version__)
COMPONENT = "http_client"
"""The component internal errors are counted under."""

_KNOWN_METHODS = frozenset(m.value for m in HttpRequestMethodValues if m.value != "_OTHER")
_OTHER = HttpRequestMethodValues.OTHER.value
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ClientRecorder(Recorder):
    """The outgoing-call instruments and span factory of one configuration."""

    def __init__(self, telemetry: Telemetry) -> None:
        super().__init__(telemetry, SCOPE)
        self.duration: FastHistogram = self.histogram_of(
            _metrics.REQUEST_DURATION, SEMCONV_DURATION_BUCKETS
        )


RECORDER: CurrentRecorder[ClientRecorder] = CurrentRecorder(ClientRecorder)


def default_port(scheme: str, port: int | None) -> int | None:
    """The port a call goes to: the given one, else the scheme's default."""
    return port if port is not None else _DEFAULT_PORTS.get(scheme)


class Call:
    """One outgoing request in flight; ``end()`` records it once, later calls do nothing."""

    __slots__ = ("_recorder", "_span", "_start", "_start_ns", "host", "method", "port", "scheme")

    def __init__(
        self, recorder: ClientRecorder, method: str, scheme: str, host: str, port: int | None
    ) -> None:
        self._recorder: ClientRecorder | None = recorder
        self.method = method if method in _KNOWN_METHODS else _OTHER
        self.scheme = scheme
        self.host = host
        self.port = port
        self._span: Span | None = None
        self._start_ns = time.time_ns()
        self._start = time.perf_counter()

    def _start_span(self, recorder: ClientRecorder, original_method: str, path: str) -> None:
        spans = recorder.spans
        if spans is None:
            return
        attributes: dict[str, Any] = {
            HTTP_REQUEST_METHOD: self.method,
            SERVER_ADDRESS: self.host,
            URL_SCHEME: self.scheme,
            URL_FULL: _url_full(self.scheme, self.host, self.port, path),
        }
        if self.port is not None:
            attributes[SERVER_PORT] = self.port
        if self.method == _OTHER:
            attributes[HTTP_REQUEST_METHOD_ORIGINAL] = original_method
        self._span = spans.start(
            self._name(), context_api.get_current(), SpanKind.CLIENT, attributes, self._start_ns
        )

    def _name(self) -> str:
        return "HTTP" if self.method == _OTHER else self.method

    @guarded(COMPONENT, None)
    def inject(self, headers: MutableMapping[str, str]) -> None:
        """Add the trace context of this call's span (if it has one) to ``headers``."""
        if self._span is not None:
            propagate.inject(headers, context=trace.set_span_in_context(self._span))

    @guarded(COMPONENT, None)
    def end(self, status: int, exc: BaseException | None) -> None:
        """Record the call: ``status`` of its response (0 without one) or the exception that
        ended it."""
        recorder = self._recorder
        if recorder is None:
            return
        self._recorder = None
        elapsed = time.perf_counter() - self._start
        if exc is not None:
            error: str | None = error_type(exc)
        elif status >= 400:
            error = str(status)
        else:
            error = None
        key = (self.method, self.host, self.port, status, self.scheme, error)
        recorder.duration.record(key, lambda: self._attributes(status, error), elapsed)
        span = self._span
        if span is not None:
            end_ns = self._start_ns + int(elapsed * 1e9)
            if isinstance(span, KitSpan):
                span.end_http(self._name(), None, status, error, end_ns)
            else:  # not sampled: a non-recording span
                span.end(end_time=end_ns)

    def _attributes(self, status: int, error: str | None) -> Mapping[str, Any]:
        attributes: dict[str, Any] = {
            HTTP_REQUEST_METHOD: self.method,
            SERVER_ADDRESS: self.host,
            URL_SCHEME: self.scheme,
        }
        if self.port is not None:
            attributes[SERVER_PORT] = self.port
        if status:
            attributes[HTTP_RESPONSE_STATUS_CODE] = status
        if error is not None:
            attributes[ERROR_TYPE] = error
        return attributes


@guarded(COMPONENT, None)
def begin(method: str, scheme: str, host: str, port: int | None, path: str) -> Call | None:
    """A call about to go out, or None when it is not to be measured (see the module)."""
    if suppressed():  # the SDK exporters' own requests, and code that asked not to be measured
        return None
    recorder = RECORDER.get()
    if recorder is None:
        return None
    scheme = scheme.lower()
    call = Call(recorder, method, scheme, host, default_port(scheme, port))
    if recorder.spans is not None:
        call._start_span(recorder, method, path)
    return call


def _url_full(scheme: str, host: str, port: int | None, path: str) -> str:
    """The call's URL without userinfo, query or fragment."""
    path = path_of(path)
    for mark in ("?", "#"):
        path = path.partition(mark)[0]
    if not path.startswith("/"):
        path = "/" + path
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{path}"
