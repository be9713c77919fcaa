"""FastAPI, configured as the README says: init_telemetry() at import, then instrument_app()."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import FastAPI, Response
from fastapi.responses import PlainTextResponse, StreamingResponse

import otelkit

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

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


@app.get("/stream")
async def stream() -> StreamingResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            await asyncio.sleep(0.1)
            yield b"chunk\n"

    return StreamingResponse(chunks(), media_type="text/plain")


@app.get("/healthz")
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")


otelkit.instrument_app(app)
