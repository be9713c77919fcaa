"""FastAPI under uvicorn with otelkit's health router and an async readiness check."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from fastapi import FastAPI

import otelkit
from otelkit.health._http import health_router
from otelkit.health._registry import add_health_check

otelkit.init_telemetry()

FLAG = Path(os.environ["HEALTH_FLAG_FILE"])


async def flag_present() -> bool:
    await asyncio.sleep(0.01)
    return FLAG.exists()


add_health_check("flag", flag_present)

app = FastAPI()
app.include_router(health_router())


@app.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}


otelkit.instrument_app(app)
