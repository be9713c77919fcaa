"""SQLAlchemy: query duration by operation and table, connection-pool metrics, client spans.

``instrument_sqlalchemy(engine)`` instruments one engine (sync, or the ``sync_engine`` of an
``AsyncEngine``); ``install_auto()`` wraps ``Engine.__init__`` so that every engine created
afterwards instruments itself. The listeners do nothing while no configuration is active and
bind themselves lazily to the active one, as the HTTP middlewares do: a re-configuration gets
fresh instruments, and the pool counts start again from what the pool holds at that moment.

Queries: a listener on the dialect's ``do_execute`` / ``do_execute_no_params`` /
``do_executemany`` events runs the dialect's own method between two clock reads, and records
``db.client.operation.duration`` on otelkit's pre-aggregating histogram. Not
``before_cursor_execute`` / ``after_cursor_execute``: any connection-level listener puts every
statement of the engine on SQLAlchemy's event-dispatching path, which costs more than all of
otelkit's own work per query (bench/db.py; docs/sqlalchemy.md has the figures). The driver's
exception is seen first-hand (``error.type`` is its class, ``db.response.status_code`` its
SQLSTATE) and re-raised unchanged inside SQLAlchemy's own error handling. Operation and table
come from the statement's text (``_statements``), remembered per statement
string, so a repeated statement costs a dict lookup and one record. Parameters are never read.
With tracing on, each query is a CLIENT span (otelkit's light span, as for HTTP) with a
sanitized ``db.query.text``; exception messages (PostgreSQL's DETAIL can quote a parameter) are
never recorded.

Pool: ``connect`` / ``checkin`` / ``close`` / ``detach`` events, and a wrapper around the pool's
``connect()``, where a request for a connection starts and where it is handed out (pending
requests, wait time, timeouts, the checkout itself; a ``checkout`` listener would move every
checkout off the pool's fast path): ``db.client.connection.count`` by state, ``.max``,
``.pending_requests``, ``.timeouts``, ``.wait_time``, ``.use_time``, ``.create_time``. Each
connection remembers in its pool record's ``info`` which state it is counted in, and under which
configuration, so the counts stay exact across invalidation, recycling, detaching and
re-configuration.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv._incubating.attributes.db_attributes import (
    DB_CLIENT_CONNECTION_POOL_NAME,
    DB_CLIENT_CONNECTION_STATE,
    DbClientConnectionStateValues,
    DbSystemNameValues,
)
from opentelemetry.semconv._incubating.metrics.db_metrics import (
    DB_CLIENT_CONNECTION_COUNT,
    DB_CLIENT_CONNECTION_CREATE_TIME,
    DB_CLIENT_CONNECTION_MAX,
    DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    DB_CLIENT_CONNECTION_TIMEOUTS,
    DB_CLIENT_CONNECTION_USE_TIME,
    DB_CLIENT_CONNECTION_WAIT_TIME,
)
from opentelemetry.semconv.attributes.db_attributes import (
    DB_COLLECTION_NAME,
    DB_NAMESPACE,
    DB_OPERATION_NAME,
    DB_QUERY_TEXT,
    DB_RESPONSE_STATUS_CODE,
    DB_SYSTEM_NAME,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.semconv.metrics.db_metrics import DB_CLIENT_OPERATION_DURATION
from opentelemetry.trace import SpanKind, StatusCode

from otelkit import _active
from otelkit._errors import ConfigError, guarded
from otelkit._version import __version__
from otelkit.instrumentation.http._common import error_type
from otelkit.instrumentation.sqlalchemy._statements import MAX_CACHED, describe, sanitize
from otelkit.metrics._fastpath import REGISTRY
from otelkit.tracing._spans import SpanFactory

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from opentelemetry.trace import Span
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import ConnectionPoolEntry, Pool, PoolProxiedConnection

    from otelkit.metrics._fastpath import FastHistogram, FastSum, _HistogramSeries, _SumSeries
    from otelkit.runtime._telemetry import Telemetry

__all__ = ["install_auto", "instrument_sqlalchemy", "instrumented", "uninstall_auto"]

logger = logging.getLogger("otelkit")

E = TypeVar("E")

SCOPE = InstrumentationScope("otelkit.sqlalchemy", __version__)
COMPONENT = "sqlalchemy"

DB_DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
"""The advisory boundaries of ``db.client.operation.duration`` in the stable database semantic
conventions (the Python semconv package carries names, not advisory parameters)."""
POOL_TIME_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
"""For the pool's wait, use and create times (semconv gives no advice): finer at the bottom,
where waiting for an idle connection lives."""

IDLE = DbClientConnectionStateValues.IDLE.value
USED = DbClientConnectionStateValues.USED.value
_CLOSED = "closed"  # closed while checked out: counted in neither state, checkin still due

_SYSTEMS: Mapping[str, str] = {
    "postgresql": DbSystemNameValues.POSTGRESQL.value,
    "mysql": DbSystemNameValues.MYSQL.value,
    "mariadb": DbSystemNameValues.MARIADB.value,
    "sqlite": DbSystemNameValues.SQLITE.value,
    "mssql": DbSystemNameValues.MICROSOFT_SQL_SERVER.value,
    "oracle": DbSystemNameValues.ORACLE_DB.value,
}
_MARK = "otelkit.pool"  # key in a pool record's ``info``: [binding, state, since]
MAX_STATEMENTS = 1000
"""Statements remembered per engine and configuration (beyond: described on every call)."""


def _sqlalchemy() -> Any:
    """The sqlalchemy package (2.x), or a ConfigError naming the extra to install."""
    try:
        sqlalchemy = importlib.import_module("sqlalchemy")
    except ImportError:
        raise ConfigError(
            "instrument_sqlalchemy() needs SQLAlchemy: pip install 'otelkit[sqlalchemy]'"
        ) from None
    major = int(str(sqlalchemy.__version__).split(".", 1)[0])
    if major < 2:
        raise ConfigError(
            f"instrument_sqlalchemy() needs SQLAlchemy 2.0 or later, found "
            f"{sqlalchemy.__version__}: pip install 'otelkit[sqlalchemy]'"
        )
    return sqlalchemy


def available(*, required: bool = False) -> bool:
    """Whether SQLAlchemy 2 is installed; with ``required`` a ConfigError names the extra."""
    try:
        _sqlalchemy()
    except ConfigError:
        if required:
            raise
        return False
    return True


# --- per configuration ---------------------------------------------------------------------


class _Recorder:
    """The instruments and span factory of one configuration."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.owner = telemetry
        self.duration: FastHistogram = REGISTRY.histogram(
            DB_CLIENT_OPERATION_DURATION,
            unit="s",
            description="Duration of database client operations.",
            scope=SCOPE,
            boundaries=DB_DURATION_BUCKETS,
            transient=True,
        )
        self.count: FastSum = _sum(
            DB_CLIENT_CONNECTION_COUNT,
            "{connection}",
            "The number of connections that are currently in state described by the `state` "
            "attribute.",
        )
        self.max: FastSum = _sum(
            DB_CLIENT_CONNECTION_MAX,
            "{connection}",
            "The maximum number of open connections allowed.",
        )
        self.pending: FastSum = _sum(
            DB_CLIENT_CONNECTION_PENDING_REQUESTS,
            "{request}",
            "The number of current pending requests for an open connection.",
        )
        self.timeouts: FastSum = _sum(
            DB_CLIENT_CONNECTION_TIMEOUTS,
            "{timeout}",
            "The number of connection timeouts that have occurred trying to obtain a connection "
            "from the pool.",
            monotonic=True,
        )
        self.wait_time = _histogram(
            DB_CLIENT_CONNECTION_WAIT_TIME,
            "The time it took to obtain an open connection from the pool.",
        )
        self.use_time = _histogram(
            DB_CLIENT_CONNECTION_USE_TIME,
            "The time between borrowing a connection and returning it to the pool.",
        )
        self.create_time = _histogram(
            DB_CLIENT_CONNECTION_CREATE_TIME, "The time it took to create a new connection."
        )
        pipeline = telemetry._pipeline
        self.spans: SpanFactory | None = (
            SpanFactory(pipeline.tracer_provider, SCOPE)
            if telemetry.tracing and pipeline is not None
            else None
        )


