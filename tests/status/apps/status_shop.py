"""A small shop for the status page tests: routes that answer, fail and take their time.

Configured through the environment like the end-to-end apps; declares one objective and one
health check, and mounts the status page in the app itself at ``/ops`` too.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Response

import otelkit
from otelkit.ops.rules import SLO, register_slo

otelkit.init_telemetry()
register_slo(SLO("items-availability", objective=99.0, route="/items/{item_id}"))
otelkit.add_health_check("inventory", lambda: True)

app = FastAPI()


@app.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    await asyncio.sleep((item_id % 5) / 1000)  # 0 to 4 ms: spread over a few buckets
    return {"item_id": item_id}


@app.get("/slow")
async def slow() -> dict[str, str]:
    await asyncio.sleep(0.03)
    return {"took": "30 ms"}


@app.get("/boom")
async def boom() -> Response:
    return Response("out of stock", status_code=503)


@app.get("/agree/{n}")
async def agree(n: int) -> dict[str, int]:
    await asyncio.sleep((n % 7) / 1000)
    return {"n": n}


app.mount("/ops", otelkit.status_app())
otelkit.instrument_app(app)
