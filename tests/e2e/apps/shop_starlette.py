"""Starlette with a converter in the route (``{item_id:int}``), instrumented explicitly."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

import otelkit

if TYPE_CHECKING:
    from starlette.requests import Request

otelkit.init_telemetry()


async def item(request: Request) -> JSONResponse:
    return JSONResponse({"item_id": request.path_params["item_id"]})


async def boom(request: Request) -> Response:
    raise ValueError("boom")


async def status(request: Request) -> Response:
    return Response(status_code=request.path_params["code"])


async def healthz(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/items/{item_id:int}", item),
        Route("/boom", boom),
        Route("/status/{code:int}", status),
        Route("/healthz", healthz),
    ]
)
otelkit.instrument_app(app)
