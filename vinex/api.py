"""The JSON API under /api/v1/: one NinjaAPI, routers from each app, one error format.

Every error is ``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}``; bad input never gives 500.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError
from ninja.parser import Parser

from vinex.custody.schemas import ErrorDetail, ErrorResponse, EventBatchDoc
from vinex.feeds.api import Overloaded, events_router
from vinex.feeds.api import router as feeds_router
from vinex.locator.api import router as locator_router
from vinex.portal.api import router as portal_router
from vinex.privacy.api import router as data_reports_router
from vinex.privacy.partner_api import router as partner_router

logger = logging.getLogger(__name__)


def error_body(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    return {"detail": [{"loc": loc, "msg": msg, "type": kind}]}


class FastJSONParser(Parser):
    """Request bodies parsed by orjson: a batch of 10,000 events is several megabytes of JSON. Whatever it
    refuses (invalid JSON, lone surrogates, NaN) is answered 400 like any unparsable body."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        return cast(dict[str, Any], orjson.loads(request.body))


# Answers the API layer itself gives, whatever the endpoint: a body it cannot parse or that is too large,
# and the agency-key check refusing a client after too many wrong keys.
_BODY_ERRORS = {400: "The body is not valid JSON (or not in the declared content type).",
                413: "The body is too large."}
_AGENCY_KEY_ERRORS = {401: "A valid API key is required (Authorization: Bearer <key>).",
                      429: "Too many failed API keys from this client; try again later."}
_ERROR_REF = "#/components/schemas/ErrorResponse"


def _declare(operation: dict[str, Any], errors: dict[int, str]) -> None:
    responses = operation.setdefault("responses", {})
    for status, description in errors.items():
        responses.setdefault(status, {"description": description,
                                      "content": {"application/json": {"schema": {"$ref": _ERROR_REF}}}})


def _declare_shared_errors(schema: dict[str, Any]) -> None:
    """Every operation's document lists the errors the shared layers answer, so no answer is undocumented."""
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            if "requestBody" in operation:
                _declare(operation, _BODY_ERRORS)
            if any("AgencyKey" in requirement for requirement in operation.get("security", [])):
                _declare(operation, _AGENCY_KEY_ERRORS)


class VinexAPI(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        # The batch endpoint validates item by item (one bad item must not reject the batch), so
        # ninja sees a list of anything; publish the real item schema for clients and fuzzers.
        doc = EventBatchDoc.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(doc.pop("$defs", {}))
        components["EventBatch"] = doc
        components.setdefault("ErrorResponse", ErrorResponse.model_json_schema(
            ref_template="#/components/schemas/{model}"))
        components.setdefault("ErrorDetail", ErrorDetail.model_json_schema())
        # The registration endpoints' own bearer: the manage token sent to the registrant on activation.
        schema["components"].setdefault("securitySchemes", {})["ManageToken"] = {
            "type": "http", "scheme": "bearer",
            "description": "The manage token from the registration's confirmation message."}
        _declare_shared_errors(schema)
        return schema


api = VinexAPI(
    title="vinex API",
    version="1",
    description="Victim Information and Notification Exchange: custody events in, notifications out.",
    urls_namespace="api-v1",
    docs_url="/docs" if settings.VINEX_API_DOCS else None,
    parser=FastJSONParser(),
)
api.add_router("/", events_router)
api.add_router("/", partner_router)
api.add_router("/", feeds_router)
api.add_router("/", locator_router)
api.add_router("/", portal_router)
api.add_router("/", data_reports_router)


def _clean_validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"loc": list(e.get("loc", [])), "msg": str(e.get("msg", "invalid")), "type": str(e.get("type", "invalid"))}
            for e in errors]


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return api.create_response(request, {"detail": _clean_validation_errors(exc.errors)}, status=422)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(
        request,
        error_body(["header", "Authorization"], "a valid API key is required (Authorization: Bearer <key>)",
                   "unauthenticated"),
        status=401,
    )
    response["WWW-Authenticate"] = 'Bearer realm="vinex"'
    return response


@api.exception_handler(AuthorizationError)
def _forbidden(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
    return api.create_response(request, error_body([], str(exc) or "forbidden", "forbidden"), status=403)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    loc: list[str | int] = ["body"] if exc.status_code == 400 else []
    kind = "invalid_body" if exc.status_code == 400 else f"http_{exc.status_code}"
    return api.create_response(request, error_body(loc, str(exc), kind), status=exc.status_code)


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return api.create_response(
        request, error_body(["body"], "request body is too large", "body_too_large"), status=413
    )


@api.exception_handler(Overloaded)
def _overloaded(request: HttpRequest, exc: Overloaded) -> HttpResponse:
    response = api.create_response(request, error_body([], str(exc), "overloaded"), status=503)
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, error_body([], "not found", "not_found"), status=404)