def _sum(name: str, unit: str, description: str, monotonic: bool = False) -> FastSum:
    return REGISTRY.sum(
        name,
        unit=unit,
        description=description,
        scope=SCOPE,
        monotonic=monotonic,
        transient=True,
    )


def _histogram(name: str, description: str) -> FastHistogram:
    return REGISTRY.histogram(
        name,
        unit="s",
        description=description,
        scope=SCOPE,
        boundaries=POOL_TIME_BUCKETS,
        transient=True,
    )


_lock = threading.RLock()
_recorder: _Recorder | None = None


def _current(caller: _Target | None = None) -> _Recorder | None:
    """The recorder of the active configuration (created on first use), or None."""
    active = _active.current()
    recorder = _recorder
    if recorder is not None and recorder.owner is active:
        return recorder
    if active is None or not active.enabled:
        return None
    return _new_recorder(active, caller)


def _new_recorder(active: Telemetry, caller: _Target | None) -> _Recorder:
    global _recorder
    with _lock:
        recorder = _recorder
        if recorder is not None and recorder.owner is active:
            return recorder
        recorder = _Recorder(active)
        _recorder = recorder
        # Every known engine reports its pool (max, idle, used) from now on, not from its next
        # event; the engine whose event got here binds itself, knowing which connection moves.
        for target in list(_TARGETS.values()):
            if target is not caller:
                target.rebind(recorder)
        return recorder


