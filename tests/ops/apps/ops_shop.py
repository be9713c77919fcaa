"""The shop the operations tests watch: FastAPI, SQLAlchemy on PostgreSQL, one failing route.

Configured from the environment the ``ops_stack`` fixture sets (service name, Prometheus port,
database URL). ``GET /orders/{n}`` runs a query and answers 500 for every fifth order, so
20 % of the orders fail; ``GET /items/{n}`` always succeeds; both go through the pool, and a
health check, a business function and three SLOs complete what the generated rules and
dashboards read.
"""

from __future__ import annotations

import os

from fastapi import FastAPI, HTTPException
from sqlalchemy import create_engine, text

import otelkit
from otelkit.health import checks as health_checks
from otelkit.ops.rules import SLO, register_slo

otelkit.init_telemetry()

engine = create_engine(os.environ["SHOP_DATABASE_URL"], pool_size=5, max_overflow=0)
otelkit.add_health_check("db", health_checks.sqlalchemy(engine))

app = FastAPI()

register_slo(
    SLO("orders", 99.9, route="/orders/{order}"),
    SLO("orders-latency", 99, latency=0.5, route="/orders/{order}"),
    SLO("checkout", 99.5, function="shop.checkout.duration"),
)


@otelkit.timed("shop.checkout.duration")
def checkout(order: int) -> int:
    """A business function: fails for every fifth order, like the route that calls it."""
    with engine.connect() as connection:
        value = int(connection.execute(text("SELECT :n"), {"n": order}).scalar_one())
    if value % 5 == 0:
        raise RuntimeError(f"order {value} cannot be paid")
    return value


@app.get("/orders/{order}")
def orders(order: int) -> dict[str, int]:
    try:
        return {"order": checkout(order)}
    except RuntimeError as exc:
        raise HTTPException(status_code=500, detail=str(exc)) from None


@app.get("/items/{item}")
def items(item: int) -> dict[str, int]:
    with engine.connect() as connection:
        return {"item": int(connection.execute(text("SELECT :n"), {"n": item}).scalar_one())}


otelkit.instrument_app(app)
