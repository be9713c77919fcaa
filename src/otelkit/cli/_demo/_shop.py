"""The demo's shop: a FastAPI service over SQLite (SQLAlchemy) with a Celery worker in-process.

Everything runs on embedded defaults: the database is a file in a temporary directory, the
Celery broker and result backend live in memory, and the worker is a thread of this process.
The routes are chosen to light up every part of otelkit: a fast read, a write with business
metrics and a background task, a slow route, a flaky one (errors to alert on), and 404s.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import otelkit

if TYPE_CHECKING:
    from pathlib import Path

    from otelkit.cli._demo._landing import Links

__all__ = ["ROUTES", "Shop", "build_shop"]

TIERS = ("free", "gold", "platinum")
ROUTES = ("/items/{item_id}", "/checkout", "/search", "/slow", "/flaky")
PRODUCTS = 50
CHECKOUT_FAILURE_RATIO = 0.04
FLAKY_FAILURE_RATIO = 0.3


@dataclass
class Shop:
    """The pieces the demo starts and stops around the ASGI app."""

    app: Any
    celery: Any
    engine: Any


def _database(directory: Path) -> Any:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import QueuePool

    engine = create_engine(
        f"sqlite:///{directory / 'shop.db'}",
        poolclass=QueuePool,
        pool_size=4,
        max_overflow=2,
        pool_timeout=2,
        connect_args={"check_same_thread": False},
    )
    otelkit.instrument_sqlalchemy(engine)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price REAL, stock INT)")
        )
        connection.execute(
            text("CREATE TABLE orders (id INTEGER PRIMARY KEY, tier TEXT, total REAL)")
        )
        connection.execute(
            text("INSERT INTO products (id, name, price, stock) VALUES (:id, :name, :price, 100)"),
            [
                {"id": n, "name": f"product {n}", "price": round(random.uniform(2, 120), 2)}
                for n in range(1, PRODUCTS + 1)
            ],
        )
    return engine


def _celery(engine: Any) -> Any:
    from celery import Celery  # type: ignore[import-untyped]
    from sqlalchemy import text

    celery = Celery("otelkit-demo", broker="memory://", backend="cache+memory://")
    celery.conf.update(task_ignore_result=True, worker_hijack_root_logger=False)
    otelkit.instrument_celery(celery)

    def send_receipt(order_id: int) -> None:
        time.sleep(random.uniform(0.002, 0.02))
        if random.random() < 0.05:
            raise ConnectionError("mail relay unreachable")

    def restock(product_id: int) -> None:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE products SET stock = stock + 10 WHERE id = :id"), {"id": product_id}
            )

    celery.task(name="shop.send_receipt")(send_receipt)
    celery.task(name="shop.restock")(restock)
    return celery


def build_shop(directory: Path, links: Links) -> Shop:
    """The instrumented app, its database and its Celery app (worker not started yet)."""
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import HTMLResponse
    from sqlalchemy import text

    from otelkit.cli._demo._landing import landing_page
    from otelkit.health import checks as health_checks

    engine = _database(directory)
    celery = _celery(engine)
    app = FastAPI(title="otelkit demo shop")
    app.include_router(otelkit.health_router())
    otelkit.add_health_check("database", health_checks.sqlalchemy(engine))
    otelkit.add_health_check("broker", health_checks.celery_broker(celery), critical=False)

    @otelkit.timed("shop.checkout.duration", attributes=lambda tier: {"shop.tier": tier})
    @otelkit.counted("shop.orders", unit="{order}", attributes=lambda tier: {"shop.tier": tier})
    def place_order(tier: str) -> int:
        """Charge a basket; a few are declined (counted with ``error.type``)."""
        time.sleep(random.uniform(0.002, 0.03))
        if random.random() < CHECKOUT_FAILURE_RATIO:
            raise PermissionError("payment declined")
        total = round(random.uniform(5, 300), 2)
        otelkit.record("shop.basket.value", total, attributes={"shop.tier": tier})
        with engine.begin() as connection:
            result = connection.execute(
                text("INSERT INTO orders (tier, total) VALUES (:tier, :total)"),
                {"tier": tier, "total": total},
            )
            order_id = int(result.lastrowid or 0)
        celery.send_task("shop.send_receipt", args=(order_id,))
        return order_id

    @app.get("/", response_class=HTMLResponse)
    def home() -> str:
        return landing_page(links)

    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, Any]:
        with engine.connect() as connection:
            row = (
                connection.execute(
                    text("SELECT id, name, price, stock FROM products WHERE id = :id"),
                    {"id": item_id},
                )
                .mappings()
                .first()
            )
        if row is None:
            raise HTTPException(status_code=404, detail="no such item")
        if row["stock"] < 90:
            celery.send_task("shop.restock", args=(item_id,))
        return dict(row)

    @app.post("/checkout")
    def checkout(tier: str = "free") -> dict[str, int]:
        try:
            return {"order_id": place_order(tier)}
        except PermissionError:
            raise HTTPException(status_code=402, detail="payment declined") from None

    @app.get("/search")
    def search(q: str = "") -> list[dict[str, Any]]:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, name FROM products WHERE name LIKE :q LIMIT 5"), {"q": f"%{q}%"}
            )
            return [dict(row) for row in rows.mappings()]

    @app.get("/slow")
    def slow() -> dict[str, float]:
        delay = random.uniform(0.2, 0.8)
        time.sleep(delay)
        return {"slept_s": round(delay, 3)}

    @app.get("/flaky")
    def flaky() -> dict[str, str]:
        if random.random() < FLAKY_FAILURE_RATIO:
            raise HTTPException(status_code=500, detail="the flaky route failed, as it does")
        return {"status": "ok"}

    return Shop(app=app, celery=celery, engine=engine)
