"""``LightSpan``: a recording span with plain fields that becomes an SDK ``ReadableSpan``.

It implements the OpenTelemetry ``Span`` API, and reads like the SDK's ``ReadableSpan`` (the
same read-only properties: ``attributes`` as a read-only view, ``events`` and ``links`` as
tuples, ``start_time``, ``end_time`` (None until it ends), ``resource``, the drop counts...),
so a span processor's ``on_start`` sees what an SDK span would show it. The span limits are the
provider's, applied with the SDK's rules (``_limits``). Properties cost nothing unless read.
"""

from __future__ import annotations

import time
import traceback
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import Event
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.exception_attributes import (
    EXCEPTION_ESCAPED,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
)
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE,
)
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode

from otelkit._errors import record_internal_error
from otelkit.tracing._base import KitSpan
from otelkit.tracing._limits import EndedSpan

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.util import types

    from otelkit.tracing._limits import Limits
    from otelkit.tracing._spans import SpanFactory

_ERROR = Status(StatusCode.ERROR)
_UNSET = Status(StatusCode.UNSET)


_NAMES: dict[tuple[str, str], str] = {}
"""``{method} {route}`` per pair, built once: the name a server span keeps until export is
shared by every request of that route instead of one string per request."""
_NAMES_LIMIT = 4096


def _span_name(method: str, route: str) -> str:
    name = _NAMES.get((method, route))
    if name is None:
        if len(_NAMES) >= _NAMES_LIMIT:  # routes are few; bounded all the same
            _NAMES.clear()
        name = _NAMES[method, route] = f"{method} {route}"
    return name