# --- per engine ----------------------------------------------------------------------------


class _Statement(NamedTuple):
    """What one statement string of one engine says about itself, and its span's shape."""

    operation: str | None
    collection: str | None
    span_name: str
    span_attributes: dict[str, Any]


class _Target:
    """One instrumented engine: what never changes about it, and its current binding."""

    def __init__(self, engine: Engine, spans: bool | None, pool_name: str) -> None:
        self.engine = weakref.ref(engine)
        self.spans = spans
        self.pool_name = pool_name
        self.pool_attributes: Mapping[str, Any] = {DB_CLIENT_CONNECTION_POOL_NAME: pool_name}
        url = engine.url
        dialect = engine.dialect
        name = "mariadb" if getattr(dialect, "is_mariadb", False) else dialect.name
        attributes: dict[str, Any] = {
            DB_SYSTEM_NAME: _SYSTEMS.get(name, DbSystemNameValues.OTHER_SQL.value)
        }
        if url.database and name != "sqlite":
            attributes[DB_NAMESPACE] = url.database
        if url.host:
            attributes[SERVER_ADDRESS] = url.host
            if url.port:
                attributes[SERVER_PORT] = url.port
        self.attributes: Mapping[str, Any] = attributes
        self.backslash_escapes = name in ("mysql", "mariadb")
        """Whether the database reads backslashes as escapes in string literals (for the
        statement sanitizer, which must find where each literal ends)."""
        # Series are keyed by attribute values, not by engine: two engines on one database
        # share their duration series (one exported point per attribute set).
        self.key = tuple(attributes.values())
        self.fallback_span_name = str(attributes.get(DB_NAMESPACE) or attributes[DB_SYSTEM_NAME])
        self.binding: _Binding | None = None

    def bind(
        self, record: ConnectionPoolEntry | None = None, pooled: bool = False
    ) -> _Binding | None:
        """The binding to the active configuration, or None when there is none.

        A pool event passes its connection ``record``: if the binding starts now, that
        connection is left out of the start count (``pooled``: the pool counts it as idle,
        else as checked out), since the event itself is about to count it.
        """
        recorder = _current(self)
        if recorder is None:
            return None
        binding = self.binding
        if binding is not None and binding.recorder is recorder:
            return binding
        return self.rebind(recorder, record, pooled)

    def rebind(
        self,
        recorder: _Recorder,
        record: ConnectionPoolEntry | None = None,
        pooled: bool = False,
    ) -> _Binding:
        with _lock:
            binding = self.binding
            if binding is None or binding.recorder is not recorder:
                engine = self.engine()
                binding = _Binding(recorder, self, engine.pool if engine is not None else None)
                if record is not None:
                    binding.exclude(record, pooled)
                self.binding = binding
            return binding

    def metric_attributes(
        self, operation: str | None, collection: str | None, error: str | None, code: str | None
    ) -> dict[str, Any]:
        attributes = dict(self.attributes)
        if operation is not None:
            attributes[DB_OPERATION_NAME] = operation
        if collection is not None:
            attributes[DB_COLLECTION_NAME] = collection
        if code is not None:
            attributes[DB_RESPONSE_STATUS_CODE] = code
        if error is not None:
            attributes[ERROR_TYPE] = error
        return attributes


