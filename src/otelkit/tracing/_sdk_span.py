"""``SdkSpan``: an ordinary SDK span behind the interface a ``LightSpan`` has (``KitSpan``).

Used when the processor seam is unusable (``_sdk_compat.SPAN_PROCESSOR``): the span factory
then starts SDK spans through ``provider.get_tracer(...)``, and the instrumentations keep
calling what they call on a light span, ``end_http(...)`` included. Everything is the SDK's:
limits, processors (which see the SDK span itself in ``on_start``), the readable copy at the end.
It shares ``KitSpan`` with ``LightSpan``, not ``LightSpan`` itself: none of a light span's
fields exist here, so nothing of its implementation may be inherited. It also reads like a
light span (``name``, ``attributes``, ``end_time``...), from the SDK span.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE,
)
from opentelemetry.trace import Status, StatusCode

from otelkit._errors import record_internal_error
from otelkit.tracing._base import KitSpan

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import Event
    from opentelemetry.sdk.trace import Span as SdkTraceSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import Link, SpanContext, SpanKind
    from opentelemetry.util import types

_ERROR = Status(StatusCode.ERROR)


class SdkSpan(KitSpan):
    """Delegates every call and read to the SDK span it wraps."""

    __slots__ = ("_span",)

    def __init__(self, span: SdkTraceSpan) -> None:
        self._span = span

    @property
    def span(self) -> SdkTraceSpan:
        """The SDK span itself."""
        return self._span

    # -- reads: the SDK span's ----------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._span.name

    def get_span_context(self) -> SpanContext:
        return self._span.get_span_context()

    @property
    def context(self) -> SpanContext:
        return self._span.get_span_context()

    @property
    def kind(self) -> SpanKind:
        return self._span.kind

    @property
    def parent(self) -> SpanContext | None:
        return self._span.parent

    @property
    def start_time(self) -> int:
        return self._span.start_time or 0

    @property
    def end_time(self) -> int | None:
        return self._span.end_time

    @property
    def status(self) -> Status:
        return self._span.status

    @property
    def attributes(self) -> Mapping[str, Any]:
        return self._span.attributes or {}

    @property
    def events(self) -> Sequence[Event]:
        return self._span.events

    @property
    def links(self) -> Sequence[Link]:
        return self._span.links

    @property
    def resource(self) -> Resource:
        return self._span.resource

    @property
    def instrumentation_scope(self) -> InstrumentationScope:
        scope = self._span.instrumentation_scope
        assert scope is not None  # the SDK tracer always sets it
        return scope

    @property
    def dropped_attributes(self) -> int:
        return self._span.dropped_attributes

    @property
    def dropped_events(self) -> int:
        return self._span.dropped_events

    @property
    def dropped_links(self) -> int:
        return self._span.dropped_links

    def to_json(self, indent: int | None = 4) -> str:
        return str(self._span.to_json(indent))

    # -- the Span API: the SDK span's ---------------------------------------------------------

    def is_recording(self) -> bool:
        return self._span.is_recording()

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        self._span.set_attribute(key, value)

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        self._span.set_attributes(attributes)

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        self._span.add_event(name, attributes, timestamp)

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        self._span.add_link(context, attributes)

    def update_name(self, name: str) -> None:
        self._span.update_name(name)

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        self._span.set_status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        self._span.record_exception(exception, attributes, timestamp, escaped)

    def end_http(
        self, method_name: str, route: str | None, status: int, error: str | None, end_ns: int
    ) -> None:
        span = self._span
        if not span.is_recording():
            return
        if route is not None:
            span.update_name(f"{method_name} {route}")
            span.set_attribute(HTTP_ROUTE, route)
        if status:
            span.set_attribute(HTTP_RESPONSE_STATUS_CODE, status)
        if error is not None:
            span.set_attribute(ERROR_TYPE, error)
            span.set_status(_ERROR)  # the SDK leaves an OK status alone, as a light span does
        self.end(end_ns)

    def end(self, end_time: int | None = None) -> None:
        """As a light span: a processor's failure in ``on_end`` stays out of the caller."""
        try:
            self._span.end(end_time)
        except Exception as exc:
            record_internal_error("spans", exc)

    def __repr__(self) -> str:
        return f"SdkSpan({self._span!r})"