class LightSpan(KitSpan):
    """A recording span with plain fields; becomes a ``ReadableSpan`` when it ends."""

    __slots__ = (
        "_attributes",
        "_context",
        "_dropped_attributes",
        "_dropped_events",
        "_dropped_links",
        "_end_ns",
        "_events",
        "_factory",
        "_kind",
        "_limits",
        "_links",
        "_name",
        "_parent",
        "_start_ns",
        "_status",
    )

    def __init__(
        self,
        factory: SpanFactory,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: dict[str, Any],
        start_ns: int,
        dropped_attributes: int = 0,
    ) -> None:
        """``attributes`` (owned by the span from now on) must be within the limits."""
        self._factory = factory
        self._limits: Limits = factory.limits
        self._name = name
        self._context = context
        self._parent = parent
        self._kind = kind
        self._attributes = attributes
        self._dropped_attributes = dropped_attributes
        self._start_ns = start_ns
        self._end_ns: int | None = None
        # No list until the first event or link: an ended span waits in the export queue, and
        # two empty lists per span there are two more objects for the garbage collector.
        self._events: list[Event] | tuple[()] = ()
        self._links: list[Link] | tuple[()] = ()
        self._dropped_events = 0
        self._dropped_links = 0
        self._status = _UNSET

    # -- what ReadableSpan offers -------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    def get_span_context(self) -> SpanContext:
        return self._context

    @property
    def context(self) -> SpanContext:
        return self._context

    @property
    def kind(self) -> SpanKind:
        return self._kind

    @property
    def parent(self) -> SpanContext | None:
        return self._parent

    @property
    def start_time(self) -> int:
        return self._start_ns

    @property
    def end_time(self) -> int | None:
        return self._end_ns

    @property
    def status(self) -> Status:
        return self._status

    @property
    def attributes(self) -> Mapping[str, Any]:
        return MappingProxyType(self._attributes)

    @property
    def events(self) -> Sequence[Event]:
        return tuple(self._events)

    @property
    def links(self) -> Sequence[Link]:
        return tuple(self._links)

    @property
    def resource(self) -> Resource:
        return self._factory.resource

    @property
    def instrumentation_scope(self) -> InstrumentationScope:
        return self._factory.scope

    @property
    def dropped_attributes(self) -> int:
        return self._dropped_attributes

    @property
    def dropped_events(self) -> int:
        return self._dropped_events

    @property
    def dropped_links(self) -> int:
        return self._dropped_links

    def to_json(self, indent: int | None = 4) -> str:
        return str(self.readable().to_json(indent))

    # -- the Span API -------------------------------------------------------------------------

    def is_recording(self) -> bool:
        return self._end_ns is None

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        if self._end_ns is not None:
            return
        limits = self._limits
        if not limits.span_attributes:
            self._dropped_attributes += 1
        elif type(key) is str and key and limits.plain(value):
            self._store(key, value)
        else:
            kept, cleaned = limits.clean(key, value)
            if kept:
                self._store(key, cleaned)
            else:
                self._dropped_attributes += 1

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        if self._end_ns is not None:
            return
        limits = self._limits
        if not limits.span_attributes:
            self._dropped_attributes += len(attributes)
            return
        plain = limits.plain
        if all(type(k) is str and k and plain(v) for k, v in attributes.items()):
            cleaned = attributes
        else:  # as the SDK: the whole mapping is cleaned first (non-str keys become strings)
            cleaned, dropped = limits.cleaned(attributes)
            self._dropped_attributes += dropped
        for key, value in cleaned.items():
            self._store(key, value)

    def _store(self, key: str, value: Any) -> None:
        """``BoundedAttributes``: a key set again moves to the end; when full the oldest goes."""
        attributes = self._attributes
        if key in attributes:
            del attributes[key]
        elif len(attributes) >= self._limits.span_attributes:
            del attributes[next(iter(attributes))]
            self._dropped_attributes += 1
        attributes[key] = value

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        if self._end_ns is not None:
            return
        limits = self._limits
        event = Event(name, limits.event_attributes_of(attributes), timestamp)
        events = self._events
        if not isinstance(events, list):
            events = self._events = []
        if len(events) >= limits.events:  # BoundedList: the oldest goes
            self._dropped_events += 1
            if not events:
                return
            del events[0]
        events.append(event)

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        if self._end_ns is not None:
            return
        if not (context and (context.is_valid or attributes or context.trace_state)):
            return  # the SDK's validity rule for links
        limits = self._limits
        link = Link(context, limits.link_attributes_of(attributes))
        links = self._links
        if not isinstance(links, list):
            links = self._links = []
        if len(links) >= limits.links:
            self._dropped_links += 1
            if not links:
                return
            del links[0]
        links.append(link)

    def update_name(self, name: str) -> None:
        if self._end_ns is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """As the SDK: nothing changes an OK status, and UNSET is never set."""
        if self._end_ns is not None or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, Status):
            if status.status_code is not StatusCode.UNSET:
                self._status = status
        elif status is not StatusCode.UNSET:
            self._status = Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """As the SDK does when the user asks for it (otelkit itself never records messages)."""
        module = type(exception).__module__
        qualname = type(exception).__qualname__
        details: dict[str, Any] = {
            EXCEPTION_TYPE: f"{module}.{qualname}" if module and module != "builtins" else qualname,
            EXCEPTION_MESSAGE: str(exception),
            EXCEPTION_STACKTRACE: "".join(traceback.format_exception(exception)),
            EXCEPTION_ESCAPED: str(escaped),
        }
        details.update(attributes or {})
        self.add_event("exception", details, timestamp)

    def end_http(
        self, method_name: str, route: str | None, status: int, error: str | None, end_ns: int
    ) -> None:
        """The HTTP middleware's end: name, route, status and error in one step."""
        if self._end_ns is not None:
            return
        attributes, limits = self._attributes, self._limits
        length = limits.span_attribute_length
        if (
            len(attributes) + 2 <= limits.span_attributes
            and type(route) is str
            and (length is None or len(route) <= length)  # ``limits.plain(route)``
            and type(status) is int
        ):  # the usual end: both fit, nothing to evict or clean (``_store`` without the checks)
            self._name = _span_name(method_name, route)
            attributes.pop(HTTP_ROUTE, None)
            attributes[HTTP_ROUTE] = route
            if status:
                attributes.pop(HTTP_RESPONSE_STATUS_CODE, None)
                attributes[HTTP_RESPONSE_STATUS_CODE] = status
        else:
            if route is not None:
                self._name = _span_name(method_name, route)
                self.set_attribute(HTTP_ROUTE, route)
            if status:
                self.set_attribute(HTTP_RESPONSE_STATUS_CODE, status)
        if error is not None:
            self.set_attribute(ERROR_TYPE, error)
            if self._status.status_code is not StatusCode.OK:
                self._status = _ERROR
        self.end(end_ns)

    def end(self, end_time: int | None = None) -> None:
        if self._end_ns is not None:
            return
        self._end_ns = end_time if end_time is not None else time.time_ns()
        factory = self._factory
        try:
            sinks = factory.sinks()
            if sinks is None:
                factory.processor.on_end(self.readable())
            else:  # only otelkit's batch processors: queued as it is (``_sdk_lean``)
                for sink in sinks:
                    sink.put(self)
        except Exception as exc:
            record_internal_error("spans", exc)

    def readable(self) -> EndedSpan:
        """The ``ReadableSpan`` this ended span is to the processors and exporters."""
        factory = self._factory
        readable = EndedSpan(
            name=self._name,
            context=self._context,
            parent=self._parent,
            resource=factory.resource,
            attributes=self._attributes,
            events=self._events,
            links=self._links,
            kind=self._kind,
            status=self._status,
            start_time=self._start_ns,
            end_time=self._end_ns,
            instrumentation_scope=factory.scope,
        )
        if self._dropped_attributes or self._dropped_events or self._dropped_links:
            readable.drops = (self._dropped_attributes, self._dropped_events, self._dropped_links)
        return readable

    def __repr__(self) -> str:
        return f"LightSpan({self._name!r}, trace_id={self._context.trace_id:032x})"
