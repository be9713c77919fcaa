"""``KitSpan``: the span interface otelkit's instrumentations record through.

A span factory (``_spans``) starts a ``LightSpan`` (``_light``), or an ``SdkSpan``
(``_sdk_span``) when the processor seam is unusable. Both are ``KitSpan``s: the OpenTelemetry
``Span`` API plus ``end_http``, the HTTP middleware's one-step end. An unsampled start is an
API ``NonRecordingSpan``, which is not one, so a middleware checks ``isinstance(span, KitSpan)``
before calling ``end_http``.
"""

from __future__ import annotations

import abc

from opentelemetry import trace as trace_api

__all__ = ["KitSpan"]


class KitSpan(trace_api.Span):
    """A recording span started by otelkit: the ``Span`` API and ``end_http``."""

    __slots__ = ()

    @abc.abstractmethod
    def end_http(
        self, method_name: str, route: str | None, status: int, error: str | None, end_ns: int
    ) -> None:
        """End an HTTP server span: the route (in the name and ``http.route``) when known, the
        response status code when there is one, ``error.type`` and an ERROR status for an
        ``error``, then ``end(end_ns)``. Nothing once the span has ended."""
