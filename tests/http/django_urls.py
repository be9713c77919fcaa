"""URLconf of the in-process Django project used by tests/http/test_wsgi.py."""

from django.http import HttpRequest, JsonResponse
from django.urls import path


def item(request: HttpRequest, item_id: int) -> JsonResponse:
    return JsonResponse({"item_id": item_id})


def boom(request: HttpRequest) -> JsonResponse:
    raise ValueError("the secret is 1234")


urlpatterns = [path("items/<int:item_id>", item), path("boom", boom)]
