"""Pool accounting: the ``db.client.connection.*`` metrics of an engine's connection pool.

``connect`` / ``checkin`` / ``close`` / ``detach`` events, and a wrapper around the pool's
``connect()``, where a request for a connection starts and where it is handed out (pending
requests, wait time, timeouts, the checkout itself; a ``checkout`` listener would move every
checkout off the pool's fast path): ``db.client.connection.count`` by state, ``.max``,
``.pending_requests``, ``.timeouts``, ``.wait_time``, ``.use_time``, ``.create_time``. The
wrapper is an instance attribute of the pool and follows ``recreate()`` (``dispose()``). Each
connection remembers in its pool record's ``info`` which state it is counted in, and under which
configuration (the binding), and a new binding starts from the pool's
``checkedin()``/``checkedout()``, so the counts stay exact across invalidation, recycling,
detaching, disposal and re-configuration.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from opentelemetry.semconv._incubating.attributes.db_attributes import (
    DB_CLIENT_CONNECTION_STATE,
    DbClientConnectionStateValues,
)

from otelkit._errors import guarded
from otelkit.instrumentation.sqlalchemy._library import sqlalchemy
from otelkit.instrumentation.sqlalchemy._recorder import COMPONENT

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import ConnectionPoolEntry, Pool, PoolProxiedConnection

    from otelkit.instrumentation.sqlalchemy._engine import Binding, Target
    from otelkit.instrumentation.sqlalchemy._recorder import SqlAlchemyRecorder
    from otelkit.metrics._fastpath import _SumSeries

IDLE = DbClientConnectionStateValues.IDLE.value
USED = DbClientConnectionStateValues.USED.value
_CLOSED = "closed"  # closed while checked out: counted in neither state, checkin still due
_MARK = "otelkit.pool"  # key in a pool record's ``info``: [binding, state, since]


class PoolBinding:
    """The pool side of one engine under one configuration: its series, and the pool's state
    when it began."""

    recorder: SqlAlchemyRecorder
    target: Target

    def init_pool(self, pool: Pool | None) -> None:
        recorder = self.recorder
        pool_attributes = self.target.pool_attributes
        name = self.target.pool_name
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

    def zero(self) -> None:
        """The engine is gone: its pool's series go back to zero."""
        for series in (self.idle, self.used, self.maximum):
            if series is not None:
                with series.lock:
                    series.cells[0] = 0


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


# --- the listeners -------------------------------------------------------------------------


def listen_pool(engine: Engine, target: Target) -> None:
    """Register the pool listeners of ``target`` on ``engine``."""
    from sqlalchemy import event

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


# The pool's connect() is where a request for a connection starts and where it is handed out:
# pending requests, the wait, timeouts and the checkout itself are counted there.


@guarded(COMPONENT)
def _wait_begins(target: Target) -> tuple[Binding, float] | None:
    binding = target.bind()
    if binding is None:
        return None
    binding.pending.add(1)
    return binding, time.perf_counter()


@guarded(COMPONENT)
def _wait_ends(
    waiting: tuple[Binding, float],
    connection: PoolProxiedConnection | None,
    error: BaseException | None,
) -> None:
    binding, start = waiting
    binding.pending.add(-1)
    if connection is not None:
        now = time.perf_counter()
        binding.wait_time.record(now - start)
        binding.checked_out(connection.info, now)
    elif isinstance(error, sqlalchemy().exc.TimeoutError):
        binding.timeouts.add(1)


def wrap_pool(pool: Pool, target: Target) -> None:
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
        guarded(COMPONENT)(wrap_pool)(new, target)
        return new

    connect_measured.__wrapped__ = connect  # type: ignore[attr-defined]
    recreate_followed.__wrapped__ = recreate  # type: ignore[attr-defined]
    pool.connect = connect_measured  # type: ignore[method-assign]
    pool.recreate = recreate_followed  # type: ignore[method-assign]
    pool._otelkit_target = target  # type: ignore[attr-defined]
