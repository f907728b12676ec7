"""Registration endpoints: register with a locator ``subject_ref``, confirm each contact's code; with the manage
token, see, change or withdraw the registration and see its message history."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, Field, StringConstraints

from vinex.audit.unit import Actor
from vinex.custody.schemas import ErrorResponse
from vinex.locator.api import NOT_BLANK, too_many_requests
from vinex.locator.ratelimit import address_limit, client_address
from vinex.registrations.history import registration_history
from vinex.registrations.models import Arrival, Registration, RegistrationStatus, Relationship
from vinex.registrations.selectors import (
    registration_for_manage_token,
    registration_get,
    registration_view,
    verifications_for_value,
)
from vinex.registrations.services import (
    Check,
    ContactIn,
    FieldError,
    RegistrationInvalid,
    Resend,
    ip_hash,
    registration_contact_add,
    registration_contact_remove,
    registration_create,
    registration_preferences_update,
    registration_withdraw,
    verification_check,
    verification_resend,
)

router = Router(tags=["registrations"])
logger = logging.getLogger(__name__)

Value = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254), NOT_BLANK]


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class ContactSchema(Strict):
    channel: Literal["email", "sms", "voice"]
    value: Value


class RegistrationIn(Strict):
    subject_ref: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), NOT_BLANK]
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
    code: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16), NOT_BLANK]


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


# Each endpoint declares exactly the errors it answers (the shared 400 and 413 of a body are added by vinex.api).
_CODE_ERRORS = {404: ErrorResponse, 409: ErrorResponse, 422: ErrorResponse, 429: ErrorResponse}
_MANAGE_ERRORS = {401: ErrorResponse, 422: ErrorResponse}  # 422 as first published, though only PATCH has a body
# The manage token is not a ninja auth class: a wrong token must answer exactly like an unknown registration.
_MANAGE_TOKEN: dict[str, Any] = {"security": [{"ManageToken": []}]}


def _client(request: HttpRequest) -> Actor:
    """A client of the API, named by the keyed hash of its address (as its registration is)."""
    return Actor.public(Arrival.API, ip_hash(client_address(request)))


@router.post("/registrations", response={202: RegistrationOut, 422: ErrorResponse, 429: ErrorResponse},
             summary="Register for updates")
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


@router.post("/registrations/{registration_id}/confirm", response={200: RegistrationOut, **_CODE_ERRORS},
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


@router.post("/registrations/{registration_id}/resend", response={202: RegistrationOut, **_CODE_ERRORS},
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


def _unauthenticated() -> HttpResponse:
    # One answer for an unknown registration and a wrong token, so neither can be told from the other.
    response = _error(401, ["header", "Authorization"],
                      "the manage token from your confirmation message is required (Authorization: Bearer <token>)",
                      "unauthenticated")
    response["WWW-Authenticate"] = 'Bearer realm="vinex registrations"'
    return response


def _owned(request: HttpRequest, registration_id: str) -> Registration | None:
    """The registration, when the request carries its manage token; None for anything else."""
    registration = registration_get(public_id=registration_id)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    owner = registration_for_manage_token(token=token.strip()) if scheme.lower() == "bearer" else None
    if registration is None or owner is None or owner.pk != registration.pk:
        return None
    return owner


def _owner(registration: Registration) -> Actor:
    return Actor.registrant(registration.registrant_id)


@router.delete("/registrations/{registration_id}", response={200: RegistrationOut, **_MANAGE_ERRORS},
               summary="Withdraw a registration (Authorization: Bearer <manage token>)", openapi_extra=_MANAGE_TOKEN)
def registrations_delete(request: HttpRequest, registration_id: str) -> Any:
    """Stop all messages at once; the contact data is purged later. Needs the manage token sent on activation."""
    registration = _owned(request, registration_id)
    if registration is None:
        return _unauthenticated()
    if registration.status != RegistrationStatus.WITHDRAWN:
        registration = registration_withdraw(registration=registration, actor=_owner(registration))
    return Status(200, _out(registration))


# --- The registrant's own controls ---------------------------------------------------------------


class PersonOut(Schema):
    name: str
    status: str


class ContactOut(Schema):
    id: int
    channel: str
    contact: str = Field(description="Masked: enough for its owner to recognise it.")
    verified: bool
    receiving: bool


class RegistrationDetailOut(Schema):
    registration_id: str
    status: str
    person: PersonOut | None
    language: str
    call_preference: Literal["standard", "gentle", "none"]
    contacts: list[ContactOut]


class RegistrationPatch(Strict):
    language: Literal["en", "es"] | None = None
    call_preference: Literal["standard", "gentle", "none"] | None = Field(
        None, description="standard: the calling schedule; gentle: one call, then a text or email; none: no calls.")
    add_contacts: list[ContactSchema] | None = Field(
        None, max_length=3, description="Each gets a one-time code; nothing else is sent to it until confirmed.")
    remove_contacts: list[Value] | None = Field(None, max_length=3, description="Contact values to take off.")
    pin: Annotated[str, StringConstraints(strip_whitespace=True, max_length=8)] | None = Field(
        None, description="4 digits; needed with a first number for calls.")


class AttemptOut(Schema):
    number: int
    started_at: datetime
    outcome: str


class MessageOut(Schema):
    event_type: str
    template: str
    channel: str
    contact: str
    queued_at: datetime
    status: str
    handed_over_at: datetime | None
    delivered_at: datetime | None
    confirmed_at: datetime | None
    confirmed_by: str
    attempts: list[AttemptOut]
    reached: bool  # delivered, or for email accepted by her mail server: the rule every view of vinex uses


class MessagesOut(Schema):
    notifications: list[MessageOut]


def _detail(registration: Registration, actor: Actor) -> dict[str, Any]:
    view = registration_view(registration=registration, actor=actor, purpose="manage token")
    return {
        **_out(registration),
        "person": {"name": view.person.name, "status": view.person.status} if view.person else None,
        "language": view.language,
        "call_preference": view.call_preference,
        "contacts": [{"id": c.id, "channel": c.channel, "contact": c.masked, "verified": c.verified,
                      "receiving": c.receiving} for c in view.contacts],
    }


@router.get("/registrations/{registration_id}", response={200: RegistrationDetailOut, **_MANAGE_ERRORS},
            summary="See a registration (Authorization: Bearer <manage token>)", openapi_extra=_MANAGE_TOKEN)
def registrations_get(request: HttpRequest, registration_id: str) -> Any:
    """Status, the person followed, language, call preference and the contacts (masked)."""
    registration = _owned(request, registration_id)
    if registration is None:
        return _unauthenticated()
    return Status(200, _detail(registration, _owner(registration)))


@router.patch("/registrations/{registration_id}",
              response={200: RegistrationDetailOut, **_MANAGE_ERRORS, 409: ErrorResponse},
              summary="Change a registration (Authorization: Bearer <manage token>)", openapi_extra=_MANAGE_TOKEN)
def registrations_patch(request: HttpRequest, registration_id: str, data: RegistrationPatch) -> Any:
    """Change the language or call preference, add contacts (each confirmed by its code before use) or
    remove them. All of it happens, or none of it (422 says why)."""
    registration = _owned(request, registration_id)
    if registration is None:
        return _unauthenticated()
    if registration.status != RegistrationStatus.ACTIVE:
        return _error(409, ["path", "registration_id"], "only an active registration can change", "not_active")
    actor = _owner(registration)
    try:
        with transaction.atomic():
            _patch_apply(registration, data, actor)
    except RegistrationInvalid as invalid:
        return _invalid(invalid.errors)
    registration.refresh_from_db()
    return Status(200, _detail(registration, actor))


def _patch_apply(registration: Registration, data: RegistrationPatch, actor: Actor) -> None:
    for index, contact in enumerate(data.add_contacts or []):
        try:
            registration_contact_add(registration=registration, channel=contact.channel, value=contact.value,
                                     pin=data.pin or "", actor=actor)
        except RegistrationInvalid as invalid:
            raise RegistrationInvalid([FieldError(("add_contacts", index, *e.loc[2:]) if e.loc[0] == "contacts"
                                                  else e.loc, e.msg, e.type) for e in invalid.errors]) from None
    for index, value in enumerate(data.remove_contacts or []):
        found = verifications_for_value(registration=registration, value=value)
        if not found:
            raise RegistrationInvalid([FieldError(("remove_contacts", index), "this contact is not part of the "
                                                  "registration", "unknown_contact")])
        for verification in found:
            registration_contact_remove(registration=registration, verification=verification, actor=actor)
    registration_preferences_update(registration=registration, language=data.language,
                                    call_preference=data.call_preference, actor=actor)


@router.get("/registrations/{registration_id}/notifications", response={200: MessagesOut, **_MANAGE_ERRORS},
            summary="Her message history (Authorization: Bearer <manage token>)", openapi_extra=_MANAGE_TOKEN)
def registrations_notifications(request: HttpRequest, registration_id: str) -> Any:
    """Every message sent to the registration's contacts, newest first: event type, when, channel, status,
    when it was handed over, delivered and confirmed (a PIN or a text reply)."""
    registration = _owned(request, registration_id)
    if registration is None:
        return _unauthenticated()
    messages = registration_history(registration=registration, actor=_owner(registration), purpose="manage token")
    return Status(200, {"notifications": [{
        "event_type": m.event_type, "template": m.template, "channel": m.channel, "contact": m.contact,
        "queued_at": m.queued_at, "status": m.status, "handed_over_at": m.handed_over_at,
        "delivered_at": m.delivered_at, "confirmed_at": m.confirmed_at, "confirmed_by": m.confirmed_by,
        "attempts": [{"number": a.number, "started_at": a.started_at, "outcome": a.outcome} for a in m.attempts],
        "reached": m.reached,
    } for m in messages]})
