"""A Django service in one file, measured by otelkit.

python app.py            # http://127.0.0.1:8000/items/1, metrics on http://127.0.0.1:9464/metrics
"""

from __future__ import annotations

import os
import sys

import django
from django.conf import settings
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import path

import otelkit

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="example-only",
    # otelkit's middleware first, so that it sees every request and the resolved route.
    MIDDLEWARE=["otelkit.instrumentation.http.django.Middleware"],
)
django.setup()
otelkit.init_telemetry(service_name="example-django")
STOCK = {1: "teapot", 2: "kettle"}


@otelkit.timed("inventory.lookup.duration")
def item(request: HttpRequest, item_id: int) -> JsonResponse:
    if item_id not in STOCK:
        raise Http404("no such item")
    return JsonResponse({"item_id": item_id, "name": STOCK[item_id]})


urlpatterns = [path("items/<int:item_id>", item)]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    port = os.environ.get("PORT", "8000")
    execute_from_command_line([sys.argv[0], "runserver", f"127.0.0.1:{port}", "--noreload"])
