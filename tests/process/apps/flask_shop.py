"""A Flask app configured at import, as the quickstart does: what `flask run --debug` loads."""

import logging

from flask import Flask

import otelkit

logging.basicConfig(level=logging.INFO)  # show otelkit's start-up line
otelkit.init_telemetry(service_name="shop")
app = Flask(__name__)


@app.get("/orders/<int:order_id>")
def order(order_id: int) -> dict[str, int]:
    return {"order_id": order_id}
