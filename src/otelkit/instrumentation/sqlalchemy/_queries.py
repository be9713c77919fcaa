"""Queries: ``db.client.operation.duration`` and CLIENT spans, timed in the dialect's events.

A listener on the dialect's ``do_execute`` / ``do_execute_no_params`` / ``do_executemany``
events runs the dialect's own method between two clock reads, and records
``db.client.operation.duration`` on otelkit's pre-aggregating histogram. Not
``before_cursor_execute`` / ``after_cursor_execute``: any connection-level listener puts every
statement of the engine on SQLAlchemy's event-dispatching path, which costs more than all of
otelkit's own work per query (bench/db.py; docs/sqlalchemy.md has the figures). The driver's
exception is seen first-hand (``error.type`` is its class, ``db.response.status_code`` its
SQLSTATE) and re-raised unchanged inside SQLAlchemy's own error handling. Operation and table
come from the statement's text (``_statements``), remembered per statement string, so a
repeated statement costs a dict lookup and one record. Parameters are never read. With tracing
on, each query is a CLIENT span (otelkit's light span, as for HTTP) with a sanitized
``db.query.text``; exception messages (PostgreSQL's DETAIL can quote a parameter) are never
recorded.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from opentelemetry.semconv.attributes.db_attributes import (
    DB_COLLECTION_NAME,
    DB_OPERATION_NAME,
    DB_QUERY_TEXT,
    DB_RESPONSE_STATUS_CODE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import SpanKind, StatusCode

from otelkit._errors import guarded
from otelkit.instrumentation._error_type import error_type
from otelkit.instrumentation.sqlalchemy._recorder import COMPONENT
from otelkit.instrumentation.sqlalchemy._statements import MAX_CACHED, describe, sanitize

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry.trace import Span
    from sqlalchemy.engine import Engine

    from otelkit.instrumentation.sqlalchemy._engine import Target
    from otelkit.instrumentation.sqlalchemy._recorder import SqlAlchemyRecorder
    from otelkit.metrics._fastpath import _HistogramSeries
    from otelkit.tracing._spans import SpanFactory

MAX_STATEMENTS = 1000
"""Statements remembered per engine and configuration (beyond: described on every call)."""


class _Statement(NamedTuple):
    """What one statement string of one engine says about itself, and its span's shape."""

    operation: str | None
    collection: str | None
    span_name: str
    span_attributes: dict[str, Any]


class QueryBinding:
    """The query side of one engine under one configuration: its statements, as described,
    the duration series of those that succeeded, and the span factory (None when this engine
    or the configuration has no spans)."""

    recorder: SqlAlchemyRecorder
    target: Target

    def init_queries(self) -> None:
        self.spans: SpanFactory | None = (
            self.recorder.spans if self.target.spans is not False else None
        )
        self.statements: dict[str, _Statement] = {}
        self.successes: dict[str, _HistogramSeries] = {}

    def statement(self, statement: str) -> _Statement:
        """The description of a statement (remembered for the next time)."""
        known = self.statements.get(statement)
        if known is not None:
            return known
        target = self.target
        operation, collection = describe(statement, backslash_escapes=target.backslash_escapes)
        span_attributes = dict(target.attributes)
        if operation is not None:
            span_attributes[DB_OPERATION_NAME] = operation
        if collection is not None:
            span_attributes[DB_COLLECTION_NAME] = collection
        known = _Statement(
            operation, collection, _span_name(target, operation, collection), span_attributes
        )
        if len(self.statements) < MAX_STATEMENTS and len(statement) <= MAX_CACHED:
            self.statements[statement] = known
        return known

    def series(self, statement: str) -> _HistogramSeries:
        """The duration series of a statement that succeeded (remembered for the next time)."""
        known = self.statement(statement)
        target = self.target
        operation, collection = known.operation, known.collection
        series = self.recorder.duration.series(
            (target.key, operation, collection, None, None),
            lambda: target.metric_attributes(operation, collection, None, None),
        )
        if len(self.successes) < MAX_STATEMENTS and len(statement) <= MAX_CACHED:
            self.successes[statement] = series
        return series

    def start_span(self, statement: str, spans: SpanFactory) -> tuple[Span, int]:
        known = self.statement(statement)
        attributes = dict(known.span_attributes)
        attributes[DB_QUERY_TEXT] = sanitize(
            statement,
            backslash_escapes=self.target.backslash_escapes,
            double_quoted_strings=self.target.double_quoted_strings,
        )
        start_ns = time.time_ns()
        return spans.start(known.span_name, None, SpanKind.CLIENT, attributes, start_ns), start_ns

    def failed(
        self,
        statement: str | None,
        error: str,
        code: str | None,
        elapsed: float,
        span: Span | None,
        start_ns: int,
    ) -> None:
        operation, collection = (
            self.statement(statement)[:2] if statement is not None else (None, None)
        )
        target = self.target
        self.recorder.duration.record(
            (target.key, operation, collection, error, code),
            lambda: target.metric_attributes(operation, collection, error, code),
            elapsed,
        )
        if span is not None:
            span.set_attribute(ERROR_TYPE, error)
            if code is not None:
                span.set_attribute(DB_RESPONSE_STATUS_CODE, code)
            span.set_status(StatusCode.ERROR)
            span.end(end_time=start_ns + int(elapsed * 1e9))


