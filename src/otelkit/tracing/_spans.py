"""otelkit's own light spans: the tracing counterpart of ``_fastpath``.

An SDK span costs, on this machine, about 100 µs from ``start_span`` to ``end`` (attribute
validation under a lock per call, limits bookkeeping, the readable copy at the end): more than a
whole request's telemetry budget. A ``LightSpan`` (``_light``) implements the OpenTelemetry
``Span`` API with plain fields, is current while the handler runs (so user code can add
attributes and events, child spans get the right parent and outgoing calls propagate the trace),
reads like an SDK span for the provider's span processors (``on_start`` included), applies the
provider's span limits with the SDK's rules (``_limits``), and when it ends it becomes an SDK
``ReadableSpan`` handed to the tracer provider's span processors, exactly what an SDK span gives
them. Sampling runs through the provider's own sampler at the start, as in the SDK (the SDK's
own samplers decided inline, with the same answers: ``_sampling``); ids come from the
provider's id generator (the SDK's random one drawn in one call).

The provider's processors and limits are private in the SDK (``_sdk_compat``'s tracing seams).
Without the processor seam, the factory starts ordinary SDK spans behind the same interface
(``_sdk_span``): slower, the same spans.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import Span as SdkTraceSpan
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import SpanContext, TraceFlags

from otelkit import _sdk_compat
from otelkit._errors import record_internal_error
from otelkit.tracing._light import LightSpan
from otelkit.tracing._limits import Limits
from otelkit.tracing._sampling import inline_ids, inline_sampler
from otelkit.tracing._sdk_span import SdkSpan

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanKind

__all__ = ["LightSpan", "SdkSpan", "SpanFactory"]

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
        parent = trace_api.get_current_span(context).get_span_context()
        parent_valid = parent.is_valid
        inline = self._inline
        if inline is None:
            return self._start_sampled(name, context, kind, attributes, start_ns, parent)
        if parent_valid:
            trace_id, span_id = parent.trace_id, self._span_id()
        elif self._ids is not None:
            trace_id, span_id = self._ids()
        else:
            trace_id = self._trace_id()
            span_id = self._span_id()
        sampled = inline.sampled(parent, parent_valid, trace_id)
        span_context = SpanContext(
            trace_id,
            span_id,
            is_remote=False,
            trace_flags=_FLAGS[
                sampled,
                parent.trace_flags.random_trace_id if parent_valid else self._random_ids,
            ],
            trace_state=parent.trace_state if parent_valid else None,
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
