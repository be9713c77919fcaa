"""FastAPI for the pre-fork tests: shop_fastapi, plus ``GET /pid`` answering the worker's pid.

shop_fastapi calls ``init_telemetry()`` at import, which happens in each worker: gunicorn's
``UvicornWorker`` loads the app after the fork, ``uvicorn --workers`` in each spawned worker.
``/pid`` waits ``PAUSE`` seconds, so that concurrent requests reach several workers, and every
recorded duration is at least that long.
"""

from __future__ import annotations

import asyncio
import os

from shop_fastapi import app

PAUSE = 0.02

__all__ = ["app"]


@app.get("/pid")
async def pid() -> dict[str, int]:
    await asyncio.sleep(PAUSE)
    return {"pid": os.getpid()}
