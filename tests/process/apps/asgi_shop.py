"""A FastAPI app that does not mention otelkit: `otelkit run` instruments it."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/orders/{order_id}")
def order(order_id: int) -> dict[str, int]:
    return {"order_id": order_id}
