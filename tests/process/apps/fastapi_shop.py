"""A FastAPI app configured at import: what `uvicorn --reload` loads."""

import logging

from fastapi import FastAPI

import otelkit

logging.basicConfig(level=logging.INFO)
otelkit.init_telemetry(service_name="shop")
app = FastAPI()


@app.get("/orders/{order_id}")
def order(order_id: int) -> dict[str, int]:
    return {"order_id": order_id}
