"""SQLAlchemy query and pool metrics, and query spans, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import otelkit
from otelkit import testing
from otelkit.instrumentation.sqlalchemy import (
    DB_DURATION_BUCKETS,
    install_auto,
    instrument_sqlalchemy,
    instrumented,
    uninstall_auto,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.fixtures.postgres import PostgresServer

pytestmark = pytest.mark.integration

DURATION = "db.client.operation.duration"
COUNT = "db.client.connection.count"
PROBE = "SELECT amname FROM pg_catalog.pg_am LIMIT 1"
"""A query of our own, told apart from SQLAlchemy's dialect initialization queries (server
version, current schema…), which a new engine's first connection runs and otelkit records too."""
PROBED = ("SELECT", "pg_catalog.pg_am", None)


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)


ITEMS: sa.Table = Item.__table__  # type: ignore[assignment]  # a Table, typed FromClause


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[otelkit.Telemetry]:
    """Metrics, spans and logs in memory; nothing instrumented unless a test says so."""
    monkeypatch.delenv("OTELKIT_INSTRUMENT", raising=False)
    handle = otelkit.init_telemetry("db-test", exporters="memory", instrument="none")
    yield handle
    handle.shutdown()


@pytest.fixture
def url(postgres: PostgresServer, postgres_db: str) -> str:
    """A psycopg URL of a fresh database."""
    return postgres.url("psycopg", database=postgres_db)


@pytest.fixture
def engine(url: str, telemetry: otelkit.Telemetry) -> Iterator[sa.Engine]:
    """An instrumented engine with a pool of 5 (no overflow) on a fresh database."""
    engine = instrument_sqlalchemy(sa.create_engine(url, pool_size=5, max_overflow=0))
    yield engine
    engine.dispose()


def durations(telemetry: otelkit.Telemetry) -> dict[tuple[Any, ...], Any]:
    """Duration points by (operation, table, error.type)."""
    return {
        (
            p.attributes.get("db.operation.name"),
            p.attributes.get("db.collection.name"),
            p.attributes.get("error.type"),
        ): p
        for p in testing.points(telemetry, DURATION)
    }


def pool_values(telemetry: otelkit.Telemetry, name: str, pool: str) -> dict[str | None, Any]:
    """A pool metric's values by connection state (None for metrics without a state)."""
    found: dict[str | None, Any] = {}
    for point in testing.points(telemetry, name):
        if point.attributes.get("db.client.connection.pool.name") == pool:
            state = point.attributes.get("db.client.connection.state")
            found[state] = point.value if hasattr(point, "value") else point
    return found


def pool_name(engine: sa.Engine) -> str:
    url = engine.url
    return f"{url.host}:{url.port}/{url.database}"


# --- queries ---------------------------------------------------------------------------------


def test_each_statement_kind_is_attributed_to_its_operation_and_table(
    engine: sa.Engine, telemetry: otelkit.Telemetry
) -> None:
    """Core and ORM statements as SQLAlchemy writes them: DDL, INSERT, SELECT, UPDATE, DELETE."""
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(ITEMS.insert(), {"name": "a"})
        connection.execute(sa.select(ITEMS).where(ITEMS.c.name == "a")).all()
        connection.execute(sa.select(ITEMS.c.id).where(ITEMS.c.name == "b")).all()
        connection.execute(ITEMS.update().where(ITEMS.c.name == "a").values(name="c"))
        connection.execute(ITEMS.delete().where(ITEMS.c.name == "c"))
    with Session(engine) as session:
        session.add_all([Item(name="x"), Item(name="y"), Item(name="z")])
        session.commit()
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE items")

    points = durations(telemetry)
    assert points[("CREATE", "items", None)].count == 1
    assert points[("INSERT", "items", None)].count == 2  # one row, then the ORM's 3 in one
    assert points[("SELECT", "items", None)].count == 2
    assert points[("UPDATE", "items", None)].count == 1
    assert points[("DELETE", "items", None)].count == 1
    assert points[("DROP", "items", None)].count == 1
    insert = points[("INSERT", "items", None)]
    assert dict(insert.attributes) == {
        "db.system.name": "postgresql",
        "db.namespace": engine.url.database,
        "server.address": "127.0.0.1",
        "server.port": engine.url.port,
        "db.operation.name": "INSERT",
        "db.collection.name": "items",
    }
    assert list(insert.explicit_bounds) == list(DB_DURATION_BUCKETS)
    assert 0 < insert.min <= insert.max < 5


