"""Registration endpoints: register with a locator ``subject_ref``, confirm each contact's code, withdraw."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, StringConstraints

from vinex.audit.unit import Actor
from vinex.custody.schemas import ErrorResponse
from vinex.locator.api import too_many_requests
from vinex.locator.ratelimit import address_limit, client_address
from vinex.registrations.models import Arrival, Registration, RegistrationStatus, Relationship
from vinex.registrations.selectors import registration_for_manage_token, registration_get, verifications_for_value
from vinex.registrations.services import (
    Check,
    ContactIn,
    FieldError,
    RegistrationInvalid,
    Resend,
    ip_hash,
    registration_create,
    registration_withdraw,
    verification_check,
    verification_resend,
)

router = Router(tags=["registrations"])
logger = logging.getLogger(__name__)

Value = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254)]


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class ContactSchema(Strict):
    channel: Literal["email", "sms", "voice"]
    value: Value


class RegistrationIn(Strict):
    subject_ref: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    language: Literal["en", "es"]
    contacts: list[ContactSchema] = Field(..., min_length=1, max_length=3)
    relationship: Relationship | None = None
    case_number: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    pin: Annotated[str, StringConstraints(strip_whitespace=True, max_length=8)] | None = None


class RegistrationOut(Schema):
    registration_id: str
    status: str


class ConfirmIn(Strict):
    contact: Value
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]


class ResendIn(Strict):
    contact: Value


def _error(status: int, loc: list[str | int], msg: str, kind: str, **headers: str) -> HttpResponse:
    return JsonResponse({"detail": [{"loc": loc, "msg": msg, "type": kind}]}, status=status, headers=headers)


def _invalid(errors: list[FieldError]) -> HttpResponse:
    detail = [{"loc": ["body", *e.loc], "msg": str(e.msg), "type": e.type} for e in errors]
    return JsonResponse({"detail": detail}, status=422)


def _out(registration: Registration) -> dict[str, str]:
    return {"registration_id": str(registration.public_id), "status": registration.status}


def _not_found() -> HttpResponse:
    return _error(404, ["path", "registration_id"], "no such registration", "not_found")


_ERRORS = {401: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 422: ErrorResponse, 429: ErrorResponse}


def _client(request: HttpRequest) -> Actor:
    """A client of the API, named by the keyed hash of its address (as its registration is)."""
    return Actor.public(Arrival.API, ip_hash(client_address(request)))


@router.post("/registrations", response={202: RegistrationOut, **_ERRORS}, summary="Register for updates")
def registrations_post(request: HttpRequest, data: RegistrationIn) -> Any:
    """Start a registration for the person a locator result names; a one-time code goes to each contact.

    The registration becomes active once every contact is confirmed (``/confirm``).
    """
    refused = address_limit(request, scope="registration", rate=settings.VINEX_REGISTRATION_RATE)
    if refused:
        return too_many_requests(refused)
    try:
        registration = registration_create(
            subject_ref=data.subject_ref, language=data.language,
            contacts=[ContactIn(c.channel, c.value) for c in data.contacts],
            relationship=data.relationship or "", case_number=data.case_number or "", pin=data.pin or "",
            arrival=Arrival.API, client_address=client_address(request), actor=_client(request),
        )
    except RegistrationInvalid as invalid:
        return _invalid(invalid.errors)
    logger.info("registration created", extra={"registration": str(registration.public_id),
                                               "contacts": len(data.contacts), "arrival": "api"})
    return Status(202, _out(registration))


_CHECK_ERRORS: dict[Check, tuple[int, str]] = {
    Check.WRONG: (422, "the code is not right"),
    Check.EXPIRED: (422, "the code has expired; ask for a new one"),
    Check.LOCKED: (429, "too many wrong codes; ask for a new one"),
    Check.CLOSED: (409, "this registration is no longer waiting for codes"),
}


@router.post("/registrations/{registration_id}/confirm", response={200: RegistrationOut, **_ERRORS},
             summary="Confirm a contact with its one-time code")
def registrations_confirm(request: HttpRequest, registration_id: str, data: ConfirmIn) -> Any:
    """Confirm one contact; once all are confirmed the registration is ``active`` (or held for review)."""
    registration = registration_get(public_id=registration_id)
    if registration is None:
        return _not_found()
    verifications = verifications_for_value(registration=registration, value=data.contact)
    if not verifications:
        return _error(422, ["body", "contact"], "this contact is not part of the registration", "unknown_contact")
    actor = _client(request)
    results = [verification_check(verification=v, code=data.code, actor=actor) for v in verifications]
    result = next((r for r in results if r.outcome not in _CHECK_ERRORS), results[0])
    if result.outcome in _CHECK_ERRORS:
        status, msg = _CHECK_ERRORS[result.outcome]
        if result.outcome == Check.WRONG:
            msg = f"{msg}; {result.attempts_left} attempts left"
        return _error(status, ["body", "code"], msg, str(result.outcome))
    registration.refresh_from_db()
    return Status(200, _out(registration))


@router.post("/registrations/{registration_id}/resend", response={202: RegistrationOut, **_ERRORS},
             summary="Send a contact a new one-time code")
def registrations_resend(request: HttpRequest, registration_id: str, data: ResendIn) -> Any:
    registration = registration_get(public_id=registration_id)
    if registration is None:
        return _not_found()
    verifications = verifications_for_value(registration=registration, value=data.contact)
    if not verifications:
        return _error(422, ["body", "contact"], "this contact is not part of the registration", "unknown_contact")
    for verification in verifications:
        result = verification_resend(verification=verification, actor=_client(request))
        if result.outcome == Resend.TOO_SOON:
            return _error(429, ["body", "contact"], f"a code was just sent; wait {result.retry_after} seconds",
                          "too_soon", **{"Retry-After": str(result.retry_after)})
        if result.outcome == Resend.LIMIT_REACHED:
            return _error(429, ["body", "contact"], "no more codes can be sent to this contact", "limit_reached")
        if result.outcome == Resend.NOT_NEEDED:
            return _error(409, ["body", "contact"], "this contact needs no code", "not_needed")
    return Status(202, _out(registration))


@router.delete("/registrations/{registration_id}", response={200: RegistrationOut, **_ERRORS},
               summary="Withdraw a registration (Authorization: Bearer <manage token>)")
def registrations_delete(request: HttpRequest, registration_id: str) -> Any:
    """Stop all messages at once; the contact data is purged later. Needs the manage token sent on activation."""
    registration = registration_get(public_id=registration_id)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    owner = registration_for_manage_token(token=token.strip()) if scheme.lower() == "bearer" else None
    if registration is None or owner is None or owner.pk != registration.pk:
        response = _error(401, ["header", "Authorization"],
                          "the manage token from your confirmation message is required (Authorization: Bearer <token>)",
                          "unauthenticated")
        response["WWW-Authenticate"] = 'Bearer realm="vinex registrations"'
        return response
    if registration.status != RegistrationStatus.WITHDRAWN:
        registration = registration_withdraw(registration=registration, actor=Actor.registrant(owner.registrant_id))
    return Status(200, _out(registration))
