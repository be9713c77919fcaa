"""AWS X-Ray: trace ids that X-Ray accepts, and the ``X-Amzn-Trace-Id`` propagator.

X-Ray trace ids carry the start time: the first 32 bits are the epoch second, the other 96 are
random. The propagator reads and writes
``Root=1-<8 hex time>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`` and is registered as ``xray``
for ``OTEL_PROPAGATORS`` (``tracecontext,baggage,xray``).
"""

from __future__ import annotations

import random
import re
import time
from typing import TYPE_CHECKING

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

if TYPE_CHECKING:
    from opentelemetry.context import Context

HEADER = "X-Amzn-Trace-Id"
_FORMAT = re.compile(
    r"(?:^|;)\s*Root=1-(?P<time>[0-9a-fA-F]{8})-(?P<rest>[0-9a-fA-F]{24})"
    r"|(?:^|;)\s*Parent=(?P<parent>[0-9a-fA-F]{16})"
    r"|(?:^|;)\s*Sampled=(?P<sampled>[01?])"
)


class XRayIdGenerator(IdGenerator):
    """Trace ids whose first 32 bits are the epoch second, as X-Ray requires."""

    def generate_span_id(self) -> int:
        return random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return (int(time.time()) << 96) | (random.getrandbits(96) or 1)

    def is_trace_id_random(self) -> bool:
        return False  # the high 32 bits are a timestamp


class XRayPropagator(TextMapPropagator):
    """Reads and writes the ``X-Amzn-Trace-Id`` header."""

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        base = context if context is not None else context_api.get_current()
        values = getter.get(carrier, HEADER) or getter.get(carrier, HEADER.lower())
        if not values:
            return base
        fields: dict[str, str] = {}
        for match in _FORMAT.finditer(values[0]):
            fields.update({k: v for k, v in match.groupdict().items() if v is not None})
        if "time" not in fields or "parent" not in fields:
            return base
        span_context = SpanContext(
            trace_id=int(fields["time"] + fields["rest"], 16),
            span_id=int(fields["parent"], 16),
            is_remote=True,
            trace_flags=TraceFlags(
                TraceFlags.SAMPLED if fields.get("sampled") == "1" else TraceFlags.DEFAULT
            ),
        )
        if not span_context.is_valid:
            return base
        return trace.set_span_in_context(NonRecordingSpan(span_context), base)

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        span_context = trace.get_current_span(context).get_span_context()
        if not span_context.is_valid:
            return
        trace_id = format(span_context.trace_id, "032x")
        sampled = "1" if span_context.trace_flags.sampled else "0"
        value = (
            f"Root=1-{trace_id[:8]}-{trace_id[8:]};"
            f"Parent={span_context.span_id:016x};Sampled={sampled}"
        )
        setter.set(carrier, HEADER, value)

    @property
    def fields(self) -> set[str]:
        return {HEADER}
