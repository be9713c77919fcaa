"""One redaction everywhere: the failure warning, the start-up line and the configuration's
registered secrets agree, and the failure warning is safe without the loggers' filter.

The failure WARNING quotes an exception's repr and the SDK's own messages (urllib3's "Max
retries exceeded with url: /v1/traces?token=..."); it is redacted where it is written, so a
handler that sees the record before any filter (or a logger that never got one) reads no secret.
"""

from __future__ import annotations

import logging
import string
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otelkit.config import _redact
from otelkit.runtime._announce import summary
from otelkit.runtime._failures import Report, report_for
from otelkit.runtime._load import instantiate, load_settings
from otelkit.runtime._outcome import Outcome, RecordingSpanExporter

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExportResult

SECRETS = st.text(alphabet=string.ascii_letters + string.digits, min_size=12, max_size=30).map(
    lambda text: "Sx" + text
)


@contextmanager
def unfiltered_otelkit_logger() -> Iterator[list[logging.LogRecord]]:
    """The records of the ``otelkit`` logger as a handler attached to it gets them, with the
    redacting filter ``protect()`` puts there taken away: what the report itself wrote."""
    otelkit_logger = logging.getLogger("otelkit")
    filters, level = list(otelkit_logger.filters), otelkit_logger.level
    otelkit_logger.filters = [f for f in filters if not isinstance(f, _redact.RedactingFilter)]
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    otelkit_logger.addHandler(handler)
    otelkit_logger.setLevel(logging.INFO)
    try:
        yield records
    finally:
        otelkit_logger.removeHandler(handler)
        otelkit_logger.filters, otelkit_logger.level = filters, level


class RefusedWithTheUrl:
    """A span exporter failing as the HTTP one does: urllib3's message quotes the request URL."""

    def __init__(self, message: str) -> None:
        self.message = message

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise ConnectionError(self.message)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


@settings(max_examples=25, deadline=None)
@given(password=SECRETS, token=SECRETS)
def test_the_failure_warning_is_redacted_before_any_filter_sees_it(
    password: str, token: str
) -> None:
    endpoint = f"http://collector:{password}@127.0.0.1:9/v1/traces?token={token}"
    urllib3_says = (
        f"HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: "
        f"/v1/traces?token={token} (proxy http://proxy:{password}@10.0.0.1:3128)"
    )
    report = Report("traces", "leaky", endpoint, "spans")
    exporter = RecordingSpanExporter(
        RefusedWithTheUrl(urllib3_says),  # type: ignore[arg-type]
        Outcome("traces"),
        report,
    )
    with unfiltered_otelkit_logger() as records, pytest.raises(ConnectionError):
        exporter.export([])

    (record,) = records
    message = record.getMessage()
    assert "Max retries exceeded with url: /v1/traces?token=REDACTED" in message
    assert password not in message
    assert token not in message


def test_the_failure_warning_shows_the_endpoint_as_the_start_up_line_does() -> None:
    endpoint = "https://shop:pa55w0rd@collector.example:4318?tenant=eu&token=t0ken"
    environ = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
    }
    loaded = load_settings({}, environ)
    plugins = instantiate(loaded)
    _level, line = summary(loaded.settings, plugins)

    where = report_for(plugins["otlp"], "traces", "spans").where

    assert where == _redact.redact_url(str(plugins["otlp"].resolve("traces").endpoint))
    assert f"to OTLP http/protobuf {where}" in line
    assert "REDACTED:REDACTED@collector.example:4318" in where
    assert "tenant=eu&token=REDACTED" in where


@settings(max_examples=25, deadline=None)
@given(token=SECRETS, password=SECRETS)
def test_only_credentials_of_a_configured_url_are_registered(token: str, password: str) -> None:
    """Userinfo and sensitive query values become secrets; ``format=json`` does not, or every
    line holding "json" would lose it."""
    environ = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_ENDPOINT": (
            f"http://shop:{password}@127.0.0.1:4318?format=json&region=europe&access_token={token}"
        ),
    }
    _redact.protect(load_settings({}, environ).settings)
    try:
        said = f"sent json to europe with {token}, logged in with {password}"
        assert (
            _redact.redact_text(said)
            == "sent json to europe with REDACTED, logged in with REDACTED"
        )
    finally:
        _redact.register([], replace=True)
