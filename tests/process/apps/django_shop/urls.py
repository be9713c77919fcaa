from django.http import HttpRequest, JsonResponse
from django.urls import path


def order(request: HttpRequest, order_id: int) -> JsonResponse:
    return JsonResponse({"order_id": order_id})


urlpatterns = [path("orders/<int:order_id>", order)]
