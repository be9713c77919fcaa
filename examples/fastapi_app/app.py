"""A FastAPI service measured by otelkit.

python app.py            # http://127.0.0.1:8000/items/1, metrics on http://127.0.0.1:9464/metrics
"""

from __future__ import annotations

import os

from fastapi import FastAPI, HTTPException

import otelkit

otelkit.init_telemetry(service_name="example-fastapi")  # before the app: instrumented automatically
app = FastAPI()
STOCK = {1: "teapot", 2: "kettle"}


@app.get("/items/{item_id}")
@otelkit.timed("inventory.lookup.duration")
async def item(item_id: int) -> dict[str, object]:
    if item_id not in STOCK:
        raise HTTPException(status_code=404, detail="no such item")
    return {"item_id": item_id, "name": STOCK[item_id]}


@app.post("/orders")
@otelkit.counted("shop.orders", unit="{order}")
async def order() -> dict[str, str]:
    return {"status": "placed"}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
