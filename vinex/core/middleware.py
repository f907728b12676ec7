"""Request hygiene that every app relies on."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RejectNulMiddleware:
    """Refuse paths, query strings and form fields containing NUL (422 on the API, 400 on pages).

    No name, number or code contains one, and PostgreSQL cannot store or even compare it: let through,
    it would surface as a server error deep inside whichever query first met it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:  # a path segment becomes a query parameter (an agency code, an id)
            return self._refuse(request, ["path"])
        fields = list(request.GET.lists())
        if request.method == "POST" and request.content_type in FORM_TYPES:
            fields += list(request.POST.lists())
        for name, values in fields:
            if "\x00" in name or any("\x00" in value for value in values):
                return self._refuse(request, ["query", name.replace("\x00", "")])
        return self.get_response(request)

    @staticmethod
    def _refuse(request: HttpRequest, loc: list[str]) -> HttpResponse:
        message = "NUL characters are not allowed"
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": [{"loc": loc, "msg": message, "type": "invalid_character"}]}, status=422)
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


class SecurityHeadersMiddleware:
    """A Content-Security-Policy and a Permissions-Policy on every response.

    Pages load scripts only from vinex itself (no inline script, no other origin), so an injected
    ``<script>`` does not run; no page may use the camera, microphone or location.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.VINEX_CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", settings.VINEX_PERMISSIONS_POLICY)
        return response
