"""otelkit's own light spans: the tracing counterpart of ``_fastpath``.

An SDK span costs, on this machine, about 100 µs from ``start_span`` to ``end`` (attribute
validation under a lock per call, limits bookkeeping, the readable copy at the end): more than a
whole request's telemetry budget. A ``LightSpan`` (``_light``) implements the OpenTelemetry
``Span`` API with plain fields, is current while the handler runs (so user code can add
attributes and events, child spans get the right parent and outgoing calls propagate the trace),
reads like an SDK span for the provider's span processors (``on_start`` included), applies the
provider's span limits with the SDK's rules (``_limits``), and when it ends it becomes an SDK
``ReadableSpan`` handed to the tracer provider's span processors, exactly what an SDK span gives
them; while those are only otelkit's batch processors, it is queued as it is and becomes that
``ReadableSpan`` on the export thread instead (``_sdk_lean``). Sampling runs through the
provider's own sampler at the start, as in the SDK (the SDK's own samplers decided inline, with
the same answers: ``_sampling``); ids come from the provider's id generator (the SDK's random
one drawn in one call).

The provider's processors and limits are private in the SDK (``_sdk_compat``'s tracing seams).
Without the processor seam, the factory starts ordinary SDK spans behind the same interface
(``_sdk_span``): slower, the same spans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.context import get_current as _get_current
from opentelemetry.sdk.trace import Span as SdkTraceSpan
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import INVALID_SPAN_CONTEXT, SpanContext, TraceFlags
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

from otelkit import _sdk_compat
from otelkit._errors import record_internal_error
from otelkit._sdk_lean import current_processors, processors_of, sinks_of
from otelkit.tracing._light import LightSpan
from otelkit.tracing._limits import Limits
from otelkit.tracing._sampling import LOW_64, inline_ids, inline_sampler
from otelkit.tracing._sdk_span import SdkSpan

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanKind, TraceState

    from otelkit._sdk_lean import Sink

__all__ = ["LightSpan", "SdkSpan", "SpanFactory"]

_INVALID = INVALID_SPAN_CONTEXT
_LOW_64 = LOW_64
# The key the API keeps the current span under, found through the public API only.
(_SPAN_KEY,) = tuple(trace_api.set_span_in_context(trace_api.INVALID_SPAN, Context()))
_MAX_TRACE_ID = (1 << 128) - 1
_MAX_SPAN_ID = (1 << 64) - 1


def span_context_of(
    trace_id: int, span_id: int, flags: TraceFlags, state: TraceState
) -> SpanContext:
    """``SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags, trace_state=state)``
    without the call through its ``__new__`` for valid ids (the tuple it builds, probed below)."""
    if 0 < trace_id <= _MAX_TRACE_ID and 0 < span_id <= _MAX_SPAN_ID and _TUPLE_LAYOUT:
        return _tuple_new(SpanContext, (trace_id, span_id, False, flags, state, True))
    return SpanContext(trace_id, span_id, is_remote=False, trace_flags=flags, trace_state=state)


_tuple_new = tuple.__new__
_TUPLE_LAYOUT = False
_probe = SpanContext(3, 5, is_remote=False, trace_flags=TraceFlags(1), trace_state=None)
_TUPLE_LAYOUT = (
    span_context_of(3, 5, TraceFlags(1), DEFAULT_TRACE_STATE) == _probe
    and tuple(_probe) == (3, 5, False, TraceFlags(1), DEFAULT_TRACE_STATE, True)
    and _probe.is_valid is True
)
"""Whether a ``SpanContext`` is still the tuple ``span_context_of`` builds."""
del _probe

_RANDOM = TraceFlags.RANDOM_TRACE_ID
_FLAGS = {  # (sampled, random trace id) -> trace flags, as the SDK's tracer sets them
    (sampled, random): TraceFlags(
        (TraceFlags.SAMPLED if sampled else 0) | (_RANDOM if random else 0)
    )
    for sampled in (False, True)
    for random in (False, True)
}


class SpanFactory:
    """Per configuration: where light spans come from and where they go."""

    def __init__(self, provider: TracerProvider, scope: InstrumentationScope) -> None:
        self._provider = provider
        self.scope = scope
        self.sampler = provider.sampler
        self._trace_id = provider.id_generator.generate_trace_id
        self._span_id = provider.id_generator.generate_span_id
        self._random_ids = bool(provider.id_generator.is_trace_id_random())
        self._inline = inline_sampler(provider.sampler)
        """The provider's sampler decided inline (``_sampling``), when it is one of the SDK's."""
        self._ids = inline_ids(provider.id_generator)
        self.limits = Limits(_sdk_compat.span_limits(provider))
        # The provider's composite processor: ours plus any the user added to the provider.
        processor = _sdk_compat.active_span_processor(provider)
        self.light = processor is not None
        """False without the processor seam: spans are SDK spans then."""
        self.processor: SpanProcessor = processor if processor is not None else SpanProcessor()
        self._tracer = (
            None
            if processor is not None
            else provider.get_tracer(scope.name, scope.version, scope.schema_url, scope.attributes)
        )
        self._composite = processor if processors_of(processor) is not None else None
        """The provider's composite processor when its processors can be read (``_sdk_lean``)."""
        self._plan: tuple[object, tuple[Sink, ...] | None] = (None, None)
        """(the composite's processors last seen, their sinks): one attribute, replaced whole,
        so a thread never reads the sinks of other processors than it compared."""

    def sinks(self) -> tuple[Sink, ...] | None:
        """Where an ended light span is queued directly: a sink per processor of the provider
        while all are otelkit's batch processors (``_sdk_lean``), else None (``on_start`` and
        ``on_end`` as the SDK calls them). Looked up again when a processor was added."""
        composite = self._composite
        if composite is None:
            return None
        processors = current_processors(composite)
        seen, sinks = self._plan
        if processors is not seen:
            sinks = sinks_of(processors)
            self._plan = (processors, sinks)
        return sinks

    @property
    def resource(self) -> Resource:
        """The provider's, read per span: a forked child gets its own (``runtime._fork``)."""
        return self._provider.resource

    def start(
        self,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attributes: dict[str, Any],
        start_ns: int,
    ) -> trace_api.Span:
        """A started span, current nowhere yet.

        ``attributes`` belongs to the span from now on; they are otelkit's own (``str`` keys,
        ``str``, ``bool``, ``int`` or ``float`` values), so only the limits are checked here.
        """
        if self._tracer is not None:
            return self._start_sdk(name, context, kind, attributes, start_ns)
        # ``trace_api.get_current_span(context).get_span_context()``, in one lookup
        current = (context if context is not None else _get_current()).get(_SPAN_KEY)
        parent = (
            _INVALID
            if current is None or not isinstance(current, trace_api.Span)
            else current.get_span_context()
        )
        parent_valid = parent.is_valid
        inline = self._inline
        if inline is None:
            return self._start_sampled(name, context, kind, attributes, start_ns, parent)
        if parent_valid:
            trace_id, span_id = parent.trace_id, self._span_id()
            sampled = inline.sampled(parent, parent_valid, trace_id)
            span_context = span_context_of(
                trace_id,
                span_id,
                _FLAGS[sampled, parent.trace_flags.random_trace_id],
                parent.trace_state,
            )
        else:
            if self._ids is not None:
                trace_id, span_id = self._ids()
            else:
                trace_id = self._trace_id()
                span_id = self._span_id()
            sampled = (trace_id & _LOW_64) < inline.bound  # ``inline.sampled`` of a root span
            span_context = span_context_of(
                trace_id, span_id, _FLAGS[sampled, self._random_ids], DEFAULT_TRACE_STATE
            )
        if not sampled:
            return trace_api.NonRecordingSpan(span_context)
        limits = self.limits
        dropped = 0
        if len(attributes) > limits.span_attributes or (
            limits.span_attribute_length is not None and not limits.within_length(attributes)
        ):
            attributes, dropped = limits.initial(attributes)
        return self._started(
            name, context, span_context, parent, kind, attributes, start_ns, dropped
        )

    def _start_sampled(
        self,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attributes: dict[str, Any],
        start_ns: int,
        parent: SpanContext,
    ) -> trace_api.Span:
        """``start`` through the sampler's ``should_sample``, for any other sampler."""
        parent_valid = parent.is_valid
        trace_id = parent.trace_id if parent_valid else self._trace_id()
        result = self.sampler.should_sample(context, trace_id, name, kind, attributes)
        decision = result.decision
        span_context = SpanContext(
            trace_id,
            self._span_id(),
            is_remote=False,
            trace_flags=_FLAGS[
                decision is Decision.RECORD_AND_SAMPLE,
                parent.trace_flags.random_trace_id if parent_valid else self._random_ids,
            ],
            trace_state=result.trace_state,
        )
        if decision is Decision.DROP:
            return trace_api.NonRecordingSpan(span_context)
        extra = result.attributes
        limits = self.limits
        dropped = 0
        if extra and extra != attributes:  # the sampler added some: cleaned as the SDK would
            attributes.update(extra)
            attributes, dropped = limits.initial(attributes)
        elif len(attributes) > limits.span_attributes or (
            limits.span_attribute_length is not None and not limits.within_length(attributes)
        ):
            attributes, dropped = limits.initial(attributes)
        return self._started(
            name, context, span_context, parent, kind, attributes, start_ns, dropped
        )

    def _started(
        self,
        name: str,
        parent_context: Context | None,
        span_context: SpanContext,
        parent: SpanContext,
        kind: SpanKind,
        attributes: dict[str, Any],
        start_ns: int,
        dropped: int,
    ) -> LightSpan:
        """The recording span, shown to the processors' ``on_start``."""
        span = LightSpan(
            self,
            name,
            span_context,
            parent if parent.is_valid else None,
            kind,
            attributes,
            start_ns,
            dropped,
        )
        if self.sinks() is None:  # a batch processor's on_start does nothing (``_sdk_lean``)
            try:
                self.processor.on_start(span, parent_context=parent_context)  # type: ignore[arg-type]
            except Exception as exc:
                record_internal_error("spans", exc)
        return span

    def _start_sdk(
        self,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attributes: dict[str, Any],
        start_ns: int,
    ) -> trace_api.Span:
        assert self._tracer is not None
        span = self._tracer.start_span(name, context, kind, attributes, start_time=start_ns)
        return SdkSpan(span) if isinstance(span, SdkTraceSpan) else span
