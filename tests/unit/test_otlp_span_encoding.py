"""otelkit's own OTLP span encoding gives what the SDK's OTLP encoder gives, field for field.

Every case encodes the same batch twice: with ``otelkit.exporters._otlp_spans.encode_spans``
and with the SDK exporter's ``encode_spans``. The real protobuf classes decide: the decoded
request must equal the SDK's message, and the bytes must be the SDK's serialization.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import pytest
from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceState

import otelkit
from otelkit import testing
from otelkit.exporters import _otlp_spans, _protobuf
from otelkit.exporters._otlp_spans import encode_spans
from otelkit.tracing._limits import EndedSpan

if TYPE_CHECKING:
    from collections.abc import Sequence

    from google.protobuf.descriptor import Descriptor


def assert_same_encoding(spans: Sequence[ReadableSpan]) -> None:
    ours = encode_spans(spans)
    theirs = sdk_encode(spans)
    assert ExportTraceServiceRequest.FromString(ours) == theirs
    assert ours == theirs.SerializePartialToString()


# --- strategies --------------------------------------------------------------------------------

keys = st.text(max_size=8)
scalars = (
    st.text(max_size=12)
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.binary(max_size=8)
)
sequences = st.recursive(
    st.lists(scalars | st.none(), max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, scalars),
    max_leaves=8,
)
values = scalars | sequences | st.dictionaries(keys, scalars | sequences, max_size=3)
attributes = st.dictionaries(keys, values, max_size=6)
ids128, ids64 = st.integers(0, 2**128 - 1), st.integers(0, 2**64 - 1)
trace_states = st.sampled_from(
    [TraceState(), TraceState([("vendor", "v1")]), TraceState([("a", "1"), ("b@x", "2-3")])]
)
contexts = st.builds(
    SpanContext,
    trace_id=ids128,
    span_id=ids64,
    is_remote=st.booleans(),
    trace_state=trace_states,
)
counts = st.integers(0, 2**31)
times = st.none() | st.integers(0, 2**64 - 1)


@st.composite
def bounded(draw: st.DrawFn) -> BoundedAttributes:
    """Attributes that dropped some (the SDK's event and link attributes count drops)."""
    given_attributes = draw(st.dictionaries(keys, scalars, max_size=5))
    return BoundedAttributes(draw(st.integers(0, 5)), given_attributes)


events = st.builds(
    Event, name=st.text(max_size=8), attributes=st.none() | bounded(), timestamp=times
)
links = st.builds(Link, context=contexts, attributes=st.none() | bounded())
statuses = st.sampled_from([StatusCode.UNSET, StatusCode.OK]).map(Status) | st.builds(
    Status, st.just(StatusCode.ERROR), st.none() | st.text(max_size=10)
)
resources = st.sampled_from(
    [
        Resource({"service.name": "orders"}),
        Resource({"service.name": "orders"}),  # equal, another object: grouped with the first
        Resource({"service.name": "billing", "replicas": 3}, "https://schemas/1"),
        Resource({}),
    ]
)
scopes = st.sampled_from(
    [
        None,
        InstrumentationScope("otelkit.http", "1.0"),
        InstrumentationScope("otelkit.http", "1.0", None, {"other": "ignored"}),  # equal
        InstrumentationScope("lib", None, "https://schemas/2", {"lib.flag": True}),
    ]
)


@st.composite
def spans(draw: st.DrawFn) -> ReadableSpan:
    """An ended span with any content: an otelkit light span's or an SDK span's class."""
    fields: dict[str, Any] = {
        "name": draw(st.text(max_size=12)),
        "context": draw(contexts),
        "parent": draw(st.none() | contexts),
        "resource": draw(resources),
        "attributes": draw(attributes),
        "events": draw(st.lists(events, max_size=3)),
        "links": draw(st.lists(links, max_size=3)),
        "kind": draw(st.sampled_from(SpanKind)),
        "status": draw(statuses),
        "start_time": draw(times),
        "end_time": draw(times),
        "instrumentation_scope": draw(scopes),
    }
    if draw(st.booleans()):
        return ReadableSpan(**fields)
    ended = EndedSpan(**fields)
    ended.drops = (draw(counts), draw(counts), draw(counts))
    return ended


# --- equivalence -------------------------------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(spans(), max_size=6))
def test_any_batch_is_encoded_as_the_sdk_encodes_it(batch: list[ReadableSpan]) -> None:
    assert_same_encoding(batch)


def test_a_span_using_every_field_keeps_every_field() -> None:
    """No field of Span, Event, Link or Status is left out (the decoded message shows them)."""
    parent = SpanContext(1, 2, is_remote=True)
    span = EndedSpan(
        name="GET /items/{id}",
        context=SpanContext(3, 4, is_remote=False, trace_state=TraceState([("k", "v")])),
        parent=parent,
        resource=Resource({"service.name": "orders"}, "https://schemas/r"),
        attributes={"s": "x", "b": False, "i": 0, "f": -0.0, "y": b"", "a": [None, ["n"]]},
        events=[Event("e", BoundedAttributes(1, {"k": 1, "l": 2}), timestamp=5)],
        links=[Link(parent, BoundedAttributes(1, {"k": 1, "l": 2}))],
        kind=SpanKind.CONSUMER,
        status=Status(StatusCode.ERROR, "boom"),
        start_time=6,
        end_time=7,
        instrumentation_scope=InstrumentationScope("lib", "2", "https://schemas/s", {"q": 1}),
    )
    span.drops = (1, 2, 3)
    assert_same_encoding([span])

    (resource_spans,) = ExportTraceServiceRequest.FromString(encode_spans([span])).resource_spans
    (scope_spans,) = resource_spans.scope_spans
    (decoded,) = scope_spans.spans
    assert _field_names(decoded) == _all_fields(trace_pb2.Span.DESCRIPTOR)
    assert _field_names(decoded.events[0]) == _all_fields(trace_pb2.Span.Event.DESCRIPTOR)
    assert _field_names(decoded.links[0]) == _all_fields(trace_pb2.Span.Link.DESCRIPTOR) - {
        "trace_state"  # the SDK's encoder does not export a link's trace state
    }
    assert _field_names(decoded.status) == {"code", "message"}
    assert _field_names(scope_spans) == {"scope", "spans", "schema_url"}
    assert _field_names(resource_spans) == {"resource", "scope_spans", "schema_url"}
    assert decoded.flags == 0x300  # the parent's remoteness is known, and it is remote
    assert decoded.links[0].flags == 0x300


def _field_names(message: Any) -> set[str]:
    return {descriptor.name for descriptor, _ in message.ListFields()}


def _all_fields(descriptor: Descriptor) -> set[str]:
    return {field.name for field in descriptor.fields}


def test_nan_and_infinities_are_the_sdks_bytes() -> None:
    span = ReadableSpan("x", SpanContext(1, 2, False), attributes={"f": [math.nan, -math.inf]})
    assert encode_spans([span]) == sdk_encode([span]).SerializePartialToString()


@pytest.mark.parametrize(
    "bad",
    [2**63, -(2**63) - 1, object(), ["fine", object()], "\ud800"],
    ids=["above int64", "below int64", "an object", "an object in a list", "a lone surrogate"],
)
def test_an_attribute_the_encoder_rejects_is_left_out_the_others_kept(
    bad: object, caplog: pytest.LogCaptureFixture
) -> None:
    span = ReadableSpan(
        "x", SpanContext(1, 2, False), attributes={"before": 1, "bad": bad, "after": "z"}
    )
    with caplog.at_level(logging.WARNING, logger="otelkit"):
        ours = ExportTraceServiceRequest.FromString(encode_spans([span]))
    (decoded,) = ours.resource_spans[0].scope_spans[0].spans
    assert [pair.key for pair in decoded.attributes] == ["before", "after"]
    with caplog.at_level(logging.CRITICAL):  # the SDK logs its own ERROR with a traceback
        assert ours == sdk_encode([span])
    assert any("'bad'" in record.getMessage() for record in caplog.records)


def test_the_caches_stay_bounded_and_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    encoder = _protobuf.AttributeEncoder(b"\x4a", cache_limit=8)
    monkeypatch.setattr(_otlp_spans, "_span_attributes", encoder)
    monkeypatch.setattr(_otlp_spans, "_KEPT", 2)
    batch = [
        ReadableSpan(
            "x",
            SpanContext(1, n + 1, False),
            resource=Resource({"n": n % 5}),
            attributes={"n": n, "k": f"v{n % 3}", "flag": n % 2 == 0, "one": 1, "true": True},
            instrumentation_scope=InstrumentationScope(f"s{n % 4}"),
        )
        for n in range(40)
    ]
    assert_same_encoding(batch)
    assert_same_encoding(batch)  # again, from whatever the caches kept
    assert len(encoder._cache) <= 8
    assert len(_otlp_spans._resources) <= 2
    assert len(_otlp_spans._scopes) <= 2


# --- the tags are opentelemetry-proto's ---------------------------------------------------------

_WIRE_TYPES = {
    **dict.fromkeys([FieldDescriptor.TYPE_BOOL, FieldDescriptor.TYPE_INT64], 0),
    **dict.fromkeys([FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_ENUM], 0),
    **dict.fromkeys([FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_DOUBLE], 1),
    FieldDescriptor.TYPE_FIXED32: 5,
}
"""Protobuf wire types; every other field type here is length-delimited (2)."""

TAGS = [
    (ExportTraceServiceRequest, "resource_spans", _otlp_spans.REQUEST_RESOURCE_SPANS),
    (trace_pb2.ResourceSpans, "resource", _otlp_spans.RESOURCE_SPANS_RESOURCE),
    (trace_pb2.ResourceSpans, "scope_spans", _otlp_spans.RESOURCE_SPANS_SCOPE_SPANS),
    (trace_pb2.ResourceSpans, "schema_url", _otlp_spans.RESOURCE_SPANS_SCHEMA_URL),
    (trace_pb2.ScopeSpans, "scope", _otlp_spans.SCOPE_SPANS_SCOPE),
    (trace_pb2.ScopeSpans, "spans", _otlp_spans.SCOPE_SPANS_SPANS),
    (trace_pb2.ScopeSpans, "schema_url", _otlp_spans.SCOPE_SPANS_SCHEMA_URL),
    (resource_pb2.Resource, "attributes", _otlp_spans.RESOURCE_ATTRIBUTES),
    (common_pb2.InstrumentationScope, "name", _otlp_spans.SCOPE_NAME),
    (common_pb2.InstrumentationScope, "version", _otlp_spans.SCOPE_VERSION),
    (common_pb2.InstrumentationScope, "attributes", _otlp_spans.SCOPE_ATTRIBUTES),
    (trace_pb2.Span, "trace_id", _otlp_spans.SPAN_TRACE_ID),
    (trace_pb2.Span, "span_id", _otlp_spans.SPAN_SPAN_ID),
    (trace_pb2.Span, "trace_state", _otlp_spans.SPAN_TRACE_STATE),
    (trace_pb2.Span, "parent_span_id", _otlp_spans.SPAN_PARENT_SPAN_ID),
    (trace_pb2.Span, "name", _otlp_spans.SPAN_NAME),
    (trace_pb2.Span, "kind", _otlp_spans.SPAN_KIND),
    (trace_pb2.Span, "start_time_unix_nano", _otlp_spans.SPAN_START),
    (trace_pb2.Span, "end_time_unix_nano", _otlp_spans.SPAN_END),
    (trace_pb2.Span, "attributes", _otlp_spans.SPAN_ATTRIBUTES),
    (trace_pb2.Span, "dropped_attributes_count", _otlp_spans.SPAN_DROPPED_ATTRIBUTES),
    (trace_pb2.Span, "events", _otlp_spans.SPAN_EVENTS),
    (trace_pb2.Span, "dropped_events_count", _otlp_spans.SPAN_DROPPED_EVENTS),
    (trace_pb2.Span, "links", _otlp_spans.SPAN_LINKS),
    (trace_pb2.Span, "dropped_links_count", _otlp_spans.SPAN_DROPPED_LINKS),
    (trace_pb2.Span, "status", _otlp_spans.SPAN_STATUS),
    (trace_pb2.Span, "flags", _otlp_spans.SPAN_FLAGS),
    (trace_pb2.Span.Event, "time_unix_nano", _otlp_spans.EVENT_TIME),
    (trace_pb2.Span.Event, "name", _otlp_spans.EVENT_NAME),
    (trace_pb2.Span.Event, "attributes", _otlp_spans.EVENT_ATTRIBUTES),
    (trace_pb2.Span.Event, "dropped_attributes_count", _otlp_spans.EVENT_DROPPED_ATTRIBUTES),
    (trace_pb2.Span.Link, "trace_id", _otlp_spans.LINK_TRACE_ID),
    (trace_pb2.Span.Link, "span_id", _otlp_spans.LINK_SPAN_ID),
    (trace_pb2.Span.Link, "attributes", _otlp_spans.LINK_ATTRIBUTES),
    (trace_pb2.Span.Link, "dropped_attributes_count", _otlp_spans.LINK_DROPPED_ATTRIBUTES),
    (trace_pb2.Span.Link, "flags", _otlp_spans.LINK_FLAGS),
    (trace_pb2.Status, "message", _otlp_spans.STATUS_MESSAGE),
    (trace_pb2.Status, "code", _otlp_spans.STATUS_CODE),
    (common_pb2.AnyValue, "string_value", _protobuf.ANY_STRING),
    (common_pb2.AnyValue, "bool_value", _protobuf.ANY_BOOL),
    (common_pb2.AnyValue, "int_value", _protobuf.ANY_INT),
    (common_pb2.AnyValue, "double_value", _protobuf.ANY_DOUBLE),
    (common_pb2.AnyValue, "array_value", _protobuf.ANY_ARRAY),
    (common_pb2.AnyValue, "kvlist_value", _protobuf.ANY_KVLIST),
    (common_pb2.AnyValue, "bytes_value", _protobuf.ANY_BYTES),
    (common_pb2.ArrayValue, "values", _protobuf.VALUES),
    (common_pb2.KeyValueList, "values", _protobuf.VALUES),
    (common_pb2.KeyValue, "key", _protobuf.KV_KEY),
    (common_pb2.KeyValue, "value", _protobuf.KV_VALUE),
]


@pytest.mark.parametrize(
    ("message", "name", "tag"), TAGS, ids=[f"{m.__name__}.{n}" for m, n, _ in TAGS]
)
def test_every_tag_is_the_installed_descriptors(message: Any, name: str, tag: bytes) -> None:
    descriptor = message.DESCRIPTOR.fields_by_name[name]
    wire_type = _WIRE_TYPES.get(descriptor.type, 2)
    assert tag == _protobuf.varint(descriptor.number << 3 | wire_type)


def test_span_kinds_and_flags_are_the_installed_enums() -> None:
    for kind, encoded in _otlp_spans._KINDS.items():
        assert encoded == _protobuf.varint(trace_pb2.Span.SpanKind.Value(f"SPAN_KIND_{kind.name}"))
    assert _otlp_spans.HAS_IS_REMOTE == trace_pb2.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
    assert _otlp_spans.IS_REMOTE == trace_pb2.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK


# --- real spans --------------------------------------------------------------------------------


def test_the_spans_otelkits_wsgi_instrumentation_records_are_encoded_as_the_sdk_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Flask app instrumented by otelkit: server spans (light), a child SDK span with an
    event, an error status, a remote parent, and a request without one."""
    from flask import Flask

    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    monkeypatch.delenv("OTELKIT_TRACES_SAMPLER", raising=False)
    telemetry = otelkit.init_telemetry("orders", exporters="memory", instrument="none")
    try:
        app = Flask("orders")

        @app.get("/items/<int:item_id>")
        def item(item_id: int) -> dict[str, int]:
            with telemetry.tracer.start_as_current_span("load", attributes={"id": item_id}) as s:
                s.add_event("cache miss", {"keys": ["a", "b"], "ratio": 0.5})
            if item_id == 0:
                raise LookupError("no item 0")
            return {"item_id": item_id}

        otelkit.instrument_app(app)
        client = app.test_client()
        traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        for path, headers, expected in [
            ("/items/7", {"traceparent": traceparent}, 200),
            ("/items/8", {}, 200),
            ("/items/0", {}, 500),
        ]:
            with client.get(path, headers=headers) as response:  # closed: the span ends
                assert response.status_code == expected
        batch = testing.spans(telemetry)
    finally:
        telemetry.shutdown()

    assert len(batch) == 6
    assert any(type(span).__module__.startswith("otelkit.") for span in batch)  # light spans
    assert {span.kind for span in batch} == {SpanKind.SERVER, SpanKind.INTERNAL}
    assert any(span.parent is not None and span.parent.is_remote for span in batch)
    assert any(span.status.status_code is StatusCode.ERROR for span in batch)
    assert_same_encoding(batch)