def test_bad_sql_records_the_error_and_the_caller_gets_the_same_exception(
    url: str, engine: sa.Engine, telemetry: otelkit.Telemetry
) -> None:
    """error.type is the driver's exception class, with the SQLSTATE; the exception is untouched."""
    plain = sa.create_engine(url)
    try:
        with pytest.raises(sa.exc.ProgrammingError) as uninstrumented, plain.connect() as c:
            c.exec_driver_sql("SELECT * FROM missing_table")
    finally:
        plain.dispose()
    with pytest.raises(sa.exc.ProgrammingError) as instrumented_error, engine.connect() as c:
        c.exec_driver_sql("SELECT * FROM missing_table")

    assert type(instrumented_error.value) is type(uninstrumented.value)
    assert type(instrumented_error.value.orig) is type(uninstrumented.value.orig)
    assert str(instrumented_error.value) == str(uninstrumented.value)
    (point,) = [p for p in testing.points(telemetry, DURATION) if "error.type" in p.attributes]
    assert point.attributes["error.type"] == "psycopg.errors.UndefinedTable"
    assert point.attributes["db.response.status_code"] == "42P01"
    assert point.attributes["db.operation.name"] == "SELECT"
    assert point.count == 1
    (span,) = [s for s in testing.spans(telemetry) if s.status.status_code.name == "ERROR"]
    assert span.status.description is None  # the message may quote data: never recorded
    assert (span.attributes or {})["error.type"] == "psycopg.errors.UndefinedTable"


def test_query_spans_carry_the_sanitized_statement(
    engine: sa.Engine, telemetry: otelkit.Telemetry
) -> None:
    """A CLIENT span per query, named '{operation} {table}', child of the caller's span."""
    Base.metadata.create_all(engine)
    with telemetry.tracer.start_as_current_span("handler"), engine.connect() as c:
        c.execute(sa.text("SELECT * FROM items WHERE name = 'literal' AND id > 7")).all()
    spans = {s.name: s for s in testing.spans(telemetry)}
    query = spans["SELECT items"]
    assert query.kind.name == "CLIENT"
    assert query.parent is not None
    assert query.parent.span_id == spans["handler"].context.span_id
    attributes = query.attributes or {}
    assert attributes["db.query.text"] == "SELECT * FROM items WHERE name = ? AND id > ?"
    assert attributes["db.collection.name"] == "items"


def test_spans_false_keeps_an_engine_out_of_tracing(url: str, telemetry: otelkit.Telemetry) -> None:
    engine = instrument_sqlalchemy(sa.create_engine(url), spans=False)
    try:
        with engine.connect() as c:
            c.exec_driver_sql(PROBE)
    finally:
        engine.dispose()
    assert testing.spans(telemetry) == ()
    assert durations(telemetry)[PROBED].count == 1


def test_instrumenting_twice_records_once(url: str, telemetry: otelkit.Telemetry) -> None:
    engine = sa.create_engine(url)
    assert instrument_sqlalchemy(instrument_sqlalchemy(engine)) is engine
    instrument_sqlalchemy(engine.execution_options(isolation_level="AUTOCOMMIT"))
    try:
        with engine.connect() as c:
            c.exec_driver_sql(PROBE)
        with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as c:
            c.exec_driver_sql(PROBE)
    finally:
        engine.dispose()
    assert durations(telemetry)[PROBED].count == 2
    assert [s.name for s in testing.spans(telemetry)].count("SELECT pg_catalog.pg_am") == 2


def test_not_an_engine_is_a_config_error() -> None:
    with pytest.raises(otelkit.ConfigError, match="needs a SQLAlchemy Engine or AsyncEngine"):
        instrument_sqlalchemy(object())


# --- pool ------------------------------------------------------------------------------------


