"""One instrumented engine, and its binding to the running configuration.

The listeners do nothing while no configuration is active and bind themselves lazily to the
active one, as the HTTP middlewares do: a re-configuration gets fresh instruments, and the pool
counts start again from what the pool holds at that moment. A ``Target`` is what never changes
about an engine (its attributes, its pool's name); a ``Binding`` is that engine under one
configuration, with a query side (``_queries``) and a pool side (``_pool``). When a new
configuration's recorder is built, every known engine is rebound at once, so that its pool is
reported from then on rather than from its next event.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from opentelemetry.semconv._incubating.attributes.db_attributes import (
    DB_CLIENT_CONNECTION_POOL_NAME,
    DbSystemNameValues,
)
from opentelemetry.semconv.attributes.db_attributes import (
    DB_COLLECTION_NAME,
    DB_NAMESPACE,
    DB_OPERATION_NAME,
    DB_RESPONSE_STATUS_CODE,
    DB_SYSTEM_NAME,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT

from otelkit.instrumentation._recorder import CurrentRecorder, ForkLock
from otelkit.instrumentation.sqlalchemy._pool import PoolBinding
from otelkit.instrumentation.sqlalchemy._queries import QueryBinding
from otelkit.instrumentation.sqlalchemy._recorder import SqlAlchemyRecorder

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import ConnectionPoolEntry, Pool

_SYSTEMS: Mapping[str, str] = {
    "postgresql": DbSystemNameValues.POSTGRESQL.value,
    "mysql": DbSystemNameValues.MYSQL.value,
    "mariadb": DbSystemNameValues.MARIADB.value,
    "sqlite": DbSystemNameValues.SQLITE.value,
    "mssql": DbSystemNameValues.MICROSOFT_SQL_SERVER.value,
    "oracle": DbSystemNameValues.ORACLE_DB.value,
}

LOCK = ForkLock(reentrant=True)
"""Held while engines are instrumented, bound or rebound, and while a recorder is built; a
forked child gets a new one (a parent thread may have held it at the fork)."""
TARGETS: weakref.WeakKeyDictionary[Engine, Target] = weakref.WeakKeyDictionary()
"""Every instrumented engine (its root engine) and its target."""


def _rebind_others(recorder: SqlAlchemyRecorder, caller: object) -> None:
    # Every known engine reports its pool (max, idle, used) from now on, not from its next
    # event; the engine whose event got here binds itself, knowing which connection moves.
    for target in list(TARGETS.values()):
        if target is not caller:
            target.rebind(recorder)


CURRENT: CurrentRecorder[SqlAlchemyRecorder] = CurrentRecorder(
    SqlAlchemyRecorder, lock=LOCK, renewed=_rebind_others
)
"""The recorder of the active configuration (``CURRENT.get(caller)``, created on first use)."""


class Target:
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
        self.double_quoted_strings = name == "sqlite"
        """Whether ``"..."`` can be a string literal (SQLite), so the sanitizer replaces it."""
        # Series are keyed by attribute values, not by engine: two engines on one database
        # share their duration series (one exported point per attribute set).
        self.key = tuple(attributes.values())
        self.fallback_span_name = str(attributes.get(DB_NAMESPACE) or attributes[DB_SYSTEM_NAME])
        self.binding: Binding | None = None

    def bind(
        self, record: ConnectionPoolEntry | None = None, pooled: bool = False
    ) -> Binding | None:
        """The binding to the active configuration, or None when there is none.

        A pool event passes its connection ``record``: if the binding starts now, that
        connection is left out of the start count (``pooled``: the pool counts it as idle,
        else as checked out), since the event itself is about to count it.
        """
        recorder = CURRENT.get(self)
        if recorder is None:
            return None
        binding = self.binding
        if binding is not None and binding.recorder is recorder:
            return binding
        return self.rebind(recorder, record, pooled)

    def rebind(
        self,
        recorder: SqlAlchemyRecorder,
        record: ConnectionPoolEntry | None = None,
        pooled: bool = False,
    ) -> Binding:
        with LOCK:
            binding = self.binding
            if binding is None or binding.recorder is not recorder:
                engine = self.engine()
                binding = Binding(recorder, self, engine.pool if engine is not None else None)
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


class Binding(QueryBinding, PoolBinding):
    """One engine under one configuration: its query series and spans, and its pool's series
    and state when it began."""

    def __init__(self, recorder: SqlAlchemyRecorder, target: Target, pool: Pool | None) -> None:
        self.recorder = recorder
        self.target = target
        self.init_queries()
        self.init_pool(pool)
