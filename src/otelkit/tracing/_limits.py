"""Span limits for light spans, applied as the SDK applies them.

The SDK bounds a span's attributes with ``BoundedAttributes`` (at most ``max_span_attributes``;
a new key when full evicts the oldest; string values, alone or in sequences, cut to
``max_span_attribute_length``; invalid keys dropped, odd values turned into strings) and its
events and links with ``BoundedList`` (the oldest dropped when full); each event and link bounds
its own attributes with ``max_event_attributes`` / ``max_link_attributes`` and the global
``max_attribute_length``. Every drop is counted.

A light span keeps its attributes in a plain dict: values otelkit itself sets (strings under the
length limit, numbers) are stored directly; anything else goes through a ``BoundedAttributes``
of its own, so cleaning and truncation are the SDK's, by construction. Event and link
attributes are ``BoundedAttributes`` exactly as in the SDK.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import ReadableSpan

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opentelemetry.sdk.trace import SpanLimits
    from opentelemetry.util import types

UNLIMITED = sys.maxsize
"""A count limit of ``None`` (no limit), as a number the hot path can compare with."""

PLAIN = frozenset({bool, int, float})
"""Value types the SDK stores unchanged (``str`` is too, when within the length limit)."""


def _count(limit: int | None) -> int:
    return UNLIMITED if limit is None else limit


class Limits:
    """A provider's ``SpanLimits``, resolved once per span factory."""

    __slots__ = (
        "attribute_length",
        "event_attributes",
        "events",
        "link_attributes",
        "links",
        "span_attribute_length",
        "span_attributes",
        "span_attributes_limit",
    )

    def __init__(self, limits: SpanLimits) -> None:
        self.span_attributes_limit: int | None = limits.max_span_attributes
        """As given (None: no limit), for ``BoundedAttributes``."""
        self.span_attributes = _count(limits.max_span_attributes)
        self.span_attribute_length: int | None = limits.max_span_attribute_length
        self.events = _count(limits.max_events)
        self.links = _count(limits.max_links)
        self.event_attributes: int | None = limits.max_event_attributes
        self.link_attributes: int | None = limits.max_link_attributes
        self.attribute_length: int | None = limits.max_attribute_length

    def plain(self, value: object) -> bool:
        """Whether the SDK would store ``value`` unchanged as a span attribute."""
        kind = type(value)
        if kind is str:
            length = self.span_attribute_length
            return length is None or len(value) <= length  # type: ignore[arg-type]
        return kind in PLAIN

    def within_length(self, attributes: Mapping[str, Any]) -> bool:
        """Whether no string value of otelkit's own attributes is too long for the span."""
        length = self.span_attribute_length
        return length is None or all(
            len(value) <= length for value in attributes.values() if type(value) is str
        )

    def initial(self, attributes: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
        """A span's attributes at its start as the SDK keeps them, and how many it dropped."""
        bounded = BoundedAttributes(
            self.span_attributes_limit,
            attributes,
            immutable=False,
            max_value_len=self.span_attribute_length,
        )
        return dict(bounded), bounded.dropped

    def cleaned(self, attributes: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
        """Attributes as the SDK cleans a mapping before setting it, and how many it dropped."""
        bounded = BoundedAttributes(
            None, attributes, immutable=False, max_value_len=self.span_attribute_length
        )
        return dict(bounded), bounded.dropped

    def clean(self, key: str, value: types.AnyValue) -> tuple[bool, types.AnyValue]:
        """One span attribute as the SDK would store it: (kept, value)."""
        bounded = BoundedAttributes(
            None, None, immutable=False, max_value_len=self.span_attribute_length
        )
        bounded[key] = value
        if bounded.dropped:
            return False, None
        return True, bounded[key]

    def event_attributes_of(self, attributes: types.Attributes) -> BoundedAttributes:
        """An event's attributes, bounded as the SDK bounds them."""
        return BoundedAttributes(
            self.event_attributes,
            attributes,
            max_value_len=self.attribute_length,
            immutable=True,
        )

    def link_attributes_of(self, attributes: types.Attributes) -> BoundedAttributes:
        """A link's attributes, bounded as the SDK bounds them."""
        return BoundedAttributes(
            self.link_attributes,
            attributes,
            max_value_len=self.attribute_length,
            immutable=True,
        )


class EndedSpan(ReadableSpan):
    """The ``ReadableSpan`` a light span becomes, with the drops its limits counted.

    The SDK's ``ReadableSpan`` reads the counts from its ``BoundedAttributes`` and
    ``BoundedList``; a light span keeps plain containers and counts itself.
    """

    drops: tuple[int, int, int] = (0, 0, 0)
    """Dropped (attributes, events, links); set on the instance only when not all zero."""

    @property
    def dropped_attributes(self) -> int:
        return self.drops[0]

    @property
    def dropped_events(self) -> int:
        return self.drops[1]

    @property
    def dropped_links(self) -> int:
        return self.drops[2]
