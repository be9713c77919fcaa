"""stdlib ``logging`` and OpenTelemetry: the bridge to the logs signal, trace context on every
record, a JSON formatter and a structlog processor."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.semconv.attributes.code_attributes import (
    CODE_FILE_PATH,
    CODE_FUNCTION_NAME,
    CODE_LINE_NUMBER,
)

from otelkit._errors import guarded

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry._logs import LoggerProvider

# The SDK's own loggers and ours report export failures: bridging them could loop.
ALWAYS_SKIPPED = ("opentelemetry", "otelkit")


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

    def __init__(
        self,
        provider: LoggerProvider,
        level: int = logging.NOTSET,
        skipped: tuple[str, ...] = ALWAYS_SKIPPED,
    ) -> None:
        super().__init__(level)
        self._provider = provider
        self._skipped = tuple(dict.fromkeys((*ALWAYS_SKIPPED, *skipped)))

    @guarded("logging", None)
    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(self._skipped):
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


TRACE_FIELDS = ("trace_id", "span_id", "trace_flags", "service.name")


class TraceContextRecords:
    """A log-record factory that stamps every record with the current trace context.

    Each record gets ``trace_id`` and ``span_id`` (lower-case hex, empty outside a span),
    ``trace_flags`` (``01`` when sampled) and ``service.name``, usable in any format string
    (``%(trace_id)s``) and by ``JsonFormatter``. Installed by ``init_telemetry()`` (integration
    ``logging``), removed again by ``shutdown()``; the factory in place before is kept and called.
    """

    def __init__(self, service_name: str) -> None:
        self._service_name = service_name
        self._previous: Callable[..., logging.LogRecord] | None = None

    def install(self) -> None:
        self._previous = logging.getLogRecordFactory()
        logging.setLogRecordFactory(self._make)

    def uninstall(self) -> None:
        if self._previous is not None and logging.getLogRecordFactory() == self._make:
            logging.setLogRecordFactory(self._previous)
        self._previous = None

    def _make(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        previous = self._previous or logging.LogRecord
        record = previous(*args, **kwargs)
        stamp(record, self._service_name)
        return record


def stamp(record: logging.LogRecord, service_name: str) -> None:
    context = trace.get_current_span().get_span_context()
    fields = record.__dict__
    if context.is_valid:
        fields["trace_id"] = format(context.trace_id, "032x")
        fields["span_id"] = format(context.span_id, "016x")
        fields["trace_flags"] = format(context.trace_flags, "02x")
    else:
        fields["trace_id"] = fields["span_id"] = fields["trace_flags"] = ""
    fields["service.name"] = service_name


_STANDARD_FIELDS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, trace context, extras.

    ``extra={...}`` fields of the call are included; exceptions are rendered as ``exception``
    (the formatted traceback), which is the application's choice to log.
    """

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_FIELDS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def structlog_processor(
    logger: Any, method_name: str, event_dict: dict[str, Any]
) -> dict[str, Any]:
    """A structlog processor that adds ``trace_id``, ``span_id`` and ``trace_flags``."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
        event_dict.setdefault("trace_flags", format(context.trace_flags, "02x"))
    return event_dict