def test_used_and_idle_counts_are_exact(engine: sa.Engine, telemetry: otelkit.Telemetry) -> None:
    """pool_size=5, 3 connections checked out: used=3; returned: used=0, idle=3."""
    name = pool_name(engine)
    connections = [engine.connect() for _ in range(3)]
    for connection in connections:
        connection.exec_driver_sql(PROBE)
    assert pool_values(telemetry, COUNT, name) == {"used": 3, "idle": 0}
    assert pool_values(telemetry, "db.client.connection.max", name) == {None: 5}
    for connection in connections:
        connection.close()
    assert pool_values(telemetry, COUNT, name) == {"used": 0, "idle": 3}
    use_time = pool_values(telemetry, "db.client.connection.use_time", name)[None]
    assert use_time.count == 3
    assert pool_values(telemetry, "db.client.connection.create_time", name)[None].count == 3
    engine.dispose()
    assert pool_values(telemetry, COUNT, name) == {"used": 0, "idle": 0}


def test_invalidated_and_detached_connections_leave_the_counts(
    engine: sa.Engine, telemetry: otelkit.Telemetry
) -> None:
    name = pool_name(engine)
    first, second, third = (engine.connect() for _ in range(3))
    first.invalidate()  # closed while checked out
    second.detach()  # leaves the pool, stays open
    assert pool_values(telemetry, COUNT, name) == {"used": 1, "idle": 0}
    for connection in (first, second, third):
        connection.close()
    assert pool_values(telemetry, COUNT, name) == {"used": 0, "idle": 1}
    with engine.connect() as again, engine.connect():  # the two emptied records reconnect
        again.exec_driver_sql(PROBE)
        assert pool_values(telemetry, COUNT, name) == {"used": 2, "idle": 1}
    assert pool_values(telemetry, COUNT, name) == {"used": 0, "idle": 3}


def test_pool_timeout_counts_and_the_caller_gets_sqlalchemys_timeout_error(
    url: str, telemetry: otelkit.Telemetry
) -> None:
    engine = instrument_sqlalchemy(
        sa.create_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    )
    name = pool_name(engine)
    try:
        with engine.connect():
            with pytest.raises(sa.exc.TimeoutError, match="QueuePool limit of size 1"):
                engine.connect()
            assert pool_values(telemetry, "db.client.connection.timeouts", name) == {None: 1}
            assert pool_values(telemetry, "db.client.connection.pending_requests", name) == {
                None: 0
            }
            assert pool_values(telemetry, COUNT, name) == {"used": 1, "idle": 0}
        assert pool_values(telemetry, "db.client.connection.max", name) == {None: 1}
    finally:
        engine.dispose()


def test_a_caller_waiting_for_a_connection_is_pending_and_its_wait_is_measured(
    url: str, telemetry: otelkit.Telemetry
) -> None:
    engine = instrument_sqlalchemy(
        sa.create_engine(url, pool_size=1, max_overflow=0, pool_timeout=30)
    )
    name = pool_name(engine)
    pending = "db.client.connection.pending_requests"
    got: list[float] = []
    try:
        holder = engine.connect()

        def wait_for_a_connection() -> None:
            started = time.perf_counter()
            with engine.connect():
                got.append(time.perf_counter() - started)

        waiter = threading.Thread(target=wait_for_a_connection)
        waiter.start()
        deadline = time.monotonic() + 10
        while pool_values(telemetry, pending, name) != {None: 1}:
            assert time.monotonic() < deadline, "the waiter never became pending"
            time.sleep(0.01)
        time.sleep(0.2)
        holder.close()
        waiter.join(10)
        assert got
        assert got[0] >= 0.2
        assert pool_values(telemetry, pending, name) == {None: 0}
        wait_time = pool_values(telemetry, "db.client.connection.wait_time", name)[None]
        assert wait_time.count == 2
        assert wait_time.max >= 0.2
    finally:
        engine.dispose()


