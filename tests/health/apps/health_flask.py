"""Flask under gunicorn (an app factory, called in the worker) with otelkit's health blueprint."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

import otelkit
from otelkit.health._http import health_blueprint
from otelkit.health._registry import add_health_check


def create_app() -> Flask:
    otelkit.init_telemetry()
    flag = Path(os.environ["HEALTH_FLAG_FILE"])
    add_health_check("flag", flag.exists)
    app = Flask("health")
    app.register_blueprint(health_blueprint())

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    return otelkit.instrument_app(app)
