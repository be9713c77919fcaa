"""The SDK's own samplers decided inline, and the ids drawn in one call, give what the SDK gives.

Each case starts the same span twice under the same parent and trace id: through the light
span factory and through the SDK's tracer of an identical provider. The decision, the trace
flags and state, and the exported OTLP (encoded by the OTLP exporter's own encoder) must match.
"""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags, TraceState

import otelkit
from otelkit.tracing._sampling import inline_ids, inline_sampler, parent_based
from otelkit.tracing._spans import SpanFactory

SCOPE = InstrumentationScope("test", "1")
SPAN_ID = 0x53995C3F42CD8AD8


class Given(IdGenerator):
    """The trace id a case chooses (the ratio samplers decide on it), a fixed span id."""

    def __init__(self, trace_id: int) -> None:
        self.trace_id = trace_id

    def generate_trace_id(self) -> int:
        return self.trace_id

    def generate_span_id(self) -> int:
        return SPAN_ID

    def is_trace_id_random(self) -> bool:
        return True


def samplers() -> st.SearchStrategy[Sampler]:
    rates = st.sampled_from([0.0, 0.1, 0.5, 1.0]) | st.floats(0, 1)
    roots = st.sampled_from([ALWAYS_ON, ALWAYS_OFF]) | rates.map(TraceIdRatioBased)
    return roots | roots.map(parent_based)


def parents() -> st.SearchStrategy[SpanContext | None]:
    contexts = st.builds(
        SpanContext,
        trace_id=st.integers(1, 2**128 - 1),
        span_id=st.integers(1, 2**64 - 1),
        is_remote=st.booleans(),
        trace_flags=st.sampled_from([0, 1, 2, 3]).map(TraceFlags),
        trace_state=st.sampled_from([None, TraceState([("vendor", "v1")])]),
    )
    return st.none() | contexts


def provider(sampler: Sampler, trace_id: int) -> tuple[TracerProvider, InMemorySpanExporter]:
    exported = InMemorySpanExporter()
    made = TracerProvider(sampler=sampler, id_generator=Given(trace_id), shutdown_on_exit=False)
    made.add_span_processor(SimpleSpanProcessor(exported))
    return made, exported


def otlp(span: ReadableSpan) -> bytes:
    return encode_spans([span]).SerializeToString(deterministic=True)


@settings(max_examples=300, deadline=None)
@given(samplers(), parents(), st.integers(1, 2**128 - 1))
@example(TraceIdRatioBased(0.5), None, 2**63)  # the bound itself: not sampled
@example(TraceIdRatioBased(0.5), None, 2**63 - 1)
@example(TraceIdRatioBased(0.5), None, 2**64 + 2**63)  # only the low 64 bits count
def test_a_light_span_is_sampled_and_exported_as_the_sdk_samples_and_exports_it(
    sampler: Sampler, parent: SpanContext | None, trace_id: int
) -> None:
    context = None if parent is None else trace.set_span_in_context(NonRecordingSpan(parent))
    attributes = {"http.request.method": "GET", "url.path": "/items/1"}

    light_provider, light_exported = provider(sampler, trace_id)
    factory = SpanFactory(light_provider, SCOPE)
    assert factory._inline is not None  # the inline path is the one under test
    light = factory.start("GET", context, SpanKind.SERVER, dict(attributes), 10)

    sdk_provider, sdk_exported = provider(sampler, trace_id)
    sdk = sdk_provider.get_tracer(SCOPE.name, SCOPE.version).start_span(
        "GET", context, SpanKind.SERVER, dict(attributes), start_time=10
    )

    assert light.is_recording() == sdk.is_recording()
    assert light.get_span_context() == sdk.get_span_context()
    light.end(20)
    sdk.end(20)
    light_spans, sdk_spans = light_exported.get_finished_spans(), sdk_exported.get_finished_spans()
    assert [otlp(span) for span in light_spans] == [otlp(span) for span in sdk_spans]


def test_only_the_sdks_own_samplers_are_decided_inline() -> None:
    class Mine(Sampler):
        def should_sample(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            raise AssertionError

        def get_description(self) -> str:
            return "AlwaysOnSampler"  # the SDK's description: still not inlined

    class Ratio(TraceIdRatioBased):
        """A subclass may decide otherwise (here: never), whatever its bound says."""

    assert inline_sampler(ALWAYS_ON) is not None
    assert inline_sampler(TraceIdRatioBased(0.25)) is not None
    assert inline_sampler(parent_based(ALWAYS_ON)) is not None
    assert inline_sampler(parent_based(TraceIdRatioBased(0.25))) is not None
    assert inline_sampler(Mine()) is None
    assert inline_sampler(Ratio(0.5)) is None
    assert inline_sampler(parent_based(Mine())) is None
    # A ParentBased built elsewhere: its delegates cannot be read, so it is asked as before.
    assert inline_sampler(ParentBased(ALWAYS_ON)) is None
    assert inline_sampler(ParentBased(Mine())) is None


@pytest.mark.parametrize(
    ("sampler", "arg"),
    [
        ("parentbased_always_on", None),
        ("parentbased_traceidratio", "0.1"),
        ("traceidratio", "0.5"),
        ("always_off", None),
    ],
)
def test_the_samplers_otelkit_configures_are_decided_inline(
    monkeypatch: pytest.MonkeyPatch, sampler: str, arg: str | None
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    if arg is None:
        monkeypatch.delenv("OTEL_TRACES_SAMPLER_ARG", raising=False)
    else:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", arg)
    monkeypatch.delenv("OTELKIT_TRACES_SAMPLER", raising=False)
    telemetry = otelkit.init_telemetry("inline", exporters="memory", instrument="none")
    try:
        assert telemetry._pipeline is not None
        provider = telemetry._pipeline.tracer_provider
        assert SpanFactory(provider, SCOPE)._inline is not None
    finally:
        telemetry.shutdown()


def test_a_user_sampler_still_decides_through_should_sample() -> None:
    """A sampler that adds an attribute: the span has it, as with the SDK."""
    from opentelemetry.sdk.trace.sampling import Decision, SamplingResult

    class Tagging(Sampler):
        def should_sample(self, *args: object, **kwargs: object) -> SamplingResult:  # type: ignore[override]
            return SamplingResult(Decision.RECORD_AND_SAMPLE, {"sampled.by": "tagging"})

        def get_description(self) -> str:
            return "Tagging"

    made, exported = provider(Tagging(), 7)
    SpanFactory(made, SCOPE).start("GET", None, SpanKind.SERVER, {"a": 1}, 10).end(20)
    (span,) = exported.get_finished_spans()
    assert span.attributes == {"a": 1, "sampled.by": "tagging"}


def test_random_ids_come_from_the_random_module_as_the_sdks_do() -> None:
    ids = inline_ids(RandomIdGenerator())
    assert ids is not None
    assert inline_ids(Given(5)) is None  # any other generator is called as is
    random.seed(42)
    first = ids()
    random.seed(42)
    assert ids() == first  # seeded like the SDK's generator: one source
    drawn = {ids() for _ in range(1000)}
    assert len(drawn) == 1000
    assert all(0 < trace_id < 2**128 and 0 < span_id < 2**64 for trace_id, span_id in drawn)


def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    ids = inline_ids(RandomIdGenerator())
    assert ids is not None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first ids, to the parent
        os.close(read)
        os.write(write, repr(ids()).encode())
        os._exit(0)
    os.close(write)
    mine = ids()
    with os.fdopen(read) as pipe:
        child = pipe.read()
    os.waitpid(pid, 0)
    assert child
    assert child != repr(mine)
