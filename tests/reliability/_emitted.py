"""Everything otelkit emitted during a test, as text: where the secrets tests look for leaks.

``Emitted.gather()`` reads every channel a secret could leave by: the spans, metric points and
log records the memory exporter holds (names, attributes, events, status, resource), the
Prometheus exposition page, every OTLP export request the real receiver decoded (each string
field of the protobuf messages), and log records captured by ``caplog`` (message and traceback,
as a handler would format them). ``leaks(secrets)`` names the channels holding any of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from google.protobuf.message import Message

import otelkit
from otelkit import testing

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from tests.fixtures.otlp_receiver import OtlpReceiver

_FORMATTER = logging.Formatter("%(name)s %(levelname)s %(message)s")


def strings_of(value: Any) -> Iterator[str]:
    """Every string inside a value: attributes, sequences, mappings, protobuf messages."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif isinstance(value, Message):
        for _descriptor, inner in value.ListFields():
            yield from strings_of(inner)
    elif isinstance(value, dict) or hasattr(value, "items"):
        for key, inner in value.items():
            yield str(key)
            yield from strings_of(inner)
    elif isinstance(value, (list, tuple, set, frozenset)) or type(value).__name__.startswith(
        "Repeated"
    ):
        for inner in value:
            yield from strings_of(inner)
    elif value is not None:
        yield str(value)


def _encodings(secret: str) -> tuple[str, ...]:
    """The secret as written, percent-encoded, and as a server decodes UTF-8 bytes as latin-1
    (what wsgiref puts in ``PATH_INFO``)."""
    mojibake = secret.encode("utf-8", "surrogatepass").decode("latin-1")
    return (secret, quote(secret, safe=""), quote_plus(secret), mojibake)


@dataclass
class Emitted:
    """The text of each channel, by channel name."""

    channels: dict[str, list[str]] = field(default_factory=dict)

    def add(self, channel: str, values: Iterable[str]) -> None:
        self.channels.setdefault(channel, []).extend(values)

    def leaks(self, secrets: Iterable[str]) -> list[tuple[str, str, str]]:
        """(channel, secret, excerpt) for each secret found, in any common encoding."""
        found = []
        forms = {form for s in secrets if s for form in _encodings(s) if form}
        for channel, texts in self.channels.items():
            for text in texts:
                for form in forms:
                    at = text.find(form)
                    if at >= 0:
                        found.append((channel, form, text[max(0, at - 60) : at + 60]))
        return found

    @classmethod
    def gather(
        cls,
        telemetry: otelkit.Telemetry,
        receiver: OtlpReceiver | None = None,
        records: Iterable[logging.LogRecord] = (),
    ) -> Emitted:
        emitted = cls()
        assert telemetry.force_flush(timeout=10) or receiver is None
        for span in testing.spans(telemetry):
            emitted.add("span", [span.name, span.status.description or ""])
            emitted.add("span", strings_of(dict(span.attributes or {})))
            for event in span.events:
                emitted.add("span", [event.name, *strings_of(dict(event.attributes or {}))])
            emitted.add("span", strings_of(dict(span.resource.attributes)))
        data = testing.metrics(telemetry)
        for resource_metrics in data.resource_metrics if data is not None else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    emitted.add("metric", [metric.name])
                    for point in metric.data.data_points:
                        emitted.add("metric", strings_of(dict(point.attributes or {})))
        for log in testing.logs(telemetry):
            record = log.log_record
            emitted.add("otel log", [*strings_of(record.body), *strings_of(record.attributes)])
        if "prometheus" in telemetry.settings.metrics_exporters:
            statuses: list[str] = []
            page = b"".join(otelkit.metrics_wsgi()({}, lambda s, _h: statuses.append(s)))
            assert statuses == ["200 OK"]
            emitted.add("prometheus", [page.decode("utf-8")])
        if receiver is not None:
            for request in receiver.requests:
                emitted.add(f"otlp {request.signal}", strings_of(request.message))
        for record in records:
            text = _FORMATTER.format(record)
            emitted.add("log record", [text, record.exc_text or ""])
        return emitted


def telemetry_everywhere(receiver: OtlpReceiver, **keywords: Any) -> otelkit.Telemetry:
    """Memory (to read back), Prometheus (to scrape) and OTLP (to the real receiver)."""
    return otelkit.init_telemetry(
        "secrets-test",
        exporters={
            "metrics": ["memory", "prometheus", "otlp"],
            "traces": ["memory", "otlp"],
            "logs": ["memory", "otlp"],
        },
        otlp_endpoint=receiver.endpoint,
        otlp_protocol=receiver.protocol,
        prometheus_port=0,
        instrument="none",
        **keywords,
    )
