"""The shop's URLconf; otelkit reports Django's pattern as the route: ``/items/<int:item_id>``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.http import HttpRequest


def item(request: HttpRequest, item_id: int) -> JsonResponse:
    return JsonResponse({"item_id": item_id})


def boom(request: HttpRequest) -> HttpResponse:
    raise ValueError("boom")


def status(request: HttpRequest, code: int) -> HttpResponse:
    return HttpResponse(status=code)


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            time.sleep(0.1)
            yield b"chunk\n"

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [
    path("items/<int:item_id>", item),
    path("boom", boom),
    path("status/<int:code>", status),
    path("stream", stream),
    path("healthz", healthz),
]
