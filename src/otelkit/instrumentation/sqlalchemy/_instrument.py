"""Instrumenting an engine: ``instrument_sqlalchemy(engine)``, once per engine.

One engine, sync, or the ``sync_engine`` of an ``AsyncEngine`` (an engine with options is the
engine behind it), gets its query listeners (``_queries``), its pool listeners and its pool's
``connect()`` wrapper (``_pool``), and a pool name unique in the process. When the engine is
garbage-collected, its pool's series go back to zero.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, TypeVar

from otelkit._errors import ConfigError, guarded
from otelkit.instrumentation.sqlalchemy._engine import CURRENT, LOCK, TARGETS, Target
from otelkit.instrumentation.sqlalchemy._library import sqlalchemy
from otelkit.instrumentation.sqlalchemy._pool import listen_pool, wrap_pool
from otelkit.instrumentation.sqlalchemy._queries import listen_queries
from otelkit.instrumentation.sqlalchemy._recorder import COMPONENT

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["instrument", "instrument_sqlalchemy", "instrumented"]

E = TypeVar("E")

_POOL_NAMES: weakref.WeakValueDictionary[str, Target] = weakref.WeakValueDictionary()


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


def instrument(engine: Engine, spans: bool | None) -> Target:
    """Instrument a root engine (once; later calls return its target)."""
    with LOCK:
        target = TARGETS.get(engine)
        if target is not None:
            return target
        target = Target(engine, spans, _pool_name(engine))
        _POOL_NAMES[target.pool_name] = target
        TARGETS[engine] = target
        listen_queries(engine, target)
        listen_pool(engine, target)
        wrap_pool(engine.pool, target)
        weakref.finalize(engine, _forget, target)
        recorder = CURRENT.get()
        if recorder is not None:
            target.rebind(recorder)
        return target


@guarded(COMPONENT)
def _forget(target: Target) -> None:
    """An engine was garbage-collected: its pool's series go back to zero."""
    binding = target.binding
    if binding is None or binding.recorder is not CURRENT.recorder:
        return
    binding.zero()


def instrument_sqlalchemy(engine: E, *, spans: bool | None = None) -> E:
    """Measure every query and the connection pool of a SQLAlchemy ``Engine`` or ``AsyncEngine``.

    Records ``db.client.operation.duration`` by operation and table, and the
    ``db.client.connection.*`` pool metrics; with tracing on, a span per query with the
    sanitized statement. Parameters are never recorded. Returns ``engine``; calling it again on
    the same engine does nothing. It may run before ``init_telemetry()``: recording starts with
    the configuration. ``spans=False`` keeps this engine's queries out of tracing.
    """
    package = sqlalchemy()
    root = _root(engine)
    if not isinstance(root, package.engine.Engine):
        raise ConfigError(
            f"instrument_sqlalchemy() needs a SQLAlchemy Engine or AsyncEngine, got "
            f"{type(engine).__name__}"
        )
    instrument(root, spans)
    return engine


def instrumented(engine: Any) -> bool:
    """Whether ``engine`` (sync, async or with options) is instrumented."""
    return _root(engine) in TARGETS