def test_a_new_configuration_counts_the_connections_already_checked_out(
    engine: sa.Engine, telemetry: otelkit.Telemetry
) -> None:
    """Re-configuring starts from what the pool holds, so used/idle stay exact."""
    name = pool_name(engine)
    held = [engine.connect() for _ in range(3)]
    held.pop().close()
    telemetry.shutdown()
    again = otelkit.init_telemetry("db-test-2", exporters="memory", instrument="none")
    try:
        with engine.connect():  # the engine's first event under the new configuration
            assert pool_values(again, COUNT, name) == {"used": 3, "idle": 0}
        for connection in held:
            connection.close()
        assert pool_values(again, COUNT, name) == {"used": 0, "idle": 3}
        assert pool_values(again, "db.client.connection.max", name) == {None: 5}
    finally:
        again.shutdown()


# --- async -----------------------------------------------------------------------------------


def test_async_engine_with_asyncpg_is_recorded_the_same(
    postgres: PostgresServer, postgres_db: str, telemetry: otelkit.Telemetry
) -> None:
    async def scenario() -> None:
        engine = instrument_sqlalchemy(
            create_async_engine(
                postgres.url("asyncpg", database=postgres_db),
                pool_size=2,
                max_overflow=0,
                pool_timeout=0.2,
            )
        )
        try:
            async with engine.begin() as c:
                await c.run_sync(Base.metadata.create_all)
                await c.execute(ITEMS.insert(), {"name": "a"})
                with telemetry.tracer.start_as_current_span("async handler"):
                    (await c.execute(sa.select(ITEMS))).all()
            async with engine.connect() as first, engine.connect():
                assert pool_values(telemetry, COUNT, pool_name(engine.sync_engine)) == {
                    "used": 2,
                    "idle": 0,
                }
                with pytest.raises(sa.exc.TimeoutError):
                    await engine.connect().start()
                with pytest.raises(sa.exc.ProgrammingError):
                    await first.exec_driver_sql("SELECT * FROM missing_table")
            assert pool_values(telemetry, COUNT, pool_name(engine.sync_engine)) == {
                "used": 0,
                "idle": 2,
            }
        finally:
            await engine.dispose()

    asyncio.run(scenario())
    points = durations(telemetry)
    assert points[("CREATE", "items", None)].count == 1
    assert points[("INSERT", "items", None)].count == 1
    assert points[("SELECT", "items", None)].count == 1
    failed = points[("SELECT", "missing_table", "asyncpg.exceptions.UndefinedTableError")]
    assert failed.attributes["db.response.status_code"] == "42P01"
    name = f"127.0.0.1:{postgres.port}/{postgres_db}"
    assert pool_values(telemetry, "db.client.connection.timeouts", name) == {None: 1}
    spans = {s.name: s for s in testing.spans(telemetry)}
    assert spans["INSERT items"].parent is None
    parent = spans["SELECT items"].parent
    assert parent is not None
    assert parent.span_id == spans["async handler"].context.span_id


# --- automatic instrumentation ---------------------------------------------------------------


@pytest.fixture
def auto() -> Iterator[None]:
    assert install_auto()
    yield
    uninstall_auto()


def test_engines_created_after_install_are_instrumented_automatically(
    url: str, telemetry: otelkit.Telemetry, auto: None
) -> None:
    """Sync and async engines created by create_engine()/create_async_engine() record at once."""
    engine = sa.create_engine(url, pool_size=5, max_overflow=0)
    async_engine = create_async_engine(url.replace("+psycopg", "+asyncpg"))
    assert instrumented(engine)
    assert instrumented(async_engine)
    assert pool_values(telemetry, "db.client.connection.max", pool_name(engine)) == {None: 5}

    async def one_async_query() -> None:
        async with async_engine.connect() as c:
            await c.exec_driver_sql(PROBE)
        await async_engine.dispose()

    try:
        with engine.connect() as c:
            c.exec_driver_sql(PROBE)
            assert pool_values(telemetry, COUNT, pool_name(engine)) == {"used": 1, "idle": 0}
        asyncio.run(one_async_query())
    finally:
        engine.dispose()
    assert durations(telemetry)[PROBED].count == 2


