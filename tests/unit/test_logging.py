"""Logs: trace context on every stdlib record, a JSON formatter, a structlog processor."""

from __future__ import annotations

import io
import json
import logging
from typing import TYPE_CHECKING

import pytest

import otelkit
from otelkit.instrumentation.logging import JsonFormatter, structlog_processor

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def telemetry() -> Iterator[otelkit.Telemetry]:
    handle = otelkit.init_telemetry(
        "logs-test", exporters={"traces": "memory", "metrics": "memory"}, instrument="logging"
    )
    yield handle
    handle.shutdown()


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("shop")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_records_inside_a_span_carry_its_ids(
    telemetry: otelkit.Telemetry, captured: io.StringIO
) -> None:
    with telemetry.tracer.start_as_current_span("checkout") as span:
        logging.getLogger("shop").info("charging %s", "card", extra={"order_id": 7})
    (line,) = lines(captured)
    context = span.get_span_context()
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert line["span_id"] == format(context.span_id, "016x")
    assert line["trace_flags"] == format(context.trace_flags, "02x")
    assert int(str(line["trace_flags"]), 16) & 0x01  # sampled
    assert line["service.name"] == "logs-test"
    assert line["message"] == "charging card"
    assert line["order_id"] == 7
    assert line["level"] == "INFO"


def test_records_outside_a_span_have_empty_ids(
    telemetry: otelkit.Telemetry, captured: io.StringIO
) -> None:
    logging.getLogger("shop").warning("no span")
    (line,) = lines(captured)
    assert (line["trace_id"], line["span_id"]) == ("", "")


def test_plain_format_strings_can_use_the_fields(telemetry: otelkit.Telemetry) -> None:
    record = logging.getLogger("shop").makeRecord("shop", logging.INFO, __file__, 1, "m", (), None)
    text = logging.Formatter("%(service.name)s trace=%(trace_id)s %(message)s").format(record)
    assert text == "logs-test trace= m"


def test_shutdown_restores_the_previous_record_factory() -> None:
    before = logging.getLogRecordFactory()
    telemetry = otelkit.init_telemetry("restore", exporters="memory", instrument="logging")
    assert logging.getLogRecordFactory() is not before
    telemetry.shutdown()
    assert logging.getLogRecordFactory() is before


def test_structlog_processor_adds_the_trace_context(telemetry: otelkit.Telemetry) -> None:
    import structlog

    output = io.StringIO()
    structlog.configure(
        processors=[structlog_processor, structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(output),
    )
    try:
        with telemetry.tracer.start_as_current_span("job") as span:
            structlog.get_logger().info("step")
    finally:
        structlog.reset_defaults()
    event = json.loads(output.getvalue())
    assert event["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert event["event"] == "step"


def test_the_exporters_own_libraries_are_not_bridged() -> None:
    """urllib3's complaints about a failing OTLP export never become exported log records."""
    from otelkit import testing

    telemetry = otelkit.init_telemetry(
        "bridge", exporters={"metrics": "memory", "logs": "memory,otlp"}, instrument="none"
    )
    logging.getLogger("urllib3.connectionpool").warning("Retrying after connection broken")
    logging.getLogger("shop").warning("kept")
    assert [r.log_record.body for r in testing.logs(telemetry)] == ["kept"]
    telemetry.shutdown(timeout=1)
