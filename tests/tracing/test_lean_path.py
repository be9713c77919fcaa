"""The lean end of a light span: straight into otelkit's batch queue, readable on export.

While every processor of the provider is a batch span processor otelkit built, an ended light
span is queued as it is and becomes a ``ReadableSpan`` on the export thread. What is exported
must be what the SDK's own tracer exports for the same span (compared as encoded OTLP), and
anything that could observe the difference (a processor of the user's, the SDK's processor
metrics) puts the span back on the full ``on_start``/``on_end`` path.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, TraceIdRatioBased
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags

from otelkit import _sdk_lean as _lean
from otelkit._sdk_export import count_queue_drops
from otelkit.tracing._light import LightSpan
from otelkit.tracing._sampling import parent_based
from otelkit.tracing._spans import SpanFactory

if TYPE_CHECKING:
    import pytest
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import Span

SCOPE = InstrumentationScope("test", "1")
SPAN_ID = 0x53995C3F42CD8AD8
NEVER = 1e9  # ms: a batch processor that exports only when flushed


class Given(IdGenerator):
    def __init__(self, trace_id: int) -> None:
        self.trace_id = trace_id

    def generate_trace_id(self) -> int:
        return self.trace_id

    def generate_span_id(self) -> int:
        return SPAN_ID

    def is_trace_id_random(self) -> bool:
        return True


def lean_provider(
    exported: InMemorySpanExporter, **options: Any
) -> tuple[TracerProvider, BatchSpanProcessor]:
    """A provider whose only processor is a batch processor built as otelkit builds one."""
    provider = TracerProvider(shutdown_on_exit=False, **options)
    processor = BatchSpanProcessor(_lean.ReadableSpans(exported), schedule_delay_millis=NEVER)
    assert count_queue_drops(processor, lambda: None)
    assert _lean.register(processor)
    provider.add_span_processor(processor)
    return provider, processor


def otlp(spans: Any) -> bytes:
    return encode_spans(list(spans)).SerializeToString(deterministic=True)


def work(span: Any, steps: list[tuple[str, Any]]) -> None:
    """The same operations on a light span and an SDK span."""
    for step, value in steps:
        if step == "attribute":
            span.set_attribute(*value)
        elif step == "event":
            span.add_event(value[0], {"n": value[1]}, timestamp=15)
        elif step == "link":
            span.add_link(SpanContext(7, value, is_remote=True), {"n": value})
        elif step == "status":
            span.set_status(value)
        elif step == "name":
            span.update_name(value)


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("attribute"),
            st.tuples(
                st.sampled_from(["a", "b", "url.path"]), st.text(max_size=12) | st.integers()
            ),
        ),
        st.tuples(st.just("event"), st.tuples(st.text(max_size=5), st.integers())),
        st.tuples(st.just("link"), st.integers(1, 2**64 - 1)),
        st.tuples(st.just("status"), st.sampled_from(list(StatusCode))),
        st.tuples(st.just("name"), st.text(max_size=8)),
    ),
    max_size=8,
)
parents = st.none() | st.builds(
    SpanContext,
    trace_id=st.integers(1, 2**128 - 1),
    span_id=st.integers(1, 2**64 - 1),
    is_remote=st.booleans(),
    trace_flags=st.sampled_from([0, 1, 3]).map(TraceFlags),
)
limits = st.builds(
    SpanLimits,
    max_span_attributes=st.sampled_from([None, 1, 3]),
    max_span_attribute_length=st.sampled_from([None, 4]),
    max_events=st.sampled_from([None, 1]),
    max_links=st.sampled_from([None, 1]),
)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([ALWAYS_ON, TraceIdRatioBased(0.5), parent_based(ALWAYS_ON)]),
    parents,
    st.integers(1, 2**128 - 1),
    limits,
    operations,
)
def test_a_span_queued_as_it_is_exports_what_the_sdk_exports(
    sampler: Any, parent: SpanContext | None, trace_id: int, limit: SpanLimits, steps: Any
) -> None:
    context = None if parent is None else trace.set_span_in_context(NonRecordingSpan(parent))
    attributes = {"http.request.method": "GET", "url.path": "/items/1", "server.port": 8000}

    lean_exported = InMemorySpanExporter()
    provider, processor = lean_provider(
        lean_exported, sampler=sampler, id_generator=Given(trace_id), span_limits=limit
    )
    factory = SpanFactory(provider, SCOPE)
    assert factory.sinks() is not None  # the lean path is the one under test
    light = factory.start("GET", context, SpanKind.SERVER, dict(attributes), 10)

    sdk_exported = InMemorySpanExporter()
    sdk_provider = TracerProvider(
        sampler=sampler, id_generator=Given(trace_id), span_limits=limit, shutdown_on_exit=False
    )
    sdk_provider.add_span_processor(SimpleSpanProcessor(sdk_exported))
    sdk = sdk_provider.get_tracer(SCOPE.name, SCOPE.version).start_span(
        "GET", context, SpanKind.SERVER, dict(attributes), start_time=10
    )
    work(light, steps)
    work(sdk, steps)
    light.end(20)
    sdk.end(20)
    processor.force_flush()
    processor.shutdown()

    exported = lean_exported.get_finished_spans()
    assert all(type(span) is not LightSpan for span in exported)  # readable by then
    assert otlp(exported) == otlp(sdk_exported.get_finished_spans())


def test_an_http_end_exports_what_the_full_path_exports() -> None:
    """The middleware's one-step end, lean and through ``on_end``: the same OTLP."""
    encoded = []
    for lean in (True, False):
        exported = InMemorySpanExporter()
        provider, processor = lean_provider(exported, id_generator=Given(5))
        if not lean:  # a processor of the user's: the full path
            provider.add_span_processor(SpanProcessor())
        factory = SpanFactory(provider, SCOPE)
        assert (factory.sinks() is not None) is lean
        span = factory.start("GET", None, SpanKind.SERVER, {"url.path": "/items/1"}, 10)
        assert isinstance(span, LightSpan)
        span.end_http("GET", "/items/{id}", 500, "500", 20)
        processor.shutdown()
        encoded.append(otlp(exported.get_finished_spans()))
    assert encoded[0] == encoded[1]
    assert b"/items/{id}" in encoded[0]


