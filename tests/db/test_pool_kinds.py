"""Every SQLAlchemy pool class keeps exact connection counts (SQLite: no server needed)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy import pool

import otelkit
from otelkit import testing
from otelkit.instrumentation.sqlalchemy import instrument_sqlalchemy

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

COUNT = "db.client.connection.count"


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[otelkit.Telemetry]:
    monkeypatch.delenv("OTELKIT_INSTRUMENT", raising=False)
    handle = otelkit.init_telemetry("db-test", exporters="memory", instrument="none")
    yield handle
    handle.shutdown()


def counts(telemetry: otelkit.Telemetry, name: str) -> dict[str, Any]:
    return {
        p.attributes["db.client.connection.state"]: p.value
        for p in testing.points(telemetry, COUNT)
        if p.attributes["db.client.connection.pool.name"] == name
    }


@pytest.mark.parametrize(
    ("poolclass", "held", "idle_after"),
    [
        (pool.QueuePool, 2, 2),
        (pool.NullPool, 2, 0),  # closes each connection at checkin
        (pool.StaticPool, 1, 1),  # one connection, shared
        (pool.SingletonThreadPool, 1, 1),  # one connection per thread
    ],
)
def test_counts_follow_checkouts_and_checkins(
    tmp_path: Path,
    telemetry: otelkit.Telemetry,
    poolclass: type[pool.Pool],
    held: int,
    idle_after: int,
) -> None:
    engine = instrument_sqlalchemy(
        sa.create_engine(f"sqlite:///{tmp_path}/{poolclass.__name__}.db", poolclass=poolclass)
    )
    name = f"sqlite:{tmp_path}/{poolclass.__name__}.db"
    try:
        connections = [engine.connect() for _ in range(held)]
        for connection in connections:
            connection.exec_driver_sql("SELECT 1")
        assert counts(telemetry, name)["used"] == held
        for connection in connections:
            connection.close()
        assert counts(telemetry, name) == {"used": 0, "idle": idle_after}
    finally:
        engine.dispose()
    assert counts(telemetry, name) == {"used": 0, "idle": 0}


def test_concurrent_checkouts_from_many_threads_balance_out(
    tmp_path: Path, telemetry: otelkit.Telemetry
) -> None:
    engine = instrument_sqlalchemy(
        sa.create_engine(f"sqlite:///{tmp_path}/t.db", pool_size=4, max_overflow=4)
    )
    name = f"sqlite:{tmp_path}/t.db"

    def work() -> None:
        for _ in range(50):
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    state = counts(telemetry, name)
    assert state["used"] == 0
    assert 1 <= state["idle"] <= 8
    pending = testing.points(telemetry, "db.client.connection.pending_requests")
    assert [p.value for p in pending if p.attributes["db.client.connection.pool.name"] == name] == [
        0
    ]
    (duration,) = testing.points(telemetry, "db.client.operation.duration")
    assert duration.count == 400
    assert duration.attributes == {"db.system.name": "sqlite", "db.operation.name": "SELECT"}
    engine.dispose()
