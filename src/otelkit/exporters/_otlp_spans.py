"""Ended spans to the bytes of an OTLP ``ExportTraceServiceRequest``, written by hand.

The SDK's OTLP encoder builds a protobuf message per span, per attribute and per value, and
hashes each span's resource (a ``json.dumps`` of its attributes) to group the batch: about
90 % of an export's cost. Here each span is written straight to bytes, the batch is grouped by
resource and scope as the SDK groups it (equal resources together, equal scopes together, in
order of first appearance), each resource and scope is encoded once per batch (and kept for
the next while they stay the same objects), and attributes go through the bounded caches of
``_protobuf.AttributeEncoder``. The result is the SDK's encoding, field for field: any
``ReadableSpan`` (otelkit's light spans once ended, SDK spans alike), every ``AnyValue``
type, events, links, status, kind, trace state, parent, dropped counts and span flags
(whether the parent, or a link's context, is remote). Like the SDK, a link's trace state is
not exported.

Field numbers are those of opentelemetry-proto's ``trace.proto``, ``resource.proto`` and
``trace_service.proto``; a test compares every tag with the installed descriptors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry.trace import SpanKind, StatusCode

from otelkit.exporters._protobuf import (
    AttributeEncoder,
    field,
    pack_fixed32,
    pack_fixed64,
    text,
    varint,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext

__all__ = ["encode_spans"]

# ExportTraceServiceRequest, ResourceSpans, ScopeSpans, Resource, InstrumentationScope.
REQUEST_RESOURCE_SPANS = b"\x0a"
RESOURCE_SPANS_RESOURCE, RESOURCE_SPANS_SCOPE_SPANS, RESOURCE_SPANS_SCHEMA_URL = (
    b"\x0a",
    b"\x12",
    b"\x1a",
)
SCOPE_SPANS_SCOPE, SCOPE_SPANS_SPANS, SCOPE_SPANS_SCHEMA_URL = b"\x0a", b"\x12", b"\x1a"
RESOURCE_ATTRIBUTES = b"\x0a"
SCOPE_NAME, SCOPE_VERSION, SCOPE_ATTRIBUTES = b"\x0a", b"\x12", b"\x1a"
# Span: fields 1-15 in order, then flags (16, fixed32: a two-byte tag).
SPAN_TRACE_ID, SPAN_SPAN_ID, SPAN_TRACE_STATE, SPAN_PARENT_SPAN_ID = (
    b"\x0a",
    b"\x12",
    b"\x1a",
    b"\x22",
)
SPAN_NAME, SPAN_KIND, SPAN_START, SPAN_END = b"\x2a", b"\x30", b"\x39", b"\x41"
SPAN_ATTRIBUTES, SPAN_DROPPED_ATTRIBUTES, SPAN_EVENTS, SPAN_DROPPED_EVENTS = (
    b"\x4a",
    b"\x50",
    b"\x5a",
    b"\x60",
)
SPAN_LINKS, SPAN_DROPPED_LINKS, SPAN_STATUS, SPAN_FLAGS = b"\x6a", b"\x70", b"\x7a", b"\x85\x01"
EVENT_TIME, EVENT_NAME, EVENT_ATTRIBUTES, EVENT_DROPPED_ATTRIBUTES = (
    b"\x09",
    b"\x12",
    b"\x1a",
    b"\x20",
)
LINK_TRACE_ID, LINK_SPAN_ID, LINK_ATTRIBUTES, LINK_DROPPED_ATTRIBUTES, LINK_FLAGS = (
    b"\x0a",
    b"\x12",
    b"\x22",
    b"\x28",
    b"\x35",
)
STATUS_MESSAGE, STATUS_CODE = b"\x12", b"\x18"

_KINDS = {
    SpanKind.INTERNAL: b"\x01",
    SpanKind.SERVER: b"\x02",
    SpanKind.CLIENT: b"\x03",
    SpanKind.PRODUCER: b"\x04",
    SpanKind.CONSUMER: b"\x05",
}
"""``Span.SpanKind`` of trace.proto: the API's kind plus one (0 is UNSPECIFIED)."""
_KIND_FIELDS = {id(kind): SPAN_KIND + value for kind, value in _KINDS.items()}
"""The kind field by the enum member's identity (hashing an enum member runs Python code)."""

