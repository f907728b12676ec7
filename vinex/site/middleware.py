"""The API answers in its own error shape, even where Django or django-ninja would answer in HTML."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from vinex.core.middleware import FORM_TYPES

# What an error that no endpoint shaped says, by status (ninja's plain-text 405, Django's HTML 400 for a form
# it cannot parse, its 500 page): the same ``detail`` list every API error has.
_MESSAGES = {
    400: ("", "the request could not be read (its body, or a header such as Host)", "bad_request"),
    404: ("path", "no such endpoint", "not_found"),
    413: ("body", "request body is too large", "body_too_large"),
    500: ("", "the server could not answer this request; it has been logged", "server_error"),
}
# Headers of the original answer that a client still needs.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def _error(status: int, loc: list[str], msg: str, kind: str) -> JsonResponse:
    return JsonResponse({"detail": [{"loc": loc, "msg": msg, "type": kind}]}, status=status)


class ApiErrorShapeMiddleware:
    """Every error under /api/ in the API's JSON shape, keeping the headers a client needs (``Allow``,
    ``Retry-After``), so a client reads every API error the same way."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        refused = _read_form_body(request)
        if refused is not None:
            return refused
        response = self.get_response(request)
        if response.status_code < 400 or response.get("Content-Type", "").startswith("application/json"):
            return response
        shaped = _shaped(request, response)
        for header in _KEPT_HEADERS:
            if header in response:
                shaped[header] = response[header]
        return shaped


def _read_form_body(request: HttpRequest) -> JsonResponse | None:
    """Read a form-encoded API body now, before any middleware parses it as a form (RejectNulMiddleware
    does, for NUL characters): parsing a multipart body consumes the stream, and the endpoint reading the
    body afterwards would fail with a server error. The API takes JSON, CSV and no forms, so this is rare;
    large uploads (rosters) are never forms and stay streamed."""
    if request.content_type not in FORM_TYPES:
        return None
    try:
        request.body  # noqa: B018 - read and kept by the request, for the form parser and the endpoint alike
    except RequestDataTooBig:
        return _error(413, ["body"], "request body is too large", "body_too_large")
    return None


def _shaped(request: HttpRequest, response: HttpResponse) -> JsonResponse:
    status = response.status_code
    if status == 405:
        allowed = response.get("Allow", "")
        return _error(405, ["method"], f"{request.method} is not allowed here; allowed: {allowed or 'none'}",
                      "method_not_allowed")
    loc, msg, kind = _MESSAGES.get(status, _MESSAGES[500] if status >= 500 else ("", "", f"http_{status}"))
    return _error(status, [loc] if loc else [], msg or response.reason_phrase.lower(), kind)