class Watching(SpanProcessor):
    def __init__(self) -> None:
        self.started: list[str] = []
        self.ended: list[ReadableSpan] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.started.append(span.name)

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)


def test_a_processor_added_later_sees_every_span_from_then_on() -> None:
    exported = InMemorySpanExporter()
    provider, processor = lean_provider(exported)
    factory = SpanFactory(provider, SCOPE)
    factory.start("before", None, SpanKind.SERVER, {}, 1).end(2)
    watching = Watching()
    provider.add_span_processor(watching)
    factory.start("after", None, SpanKind.SERVER, {}, 3).end(4)
    processor.shutdown()

    assert watching.started == ["after"]
    assert [type(s) for s in watching.ended] != [LightSpan]  # a ReadableSpan, as the SDK gives
    assert [s.name for s in watching.ended] == ["after"]
    assert sorted(s.name for s in exported.get_finished_spans()) == ["after", "before"]


def test_only_otelkits_plain_batch_processors_take_spans_as_they_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exported = InMemorySpanExporter()
    assert not _lean.register(SimpleSpanProcessor(_lean.ReadableSpans(exported)))
    unread = BatchSpanProcessor(exported, schedule_delay_millis=NEVER)
    assert count_queue_drops(unread, lambda: None)
    assert not _lean.register(unread)  # its exporter would be handed light spans
    uncounted = BatchSpanProcessor(_lean.ReadableSpans(exported), schedule_delay_millis=NEVER)
    assert not _lean.register(uncounted)  # the SDK's emit tells of a full queue
    # the SDK's processor metrics count in ``emit``: that must keep running
    monkeypatch.setenv("OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED", "true")
    counted = BatchSpanProcessor(_lean.ReadableSpans(exported), schedule_delay_millis=NEVER)
    assert count_queue_drops(counted, lambda: None)
    assert not _lean.register(counted)
    for processor in (unread, uncounted, counted):
        processor.shutdown()


def test_a_span_ended_after_shutdown_is_refused_as_the_sdk_refuses_it() -> None:
    exported = InMemorySpanExporter()
    provider, processor = lean_provider(exported)
    factory = SpanFactory(provider, SCOPE)
    span = factory.start("late", None, SpanKind.SERVER, {}, 1)
    processor.shutdown()
    span.end(2)
    assert exported.get_finished_spans() == ()
    assert len(processor._batch_processor._queue) == 0


def test_a_full_queue_drops_the_oldest_spans_and_counts_each() -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    processor = BatchSpanProcessor(
        _lean.ReadableSpans(exported),
        schedule_delay_millis=NEVER,
        max_queue_size=4,
        max_export_batch_size=4,
    )
    drops: list[int] = []
    assert count_queue_drops(processor, lambda: drops.append(1))
    assert _lean.register(processor)
    provider.add_span_processor(processor)
    factory = SpanFactory(provider, SCOPE)
    for n in range(10):
        factory.start(f"s{n}", None, SpanKind.SERVER, {}, n).end(n + 1)
    processor.shutdown()

    names = sorted(s.name for s in exported.get_finished_spans())
    assert len(names) + len(drops) == 10
    assert names[-1] == "s9"  # the newest is never the one dropped


def test_a_forked_child_exports_its_own_spans_and_none_of_its_parents() -> None:
    exported = InMemorySpanExporter()
    provider, processor = lean_provider(exported)
    factory = SpanFactory(provider, SCOPE)
    factory.start("parent-queued", None, SpanKind.SERVER, {}, 1).end(2)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: ends a span of its own and reports what its exporter got
        try:
            os.close(read)
            factory.start("child", None, SpanKind.SERVER, {}, 3).end(4)
            processor.force_flush()
            names = [s.name for s in exported.get_finished_spans()]
            os.write(write, json.dumps(names).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_names = json.loads(pipe.read())
    os.waitpid(pid, 0)
    processor.shutdown()
    assert child_names == ["child"]
    assert [s.name for s in exported.get_finished_spans()] == ["parent-queued"]


def test_the_wrapping_exporter_passes_the_shutdown_timeout_on() -> None:
    class Timed(InMemorySpanExporter):
        def __init__(self) -> None:
            super().__init__()
            self.timeouts: list[float] = []

        def shutdown(self, timeout_millis: float = 30_000) -> None:  # type: ignore[override]
            self.timeouts.append(timeout_millis)

    inner = Timed()
    _lean.ReadableSpans(inner).shutdown(timeout_millis=250)
    _lean.ReadableSpans(inner).shutdown()
    assert inner.timeouts == [250, 30_000]


def test_registering_a_processor_does_not_keep_it_alive() -> None:
    import gc
    import weakref

    processor = BatchSpanProcessor(
        _lean.ReadableSpans(InMemorySpanExporter()), schedule_delay_millis=NEVER
    )
    assert count_queue_drops(processor, lambda: None)
    assert _lean.register(processor)
    processor.shutdown()
    gone = weakref.ref(processor)
    del processor
    gc.collect()
    assert gone() is None
