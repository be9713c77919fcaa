"""The SDK's own samplers and id generator, decided inline: the same answers, fewer calls.

Through the ``Sampler`` interface a span start costs a ``SamplingResult`` (with a read-only view
of the attributes, compared with them afterwards), and the parent is looked up three times
(by the factory, ``ParentBased`` and the static sampler's trace state). For the samplers the
SDK builds from ``OTEL_TRACES_SAMPLER`` (``always_on``, ``always_off``, ``traceidratio`` and
their ``parentbased_`` forms with the default delegates) the decision is a flag test or one
comparison with the ratio's bound, and the result adds no attributes and keeps the parent's
trace state; ``InlineSampler`` answers those from the parent the factory already has. A root
sampler is recognised by its exact type (a subclass may decide otherwise), a ``ParentBased`` only
when otelkit built it (``parent_based``: its delegates are private, and a description can be
imitated); any other sampler goes through ``should_sample`` as before.

Ids: with the SDK's ``RandomIdGenerator`` (``random.getrandbits`` of the ``random`` module,
re-seeded by CPython in a forked child) one call of 192 bits gives both the trace and the span
id; any other generator is called as the SDK would.
"""

from __future__ import annotations

import random
import weakref
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    StaticSampler,
    TraceIdRatioBased,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry.sdk.trace.id_generator import IdGenerator
    from opentelemetry.sdk.trace.sampling import Sampler
    from opentelemetry.trace import SpanContext

__all__ = ["LOW_64", "InlineSampler", "inline_ids", "inline_sampler", "parent_based"]

_ALL = (1 << 64) - 1
"""A root ratio bound above every trace id's low 64 bits: always sampled."""
_LOW_64 = TraceIdRatioBased.TRACE_ID_LIMIT
LOW_64 = _LOW_64
"""The low 64 bits of a trace id, which ``TraceIdRatioBased`` compares with its bound."""


class InlineSampler:
    """One of the SDK's own samplers, decided without a ``SamplingResult``."""

    __slots__ = ("bound", "parent_based")

    def __init__(self, bound: int, *, parent_based: bool) -> None:
        self.bound = bound
        """Root spans (every span, unless parent-based) are sampled when the low 64 bits of
        the trace id are below it (``TraceIdRatioBased``'s rule; -1: never, ``_ALL + 1``:
        always)."""
        self.parent_based = parent_based
        """Whether a valid parent's sampled flag decides instead."""

    def sampled(self, parent: SpanContext, parent_valid: bool, trace_id: int) -> bool:
        if parent_valid and self.parent_based:
            return bool(parent.trace_flags.sampled)
        return (trace_id & _LOW_64) < self.bound


def _describe(sampler: Sampler) -> str:
    return str(sampler.get_description())


def _root_bound(sampler: Sampler) -> int | None:
    """The bound a ratio sampler, ``always_on`` or ``always_off`` amounts to; None otherwise."""
    kind = type(sampler)
    if kind is StaticSampler:
        description = _describe(sampler)
        if description == _describe(ALWAYS_ON):
            return _ALL + 1
        if description == _describe(ALWAYS_OFF):
            return -1
        return None
    if kind is TraceIdRatioBased:
        assert isinstance(sampler, TraceIdRatioBased)
        return sampler.bound
    return None


def parent_based(root: Sampler) -> ParentBased:
    """``ParentBased(root)`` with the default delegates, remembered as such when ``root`` is one
    of the SDK's own (the SDK keeps the delegates private, and a description can be imitated)."""
    sampler = ParentBased(root)
    bound = _root_bound(root)
    if bound is not None:
        _PARENT_BASED[sampler] = InlineSampler(bound, parent_based=True)
    return sampler


_PARENT_BASED: weakref.WeakKeyDictionary[Sampler, InlineSampler] = weakref.WeakKeyDictionary()
"""The ``ParentBased`` samplers built by ``parent_based``: their inline form."""


def inline_sampler(sampler: Sampler) -> InlineSampler | None:
    """The inline form of ``sampler`` when it is one of the SDK's own, else None."""
    bound = _root_bound(sampler)
    if bound is not None:
        return InlineSampler(bound, parent_based=False)
    return _PARENT_BASED.get(sampler) if type(sampler) is ParentBased else None


def inline_ids(generator: IdGenerator) -> Callable[[], tuple[int, int]] | None:
    """``() -> (trace_id, span_id)`` for the SDK's random generator, else None."""
    if type(generator) is not RandomIdGenerator:
        return None
    getrandbits = random.getrandbits

    def ids() -> tuple[int, int]:
        bits = getrandbits(192)
        trace_id, span_id = bits >> 64, bits & _LOW_64
        if trace_id and span_id:
            return trace_id, span_id
        return generator.generate_trace_id(), generator.generate_span_id()

    return ids