def test_an_engine_created_before_install_is_left_to_instrument_sqlalchemy(
    url: str, auto: None
) -> None:
    """Only new engines are found; the explicit call covers one created earlier."""
    uninstall_auto()
    engine = sa.create_engine(url)
    with engine.connect() as c:  # used before any configuration: the pool holds one connection
        c.exec_driver_sql(PROBE)
    handle = otelkit.init_telemetry("db-test", exporters="memory", instrument="none")
    install_auto()
    try:
        assert not instrumented(engine)
        instrument_sqlalchemy(engine)
        assert pool_values(handle, COUNT, pool_name(engine)) == {"used": 0, "idle": 1}
        with engine.connect() as c:
            c.exec_driver_sql(PROBE)
            assert pool_values(handle, COUNT, pool_name(engine)) == {"used": 1, "idle": 0}
        assert durations(handle)[PROBED].count == 1
        assert pool_values(handle, COUNT, pool_name(engine)) == {"used": 0, "idle": 1}
    finally:
        handle.shutdown()
        engine.dispose()


def test_uninstall_auto_leaves_new_engines_alone(url: str, telemetry: otelkit.Telemetry) -> None:
    install_auto()
    uninstall_auto()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            c.exec_driver_sql(PROBE)
    finally:
        engine.dispose()
    assert not instrumented(engine)
    assert testing.points(telemetry, DURATION) == []


# --- privacy ---------------------------------------------------------------------------------


def test_a_parameter_value_never_reaches_any_exported_metric_span_or_log(
    postgres: PostgresServer, postgres_db: str, telemetry: otelkit.Telemetry
) -> None:
    """A unique secret, as bound parameter, inline literal, in errors and in batches: nowhere."""
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    url = postgres.url("psycopg", database=postgres_db)
    engine = instrument_sqlalchemy(sa.create_engine(url))
    async_engine = instrument_sqlalchemy(
        create_async_engine(postgres.url("asyncpg", database=postgres_db))
    )
    app_log = logging.getLogger("tests.db.app")
    try:
        Base.metadata.create_all(engine)
        with telemetry.tracer.start_as_current_span("request"):
            with engine.begin() as c:
                c.execute(ITEMS.insert(), {"name": secret})
                c.execute(ITEMS.insert(), [{"name": f"{secret}-{i}"} for i in range(3)])
                c.execute(sa.select(ITEMS).where(ITEMS.c.name == secret)).all()
                c.execute(sa.text(f"SELECT id FROM items WHERE name = '{secret}'")).all()
                c.execute(ITEMS.update().where(ITEMS.c.name == secret).values(name=secret + "!"))
            with pytest.raises(sa.exc.IntegrityError) as duplicate, engine.begin() as c:
                c.execute(ITEMS.insert(), {"name": secret + "!"})
            assert secret in str(duplicate.value)  # PostgreSQL's DETAIL quotes the value
            with pytest.raises(sa.exc.DataError), engine.connect() as c:
                c.execute(sa.text(f"SELECT CAST('{secret}' AS integer)"))

            async def async_queries() -> None:
                async with async_engine.begin() as c:
                    await c.execute(sa.select(ITEMS).where(ITEMS.c.name == secret))
                    await c.execute(ITEMS.delete().where(ITEMS.c.name == secret + "!"))

            asyncio.run(async_queries())
            app_log.warning("request handled")
    finally:
        engine.dispose()
        asyncio.run(async_engine.dispose())

    telemetry.force_flush()
    metrics = testing.metrics(telemetry)
    assert metrics is not None
    exported = {
        "metrics": metrics.to_json(),
        "spans": json.dumps([json.loads(s.to_json()) for s in testing.spans(telemetry)]),
        "logs": json.dumps([json.loads(r.to_json()) for r in testing.logs(telemetry)]),
    }
    assert "db.client.operation.duration" in exported["metrics"]
    assert '"db.query.text": "SELECT id FROM items WHERE name = ?"' in exported["spans"]
    assert "UniqueViolation" in exported["spans"]
    assert "request handled" in exported["logs"]
    for signal, text in exported.items():
        assert secret not in text, f"the secret reached the exported {signal}"
        assert "s3cr3t" not in text, f"part of the secret reached the exported {signal}"
