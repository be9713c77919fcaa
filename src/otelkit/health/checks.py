"""Ready-made readiness checks for ``otelkit.add_health_check()``.

Each function returns a check (a sync or async callable) for one dependency::

    from otelkit import add_health_check
    from otelkit.health import checks as health_checks

    add_health_check("db", health_checks.sqlalchemy(engine))
    add_health_check("cache", health_checks.redis("redis://localhost:6379/0"), critical=False)
    add_health_check("broker", health_checks.celery_broker(celery_app))

SQLAlchemy, redis and Celery are imported only by the function that needs them. The checks are
safe on any event loop: an async engine or client is reached through a connection pool of the
check's own, created and closed on each run, so no connection ever crosses event loops and the
application's pool is never borrowed from another loop.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from otelkit._errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["celery_broker", "redis", "sqlalchemy"]


def _require(module: str, what: str, hint: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"health_checks.{what}() needs {hint}") from None


def sqlalchemy(engine: Any) -> Callable[[], Any]:
    """``SELECT 1`` on a SQLAlchemy ``Engine`` (sync check) or ``AsyncEngine`` (async check).

    A sync engine is checked through its own pool, as the application uses it. An async engine
    is checked through a fresh pool with the same connection arguments and pool events
    (``engine.pool.recreate()``), closed after each run.
    """
    sa = _require("sqlalchemy", "sqlalchemy", "SQLAlchemy: pip install 'otelkit[sqlalchemy]'")
    select_one = sa.select(sa.literal_column("1"))
    asyncio_ext = _require(
        "sqlalchemy.ext.asyncio", "sqlalchemy", "SQLAlchemy: pip install 'otelkit[sqlalchemy]'"
    )
    if isinstance(engine, asyncio_ext.AsyncEngine):
        async_engine = engine

        async def sqlalchemy_async() -> None:
            own = asyncio_ext.create_async_engine(
                async_engine.url, pool=async_engine.sync_engine.pool.recreate()
            )
            try:
                async with own.connect() as connection:
                    await connection.execute(select_one)
            finally:
                await own.dispose()

        return sqlalchemy_async
    if isinstance(engine, sa.engine.Engine):
        sync_engine = engine

        def sqlalchemy_sync() -> None:
            with sync_engine.connect() as connection:
                connection.execute(select_one)

        return sqlalchemy_sync
    raise ConfigError(
        f"health_checks.sqlalchemy({engine!r}): not a SQLAlchemy engine. Accepted: an Engine "
        "(sqlalchemy.create_engine) or an AsyncEngine (create_async_engine)."
    )


def redis(url_or_client: Any) -> Callable[[], Any]:
    """``PING`` to Redis: a ``redis://`` URL, a ``redis.Redis`` client (sync check) or a
    ``redis.asyncio.Redis`` client (async check, on a connection pool of its own per run)."""
    redis_module = _require("redis", "redis", "redis-py: pip install redis")
    redis_asyncio = _require("redis.asyncio", "redis", "redis-py: pip install redis")
    client: Any
    if isinstance(url_or_client, str):
        client = redis_module.Redis.from_url(
            url_or_client, socket_connect_timeout=5, socket_timeout=5
        )
    elif isinstance(url_or_client, redis_module.Redis):
        client = url_or_client
    elif isinstance(url_or_client, redis_asyncio.Redis):
        pool = url_or_client.connection_pool

        async def redis_async() -> None:
            own = redis_asyncio.Redis(
                connection_pool=type(pool)(
                    connection_class=pool.connection_class, **pool.connection_kwargs
                )
            )
            try:
                await own.ping()
            finally:
                await own.aclose()
                await own.connection_pool.disconnect()

        return redis_async
    else:
        raise ConfigError(
            f"health_checks.redis({url_or_client!r}): accepted: a redis:// or rediss:// URL, "
            "a redis.Redis or a redis.asyncio.Redis client."
        )
    sync_client = client

    def redis_sync() -> None:
        sync_client.ping()

    return redis_sync


def celery_broker(app: Any) -> Callable[[], None]:
    """A connection to the broker of a Celery ``app``:
    ``app.connection_for_write().ensure_connection(max_retries=1)``."""
    if not callable(getattr(app, "connection_for_write", None)):
        raise ConfigError(
            f"health_checks.celery_broker({app!r}): not a Celery app. Accepted: a celery.Celery "
            "instance (pip install 'otelkit[celery]')."
        )

    def celery_broker() -> None:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2)

    return celery_broker
