"""What otelkit reads from a Celery message or request: headers, the queue, when it was ready.

The publisher writes the publish time (``otelkit_published``, epoch seconds) and the W3C trace
context into the message headers, so any broker carries them; Celery hands custom headers to the
worker as attributes of the request (and in its ``headers``). The queue wait runs from the later
of the publish header and the ETA to the start; without the header (a producer without otelkit)
it uses the ETA, else the AMQP ``timestamp`` property.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from opentelemetry.propagators import textmap

PUBLISHED_HEADER = "otelkit_published"
"""Message header: when the task was published, in seconds since the epoch (a float)."""


class _RequestGetter(textmap.Getter[Any]):
    """Reads the propagation headers (``traceparent``…) from a Celery request."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        value = header(carrier, key)
        return [value] if isinstance(value, str) else None

    def keys(self, carrier: Any) -> list[str]:
        return []


GETTER = _RequestGetter()


def header(request: Any, key: str) -> object:
    """A custom message header: an attribute of the request, and also in its ``headers``."""
    value = getattr(request, key, None)
    if value is None:
        headers = getattr(request, "headers", None)
        if isinstance(headers, dict):
            value = headers.get(key)
    return value


def queue_of(delivery_info: object) -> str | None:
    """The queue: the routing key (the queue's name with Celery's default direct routing)."""
    if isinstance(delivery_info, dict):
        queue = delivery_info.get("routing_key") or delivery_info.get("exchange")
        if isinstance(queue, str) and queue:
            return queue
    return None


def _epoch(value: object) -> float | None:
    """A header value as epoch seconds: a number, or an ISO 8601 string (Celery's ETA)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # Celery's default (enable_utc)
    return moment.timestamp()


def waiting_since(request: Any) -> float | None:
    """When the task became ready to run: its publish time, or its ETA if that is later.

    Without otelkit's header (a producer without otelkit), the ETA alone, else the message's
    ``timestamp`` property (the AMQP "sent" time, which some producers set).
    """
    published = _epoch(header(request, PUBLISHED_HEADER))
    eta = _epoch(getattr(request, "eta", None))
    if published is None:
        if eta is not None:
            return eta
        properties = getattr(request, "properties", None)
        return _epoch(properties.get("timestamp")) if isinstance(properties, dict) else None
    return published if eta is None else max(published, eta)