HAS_IS_REMOTE, IS_REMOTE = 0x100, 0x200
"""``SpanFlags``: whether a parent's (or link's) remoteness is known, and that it is remote."""
_LOCAL_FLAGS = SPAN_FLAGS + pack_fixed32(HAS_IS_REMOTE)
_REMOTE_FLAGS = SPAN_FLAGS + pack_fixed32(HAS_IS_REMOTE | IS_REMOTE)
_LINK_LOCAL_FLAGS = LINK_FLAGS + pack_fixed32(HAS_IS_REMOTE)
_LINK_REMOTE_FLAGS = LINK_FLAGS + pack_fixed32(HAS_IS_REMOTE | IS_REMOTE)
_UNSET_STATUS = field(SPAN_STATUS, b"")
"""A status without code or message: an empty message, present (as the SDK sends it)."""

_span_attributes = AttributeEncoder(SPAN_ATTRIBUTES)
_event_attributes = AttributeEncoder(EVENT_ATTRIBUTES)
_link_attributes = AttributeEncoder(LINK_ATTRIBUTES)
_resource_attributes = AttributeEncoder(RESOURCE_ATTRIBUTES, cache_limit=256)

_KEPT = 64
"""How many resources and scopes keep their encoding between batches (by identity; a
provider's resource and its tracers' scopes live as long as the process)."""
_resources: dict[int, tuple[Resource, bytes]] = {}
_scopes: dict[int, tuple[InstrumentationScope | None, bytes]] = {}


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """The serialized ``ExportTraceServiceRequest`` of ``spans``, as the SDK would send it."""
    groups: dict[Resource, dict[InstrumentationScope | None, list[bytes]]] = {}
    by_identity: dict[int, dict[InstrumentationScope | None, list[bytes]]] = {}
    for span in spans:
        resource = span.resource
        scopes = by_identity.get(id(resource))
        if scopes is None:  # hashed once per resource object and batch, not once per span
            scopes = by_identity[id(resource)] = groups.setdefault(resource, {})
        encoded = _span(span)
        scope = span.instrumentation_scope or None
        listed = scopes.get(scope)
        if listed is None:
            scopes[scope] = [encoded]
        else:
            listed.append(encoded)
    out = []
    for resource, scopes in groups.items():
        parts = [_resource(resource)]
        for scope, encoded_spans in scopes.items():
            schema_url = scope.schema_url if scope else None
            body = b"".join(
                (_scope(scope), *encoded_spans, text(SCOPE_SPANS_SCHEMA_URL, schema_url))
            )
            parts.append(field(RESOURCE_SPANS_SCOPE_SPANS, body))
        parts.append(text(RESOURCE_SPANS_SCHEMA_URL, resource.schema_url))
        out.append(field(REQUEST_RESOURCE_SPANS, b"".join(parts)))
    return b"".join(out)