_Query: TypeAlias = "tuple[QueryBinding, float, Span | None, int]"
"""A query under way: its binding, the clock at its start, its span and the span's start."""


def _span_name(target: Target, operation: str | None, collection: str | None) -> str:
    """``{db.operation.name} {target}``, as the database span conventions name spans."""
    where = collection or target.fallback_span_name
    return f"{operation} {where}" if operation else where


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error (psycopg, asyncpg through SQLAlchemy, psycopg2)."""
    for name in ("sqlstate", "pgcode"):
        code = getattr(exc, name, None)
        if isinstance(code, str) and len(code) == 5 and code.isalnum():
            return code
    return None


def _original(exc: BaseException) -> BaseException:
    """The driver's exception: SQLAlchemy's async adapters wrap it as their ``__cause__``."""
    cause = exc.__cause__
    if type(exc).__module__.startswith("sqlalchemy.") and cause is not None:
        return cause
    return exc


# --- the listeners -------------------------------------------------------------------------


def listen_queries(engine: Engine, target: Target) -> None:
    """Register the ``do_execute*`` listeners of ``target`` on ``engine``'s dialect."""
    from sqlalchemy import event

    dialect = engine.dialect
    for name in ("do_execute", "do_execute_no_params", "do_executemany"):
        event.listen(dialect, name, _measured(target, getattr(dialect, name)))


def _measured(target: Target, execute: Callable[..., None]) -> Callable[..., bool]:
    """A ``do_execute*`` listener: runs the dialect's own ``execute`` between two clock reads.

    Returning True tells SQLAlchemy the statement was executed; without a configuration it
    returns False and SQLAlchemy executes it as usual. An exception from the driver is
    recorded and re-raised unchanged, inside SQLAlchemy's own error handling.
    """

    def listener(cursor: Any, statement: str, *rest: Any) -> bool:
        query = _query_begins(target, statement)
        if query is None:
            return False
        try:
            execute(cursor, statement, *rest)
        except BaseException as exc:
            _query_failed(query, statement, exc)
            raise
        _query_ends(query, statement)
        return True

    return listener


@guarded(COMPONENT)
def _query_begins(target: Target, statement: str) -> _Query | None:
    binding = target.bind()
    if binding is None:
        return None
    if binding.spans is None:
        return binding, time.perf_counter(), None, 0
    span, start_ns = binding.start_span(statement, binding.spans)
    return binding, time.perf_counter(), span, start_ns


@guarded(COMPONENT)
def _query_ends(query: _Query, statement: str) -> None:
    binding, start, span, start_ns = query
    elapsed = time.perf_counter() - start
    series = binding.successes.get(statement) or binding.series(statement)
    series.record(elapsed)
    if span is not None:
        span.end(end_time=start_ns + int(elapsed * 1e9))


@guarded(COMPONENT)
def _query_failed(query: _Query, statement: str, exc: BaseException) -> None:
    binding, start, span, start_ns = query
    elapsed = time.perf_counter() - start
    original = _original(exc)
    binding.failed(statement, error_type(original), _sqlstate(original), elapsed, span, start_ns)
