"""The app under test, run in its own interpreter by the tests.

``python app.py N1 [N2 ...] [--pause S]``: configure otelkit from the environment, then for
each phase serve N GET /orders/{id} requests to an instrumented FastAPI app (through httpx's
ASGI transport), record the business metric ``orders.amount`` (10 x id) in each, log one
warning, and ``force_flush()``; sleep S seconds between phases. The last line of stdout is a
JSON report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time

import httpx
from fastapi import FastAPI
from opentelemetry import trace

import otelkit


def build_app() -> FastAPI:
    app = FastAPI()

    @app.get("/orders/{order_id}")
    async def get_order(order_id: int) -> dict[str, int]:
        otelkit.record("orders.amount", 10.0 * order_id, channel="web")
        return {"id": order_id}

    return otelkit.instrument_app(app)


async def serve(app: FastAPI, ids: range) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for order_id in ids:
            response = await client.get(f"/orders/{order_id}")
            response.raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("phases", type=int, nargs="+")
    parser.add_argument("--pause", type=float, default=0.0)
    args = parser.parse_args()

    telemetry = otelkit.init_telemetry(service_name="orders")
    app = build_app()
    flushed = []
    first = 1
    for index, count in enumerate(args.phases):
        if index:
            time.sleep(args.pause)
        asyncio.run(serve(app, range(first, first + count)))
        first += count
        logging.getLogger("orders").warning("phase %d served %d orders", index + 1, count)
        flushed.append(telemetry.force_flush(timeout=20))
    resource = trace.get_tracer_provider().resource.attributes  # type: ignore[attr-defined]
    report = {
        "flushed": flushed,
        "shutdown": telemetry.shutdown(timeout=10),
        "instance": resource.get("service.instance.id"),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
