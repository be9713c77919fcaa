"""Flask behind gunicorn: an app factory, so that telemetry starts in the worker process.

``gunicorn 'shop_flask:create_app()'`` calls the factory in the worker after the fork (without
``--preload``), which is where the metrics listener and the exporters have to live.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from flask import Flask, Response

import otelkit

if TYPE_CHECKING:
    from collections.abc import Iterator


def create_app() -> Flask:
    otelkit.init_telemetry()
    app = Flask("shop")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.get("/boom")
    def boom() -> None:
        raise ValueError("boom")

    @app.get("/status/<int:code>")
    def status(code: int) -> tuple[str, int]:
        return "", code

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(3):
                time.sleep(0.1)
                yield b"chunk\n"

        return Response(chunks(), mimetype="text/plain")

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    return otelkit.instrument_app(app)
