"""URLconf of the in-process Django project used by tests/http/test_wsgi.py."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import path


def item(request: HttpRequest, item_id: int) -> JsonResponse:
    return JsonResponse({"item_id": item_id})


def boom(request: HttpRequest) -> JsonResponse:
    raise ValueError("the secret is 1234")


def missing(request: HttpRequest) -> JsonResponse:
    raise Http404("no such page")


def forbidden(request: HttpRequest) -> JsonResponse:
    raise PermissionDenied


urlpatterns = [
    path("items/<int:item_id>", item),
    path("boom", boom),
    path("missing", missing),
    path("forbidden", forbidden),
]
