"""Bridge from stdlib ``logging`` to the OpenTelemetry logs signal."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from opentelemetry._logs import SeverityNumber
from opentelemetry.semconv.attributes.code_attributes import (
    CODE_FILE_PATH,
    CODE_FUNCTION_NAME,
    CODE_LINE_NUMBER,
)

from otelkit._errors import guarded

if TYPE_CHECKING:
    from opentelemetry._logs import LoggerProvider

# The SDK's own loggers and ours report export failures: bridging them could loop.
_SKIPPED_PREFIXES = ("opentelemetry", "otelkit")


def severity(levelno: int) -> SeverityNumber:
    """Map a stdlib level onto the OTel severity scale (DEBUG=5, INFO=9, … CRITICAL=21)."""
    if levelno >= logging.CRITICAL:
        return SeverityNumber.FATAL
    if levelno >= logging.ERROR:
        return SeverityNumber.ERROR
    if levelno >= logging.WARNING:
        return SeverityNumber.WARN
    if levelno >= logging.INFO:
        return SeverityNumber.INFO
    return SeverityNumber.DEBUG


class OtelLogHandler(logging.Handler):
    """Emits each stdlib record as an OTel log record in the current trace context."""

    def __init__(self, provider: LoggerProvider, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._provider = provider

    @guarded("logging", None)
    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_SKIPPED_PREFIXES):
            return
        exception = record.exc_info[1] if record.exc_info else None
        self._provider.get_logger(record.name).emit(
            timestamp=int(record.created * 1e9),
            severity_number=severity(record.levelno),
            severity_text=record.levelname,
            body=record.getMessage(),
            attributes={
                CODE_FILE_PATH: record.pathname,
                CODE_FUNCTION_NAME: record.funcName,
                CODE_LINE_NUMBER: record.lineno,
            },
            exception=exception,
        )
