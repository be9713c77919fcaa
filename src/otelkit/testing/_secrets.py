"""``assert_no_secret``: a value must appear nowhere in what was recorded.

Everything a backend would receive is searched, as text: span names, attributes, events, links
and status descriptions; metric names and the attributes of every series; log bodies and
attributes; the resources of all three. The failure names each place, never the value itself
(a test may use a real credential).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ["places"]


def _in_mapping(secret: str, where: str, mapping: Mapping[str, Any] | None) -> Iterator[str]:
    for key, value in (mapping or {}).items():
        if secret in str(key) or secret in str(value):
            yield f"{where} attribute {key!r}"


def _in_spans(secret: str, spans: Any) -> Iterator[str]:
    for span in spans:
        where = f"span {span.name!r}"
        if secret in span.name:
            yield f"{where} name"
        yield from _in_mapping(secret, where, span.attributes)
        for event in span.events:
            if secret in event.name:
                yield f"{where} event {event.name!r}"
            yield from _in_mapping(secret, f"{where} event {event.name!r}", event.attributes)
        for link in span.links:
            yield from _in_mapping(secret, f"{where} link", link.attributes)
        if span.status.description and secret in span.status.description:
            yield f"{where} status description"
        yield from _in_mapping(secret, f"{where} resource", span.resource.attributes)


def _in_metrics(secret: str, data: Any) -> Iterator[str]:
    for resource_metrics in data.resource_metrics if data is not None else ():
        resource = resource_metrics.resource.attributes
        yield from _in_mapping(secret, "metric resource", resource)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                where = f"metric {metric.name!r}"
                if secret in metric.name or secret in (metric.description or ""):
                    yield f"{where} name or description"
                for point in metric.data.data_points:
                    yield from _in_mapping(secret, where, point.attributes)


def _in_logs(secret: str, records: Any) -> Iterator[str]:
    for number, readable in enumerate(records, 1):
        record = readable.log_record
        where = f"log record {number} ({record.severity_text or 'no level'})"
        if record.body is not None and secret in str(record.body):
            yield f"{where} body"
        yield from _in_mapping(secret, where, record.attributes)
        yield from _in_mapping(secret, f"{where} resource", readable.resource.attributes)


def places(secret: str, *, spans: Any, metrics: Any, logs: Any) -> list[str]:
    """Every place ``secret`` appears in, without repeats, in the order found."""
    found = [*_in_spans(secret, spans), *_in_metrics(secret, metrics), *_in_logs(secret, logs)]
    return list(dict.fromkeys(found))
