"""A Flask service measured by otelkit.

python app.py            # http://127.0.0.1:8000/items/1, metrics on http://127.0.0.1:9464/metrics
"""

from __future__ import annotations

import os

from flask import Flask, abort

import otelkit

otelkit.init_telemetry(service_name="example-flask")  # before the app: instrumented automatically
app = Flask(__name__)
STOCK = {1: "teapot", 2: "kettle"}


@app.get("/items/<int:item_id>")
@otelkit.timed("inventory.lookup.duration")
def item(item_id: int) -> dict[str, object]:
    if item_id not in STOCK:
        abort(404)
    return {"item_id": item_id, "name": STOCK[item_id]}


@app.post("/orders")
@otelkit.counted("shop.orders", unit="{order}")
def order() -> dict[str, str]:
    return {"status": "placed"}


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