class _Binding:
    """One engine under one configuration: its series, and the pool's state when it began."""

    def __init__(self, recorder: _Recorder, target: _Target, pool: Pool | None) -> None:
        self.recorder = recorder
        self.target = target
        self.spans = recorder.spans if target.spans is not False else None
        self.statements: dict[str, _Statement] = {}
        self.successes: dict[str, _HistogramSeries] = {}
        pool_attributes = target.pool_attributes
        name = target.pool_name
        self.idle: _SumSeries = recorder.count.series(
            (name, IDLE), {**pool_attributes, DB_CLIENT_CONNECTION_STATE: IDLE}
        )
        self.used: _SumSeries = recorder.count.series(
            (name, USED), {**pool_attributes, DB_CLIENT_CONNECTION_STATE: USED}
        )
        self.pending = recorder.pending.series(name, pool_attributes)
        self.timeouts = recorder.timeouts.series(name, pool_attributes)
        self.wait_time = recorder.wait_time.series(name, pool_attributes)
        self.use_time = recorder.use_time.series(name, pool_attributes)
        self.create_time = recorder.create_time.series(name, pool_attributes)
        self._lock = threading.Lock()
        # Connections that were open before this binding and that it has not seen since:
        # counted from the pool at the start, taken off when their next event comes.
        self.legacy_idle = 0
        self.legacy_used = 0
        self.maximum: _SumSeries | None = None
        if pool is not None:
            maximum = _pool_max(pool)
            if maximum is not None:
                self.maximum = recorder.max.series(name, pool_attributes)
                self.maximum.add(maximum)
            checkedin, checkedout = _pool_counts(pool)
            self.legacy_idle, self.legacy_used = checkedin, checkedout
            self.idle.add(checkedin)
            self.used.add(checkedout)

    # -- queries ----------------------------------------------------------------------------

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
            statement, backslash_escapes=self.target.backslash_escapes
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

    # -- pool -------------------------------------------------------------------------------

    def exclude(self, record: ConnectionPoolEntry, pooled: bool) -> None:
        """Take a connection out of the start count: it is counted by the event under way."""
        with self._lock:
            if pooled and self.legacy_idle > 0:
                self.legacy_idle -= 1
                self.idle.add(-1)
            elif not pooled and self.legacy_used > 0:
                self.legacy_used -= 1
                self.used.add(-1)
        record.info[_MARK] = [self, None, 0.0]  # ours, counted in no state

    def _leave(self, mark: list[Any] | None, was: str | None) -> list[Any] | None:
        """Take a connection out of the state it is counted in; its mark if it is ours.

        ``was``: the state an unmarked (legacy) connection must be in, given the event.
        """
        if mark is not None and mark[0] is self:
            if mark[1] == IDLE:
                self.idle.add(-1)
            elif mark[1] == USED:
                self.used.add(-1)
            return mark
        with self._lock:
            if was == IDLE and self.legacy_idle > 0:
                self.legacy_idle -= 1
                self.idle.add(-1)
            elif was == USED and self.legacy_used > 0:
                self.legacy_used -= 1
                self.used.add(-1)
        return None

    def connected(self, record: ConnectionPoolEntry) -> None:
        info = record.info
        info.pop(_MARK, None)  # a new DBAPI connection: whatever the record held is gone
        info[_MARK] = [self, IDLE, 0.0]
        self.idle.add(1)
        started = getattr(record, "starttime", None)
        if isinstance(started, float) and started > 0:
            self.create_time.record(max(0.0, time.time() - started))

    def checked_out(self, info: dict[Any, Any], now: float) -> None:
        """A connection was handed out (``info``: its pool record's, through the proxy)."""
        mark = info.get(_MARK)
        if mark is not None and mark[0] is self and mark[1] == IDLE:  # the usual case
            self.idle.add(-1)
            mark[1], mark[2] = USED, now
        else:
            self._leave(mark, IDLE)
            info[_MARK] = [self, USED, now]
        self.used.add(1)

    def checked_in(self, record: ConnectionPoolEntry, connected: bool) -> None:
        info = record.info
        mark = info.get(_MARK)
        if mark is not None and mark[0] is self and mark[1] == USED and connected:  # usual
            self.used.add(-1)
            self.use_time.record(time.perf_counter() - mark[2])
            mark[1] = IDLE
            self.idle.add(1)
            return
        mark = self._leave(mark, USED if connected else None)
        if mark is not None and mark[1] in (USED, _CLOSED):
            self.use_time.record(time.perf_counter() - mark[2])
        if connected:
            info[_MARK] = [self, IDLE, 0.0]
            self.idle.add(1)
        else:
            info.pop(_MARK, None)

    def closed(self, record: ConnectionPoolEntry, detached: bool) -> None:
        info = record.info
        mark = info.get(_MARK)
        in_use = bool(getattr(record, "in_use", False)) or detached
        left = self._leave(mark, USED if in_use else IDLE)
        if left is not None and left[1] == USED and not detached:
            left[1] = _CLOSED  # invalidated while checked out: its checkin is still to come
        else:
            info.pop(_MARK, None)


