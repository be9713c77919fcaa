"""Light spans: ids from the provider's generator, the provider's sampler, SDK processors."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind

from otelkit.tracing._spans import SpanFactory

SCOPE = InstrumentationScope("test", "1")


class Fixed(IdGenerator):
    """The ids a back end such as X-Ray would want (here: fixed, to compare)."""

    def generate_trace_id(self) -> int:
        return 0x5759E988BD862E3FE1BE46A994272793

    def generate_span_id(self) -> int:
        return 0x53995C3F42CD8AD8

    def is_trace_id_random(self) -> bool:
        return False


def test_ids_come_from_the_providers_generator() -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider(id_generator=Fixed(), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exported))
    span = SpanFactory(provider, SCOPE).start("GET", None, SpanKind.SERVER, {"a": 1}, 10)
    span.end(20)
    (readable,) = exported.get_finished_spans()
    assert readable.context.trace_id == Fixed().generate_trace_id()
    assert readable.context.span_id == Fixed().generate_span_id()
    assert (readable.start_time, readable.end_time) == (10, 20)
    assert readable.attributes == {"a": 1}
    assert readable.instrumentation_scope == SCOPE


def test_a_dropping_sampler_exports_nothing() -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_OFF, shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exported))
    span = SpanFactory(provider, SCOPE).start("GET", None, SpanKind.SERVER, {}, 10)
    assert not span.is_recording()
    span.end(20)
    assert exported.get_finished_spans() == ()