def _span(span: ReadableSpan) -> bytes:
    """One ``Span`` field of a ``ScopeSpans`` (tag and length included)."""
    context = span.get_span_context()
    assert context is not None  # an ended span always has one
    parent = span.parent
    parts = [
        SPAN_TRACE_ID + b"\x10" + context.trace_id.to_bytes(16, "big"),
        SPAN_SPAN_ID + b"\x08" + context.span_id.to_bytes(8, "big"),
    ]
    trace_state = context.trace_state
    if trace_state:
        parts.append(text(SPAN_TRACE_STATE, _trace_state(trace_state)))
    if parent is not None:
        parts.append(SPAN_PARENT_SPAN_ID + b"\x08" + parent.span_id.to_bytes(8, "big"))
    parts.append(text(SPAN_NAME, span.name))
    parts.append(_KIND_FIELDS[id(span.kind)])
    start, end = span.start_time, span.end_time
    if start:
        parts.append(SPAN_START + pack_fixed64(start))
    if end:
        parts.append(SPAN_END + pack_fixed64(end))
    parts.append(_span_attributes.encode(span.attributes))
    dropped = span.dropped_attributes
    if dropped:
        parts.append(SPAN_DROPPED_ATTRIBUTES + varint(dropped))
    events = span.events
    if events:
        parts.extend(field(SPAN_EVENTS, _event(event)) for event in events)
    dropped = span.dropped_events
    if dropped:
        parts.append(SPAN_DROPPED_EVENTS + varint(dropped))
    links = span.links
    if links:
        parts.extend(field(SPAN_LINKS, _link(link)) for link in links)
    dropped = span.dropped_links
    if dropped:
        parts.append(SPAN_DROPPED_LINKS + varint(dropped))
    status = span.status
    if status is not None:
        code, message = status.status_code, status.description
        if code is StatusCode.UNSET and not message:
            parts.append(_UNSET_STATUS)
        else:
            code_field = STATUS_CODE + varint(code.value) if code.value else b""
            parts.append(field(SPAN_STATUS, text(STATUS_MESSAGE, message) + code_field))
    parts.append(_REMOTE_FLAGS if parent is not None and parent.is_remote else _LOCAL_FLAGS)
    return field(SCOPE_SPANS_SPANS, b"".join(parts))


def _trace_state(trace_state: Any) -> str:
    return ",".join([f"{key}={value}" for key, value in trace_state.items()])


def _event(event: Any) -> bytes:
    parts = []
    if event.timestamp:
        parts.append(EVENT_TIME + pack_fixed64(event.timestamp))
    parts.append(text(EVENT_NAME, event.name))
    parts.append(_event_attributes.encode(event.attributes))
    if event.dropped_attributes:
        parts.append(EVENT_DROPPED_ATTRIBUTES + varint(event.dropped_attributes))
    return b"".join(parts)


def _link(link: Any) -> bytes:
    context: SpanContext = link.context
    parts = [
        LINK_TRACE_ID + b"\x10" + context.trace_id.to_bytes(16, "big"),
        LINK_SPAN_ID + b"\x08" + context.span_id.to_bytes(8, "big"),
        _link_attributes.encode(link.attributes),
    ]
    if link.dropped_attributes:
        parts.append(LINK_DROPPED_ATTRIBUTES + varint(link.dropped_attributes))
    parts.append(_LINK_REMOTE_FLAGS if context.is_remote else _LINK_LOCAL_FLAGS)
    return b"".join(parts)


def _resource(resource: Resource) -> bytes:
    """The ``ResourceSpans.resource`` field, encoded once while the resource lives."""
    kept = _resources.get(id(resource))
    if kept is not None and kept[0] is resource:
        return kept[1]
    encoded = field(RESOURCE_SPANS_RESOURCE, _resource_attributes.encode(resource.attributes))
    if len(_resources) >= _KEPT:
        _resources.clear()
    _resources[id(resource)] = (resource, encoded)
    return encoded


def _scope(scope: InstrumentationScope | None) -> bytes:
    """The ``ScopeSpans.scope`` field (empty but present without a scope), encoded once."""
    kept = _scopes.get(id(scope))
    if kept is not None and kept[0] is scope:
        return kept[1]
    body = b""
    if scope is not None:
        body = text(SCOPE_NAME, scope.name) + text(SCOPE_VERSION, scope.version)
        body += _event_attributes.encode(scope.attributes)  # the same tag (3)
    encoded = field(SCOPE_SPANS_SCOPE, body)
    if len(_scopes) >= _KEPT:
        _scopes.clear()
    _scopes[id(scope)] = (scope, encoded)
    return encoded
