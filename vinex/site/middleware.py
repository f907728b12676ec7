"""The API answers in its own error shape, even where Django or django-ninja would answer in HTML."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse


class ApiErrorShapeMiddleware:
    """A method an endpoint does not take (ninja's plain-text 405) becomes the API's JSON error, keeping
    the ``Allow`` header, so a client reads every API error the same way."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 405 or not request.path.startswith("/api/"):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        allowed = response.get("Allow", "")
        shaped = JsonResponse({"detail": [{"loc": ["method"], "msg": f"{request.method} is not allowed here; "
                                           f"allowed: {allowed or 'none'}", "type": "method_not_allowed"}]},
                              status=405)
        if allowed:
            shaped["Allow"] = allowed
        return shaped
