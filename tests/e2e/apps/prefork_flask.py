"""Flask for the pre-fork tests: the shop app, plus ``GET /pid`` answering the worker's pid.

``gunicorn 'prefork_flask:create_app()'`` builds the app, and with it ``init_telemetry()``, in
each worker after the fork (no ``--preload``), as shop_flask does; prefork_flask_preloaded
builds it at import, which ``--preload`` does in the gunicorn master before it forks.

``/pid`` takes ``PAUSE`` seconds, so that concurrent requests reach several workers, and every
recorded duration is at least that long.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import shop_flask

if TYPE_CHECKING:
    from flask import Flask

PAUSE = 0.02


def create_app() -> Flask:
    app = shop_flask.create_app()  # init_telemetry() and instrument_app()

    @app.get("/pid")
    def pid() -> dict[str, int]:
        time.sleep(PAUSE)
        return {"pid": os.getpid()}

    return app