def _span_name(target: _Target, operation: str | None, collection: str | None) -> str:
    """``{db.operation.name} {target}``, as the database span conventions name spans."""
    where = collection or target.fallback_span_name
    return f"{operation} {where}" if operation else where


def _pool_max(pool: Pool) -> int | None:
    from sqlalchemy.pool import QueuePool, StaticPool

    if isinstance(pool, QueuePool):
        overflow = getattr(pool, "_max_overflow", -1)
        return None if overflow < 0 else pool.size() + overflow
    if isinstance(pool, StaticPool):
        return 1
    return None


def _pool_counts(pool: Pool) -> tuple[int, int]:
    """(idle, checked out) connections of a pool that can tell; (0, 0) otherwise."""
    from sqlalchemy.pool import QueuePool

    if isinstance(pool, QueuePool):
        return max(0, pool.checkedin()), max(0, pool.checkedout())
    return 0, 0


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

_TARGETS: weakref.WeakKeyDictionary[Engine, _Target] = weakref.WeakKeyDictionary()
_POOL_NAMES: weakref.WeakValueDictionary[str, _Target] = weakref.WeakValueDictionary()


def _listen(engine: Engine, target: _Target) -> None:
    """Register the query and pool listeners of ``target`` on ``engine``."""
    from sqlalchemy import event

    dialect = engine.dialect
    for name in ("do_execute", "do_execute_no_params", "do_executemany"):
        event.listen(dialect, name, _measured(target, getattr(dialect, name)))

    @guarded(COMPONENT)
    def on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        binding = target.bind(record)
        if binding is not None:
            binding.connected(record)

    @guarded(COMPONENT)
    def on_checkin(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        binding = target.bind(record)
        if binding is not None:
            binding.checked_in(record, dbapi_connection is not None)

    @guarded(COMPONENT)
    def on_close(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        binding = target.bind(record)
        if binding is not None:
            binding.closed(record, detached=False)

    @guarded(COMPONENT)
    def on_detach(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        binding = target.bind(record, pooled=True)
        if binding is not None:
            binding.closed(record, detached=True)

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "checkin", on_checkin)
    event.listen(engine, "close", on_close)
    event.listen(engine, "detach", on_detach)


def _measured(target: _Target, execute: Callable[..., None]) -> Callable[..., bool]:
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


_Query = tuple["_Binding", float, "Span | None", int]


@guarded(COMPONENT)
def _query_begins(target: _Target, statement: str) -> _Query | None:
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


# The pool's connect() is where a request for a connection starts and where it is handed out:
# pending requests, the wait, timeouts and the checkout itself are counted there.


@guarded(COMPONENT)
def _wait_begins(target: _Target) -> tuple[_Binding, float] | None:
    binding = target.bind()
    if binding is None:
        return None
    binding.pending.add(1)
    return binding, time.perf_counter()


@guarded(COMPONENT)
def _wait_ends(
    waiting: tuple[_Binding, float],
    connection: PoolProxiedConnection | None,
    error: BaseException | None,
) -> None:
    binding, start = waiting
    binding.pending.add(-1)
    if connection is not None:
        now = time.perf_counter()
        binding.wait_time.record(now - start)
        binding.checked_out(connection.info, now)
    elif isinstance(error, _sqlalchemy().exc.TimeoutError):
        binding.timeouts.add(1)


def _wrap_pool(pool: Pool, target: _Target) -> None:
    """Count requests waiting for a connection, the wait, timeouts and checkouts; follow
    ``recreate()`` (``engine.dispose()``) to the next pool.

    The wrappers are instance attributes of this pool: other pools are untouched. A pool
    shared by several engines is counted under the first one instrumented.
    """
    if getattr(pool, "_otelkit_target", None) is not None:
        return
    connect = pool.connect
    recreate = pool.recreate

    def connect_measured() -> PoolProxiedConnection:
        waiting = _wait_begins(target)
        if waiting is None:
            return connect()
        try:
            connection = connect()
        except BaseException as exc:
            _wait_ends(waiting, None, exc)
            raise
        _wait_ends(waiting, connection, None)
        return connection

    def recreate_followed() -> Pool:
        new = recreate()
        guarded(COMPONENT)(_wrap_pool)(new, target)
        return new

    connect_measured.__wrapped__ = connect  # type: ignore[attr-defined]
    recreate_followed.__wrapped__ = recreate  # type: ignore[attr-defined]
    pool.connect = connect_measured  # type: ignore[method-assign]
    pool.recreate = recreate_followed  # type: ignore[method-assign]
    pool._otelkit_target = target  # type: ignore[attr-defined]


def _pool_name(engine: Engine) -> str:
    """``server.address:server.port/db.namespace`` (semconv's pattern; ``sqlite:<path>`` without
    a server), unique in the process: a second engine on the same database gets ``#2``, and so
    on."""
    url = engine.url
    if url.host:
        where = f"{url.host}:{url.port}" if url.port else url.host
        base = f"{where}/{url.database or ''}"
    else:  # a file or in-memory database (SQLite): the backend and the path
        base = f"{url.get_backend_name()}:{url.database or ''}"
    name, number = base, 1
    while name in _POOL_NAMES:
        number += 1
        name = f"{base}#{number}"
    return name


def _root(engine: Any) -> Engine:
    """The engine that owns the pool and the listeners: an AsyncEngine's ``sync_engine``, the
    engine behind ``engine.execution_options(...)``."""
    engine = getattr(engine, "sync_engine", engine)
    while getattr(engine, "_proxied", None) is not None:  # OptionEngine
        engine = engine._proxied
    return engine  # type: ignore[no-any-return]


def _instrument(engine: Engine, spans: bool | None) -> _Target:
    with _lock:
        target = _TARGETS.get(engine)
        if target is not None:
            return target
        target = _Target(engine, spans, _pool_name(engine))
        _POOL_NAMES[target.pool_name] = target
        _TARGETS[engine] = target
        _listen(engine, target)
        _wrap_pool(engine.pool, target)
        weakref.finalize(engine, _forget, target)
        recorder = _current()
        if recorder is not None:
            target.rebind(recorder)
        return target


@guarded(COMPONENT)
def _forget(target: _Target) -> None:
    """An engine was garbage-collected: its pool's series go back to zero."""
    binding = target.binding
    if binding is None or binding.recorder is not _recorder:
        return
    for series in (binding.idle, binding.used, binding.maximum):
        if series is not None:
            with series.lock:
                series.cells[0] = 0


def instrument_sqlalchemy(engine: E, *, spans: bool | None = None) -> E:
    """Measure every query and the connection pool of a SQLAlchemy ``Engine`` or ``AsyncEngine``.

    Records ``db.client.operation.duration`` by operation and table, and the
    ``db.client.connection.*`` pool metrics; with tracing on, a span per query with the
    sanitized statement. Parameters are never recorded. Returns ``engine``; calling it again on
    the same engine does nothing. It may run before ``init_telemetry()``: recording starts with
    the configuration. ``spans=False`` keeps this engine's queries out of tracing.
    """
    sqlalchemy = _sqlalchemy()
    root = _root(engine)
    if not isinstance(root, sqlalchemy.engine.Engine):
        raise ConfigError(
            f"instrument_sqlalchemy() needs a SQLAlchemy Engine or AsyncEngine, got "
            f"{type(engine).__name__}"
        )
    _instrument(root, spans)
    return engine


# --- automatic instrumentation -------------------------------------------------------------

_auto: tuple[Any, Callable[..., None], Callable[..., None]] | None = None
"""While installed: (Engine, its original ``__init__``, our replacement)."""


@guarded(COMPONENT)
def _instrument_new_engine(engine: Engine) -> None:
    _instrument(engine, None)


def install_auto() -> bool:
    """Instrument every engine created from now on; False when SQLAlchemy is not installed.

    ``Engine.__init__`` is wrapped, the way ``init_telemetry()`` wraps the web frameworks'
    constructors: it catches ``create_engine()`` and ``create_async_engine()`` however they were
    imported. Engines created earlier need ``instrument_sqlalchemy(engine)``. (A class-level
    SQLAlchemy listener would find those too, but any class-level connection event puts every
    query of every engine on SQLAlchemy's slower event-dispatching path.) Engines already
    instrumented report their pools to the active configuration from this call on.
    """
    global _auto
    try:
        _sqlalchemy()
    except ConfigError as exc:
        logger.debug("otelkit: SQLAlchemy not instrumented: %s", exc)
        return False
    from sqlalchemy.engine import Engine

    with _lock:
        if _auto is None:
            original = Engine.__init__

            def __init__(self: Engine, *args: Any, **kwargs: Any) -> None:  # noqa: N807
                original(self, *args, **kwargs)
                if _auto is not None:
                    _instrument_new_engine(self)

            __init__.__wrapped__ = original  # type: ignore[attr-defined]
            Engine.__init__ = __init__  # type: ignore[method-assign]
            _auto = (Engine, original, __init__)
    _current()
    return True


def uninstall_auto() -> None:
    """Stop instrumenting new engines (those already instrumented stay so)."""
    global _auto
    with _lock:
        if _auto is None:
            return
        cls, original, replacement = _auto
        _auto = None
        if cls.__init__ is replacement:  # else someone wrapped it after us: ours stays, inert
            cls.__init__ = original


def instrumented(engine: Any) -> bool:
    """Whether ``engine`` (sync, async or with options) is instrumented."""
    return _root(engine) in _TARGETS
