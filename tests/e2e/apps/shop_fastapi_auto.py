"""FastAPI on the automatic path: init_telemetry() before FastAPI(), no instrument_app()."""

from __future__ import annotations

from fastapi import FastAPI, Response
from fastapi.responses import PlainTextResponse

import otelkit

otelkit.init_telemetry()

app = FastAPI()


@app.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    return {"item_id": item_id}


@app.get("/boom")
async def boom() -> None:
    raise ValueError("boom")


@app.get("/status/{code}")
async def status(code: int) -> Response:
    return Response(status_code=code)


@app.get("/healthz")
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")
