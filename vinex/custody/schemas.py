"""Validation of custody events at the API edge (pydantic, through django-ninja)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Annotated, Any, Literal

from babel import Locale
from ninja import Schema
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
    model_validator,
)
from pydantic_core import CoreSchema, core_schema

from vinex.custody.models import EventType, ReleaseReason

# Clock skew we tolerate between an agency's system and ours before calling an event "in the future".
FUTURE_TOLERANCE = timedelta(minutes=10)


class _NoControlCharacters:
    """Refuses control characters, after the field's own constraints, with the error a ValueError gives.

    PostgreSQL cannot store NUL, and no name or identifier legitimately holds control characters. The
    check runs inside pydantic-core: a Python validator per string field cost more than the rest of a
    batch's validation.
    """

    _check = core_schema.custom_error_schema(
        core_schema.str_schema(pattern=r"^[^\x00-\x1f]*$"),
        custom_error_type="value_error",
        custom_error_context={"error": "control characters are not allowed"},
    )

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.chain_schema([handler(source), self._check])


NO_CONTROL_CHARACTERS = _NoControlCharacters()


def _bounds(max_length: int, min_length: int = 1) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


# Stripped strings of bounded length without control characters.
Text = Annotated[str, _bounds(100), NO_CONTROL_CHARACTERS]
Code = Annotated[str, _bounds(32), NO_CONTROL_CHARACTERS]
Identifier = Annotated[str, _bounds(32), NO_CONTROL_CHARACTERS]
SubjectId = Annotated[str, _bounds(64), NO_CONTROL_CHARACTERS]
EventId = Annotated[str, _bounds(128), NO_CONTROL_CHARACTERS]
EventRef = Annotated[str, _bounds(128, min_length=0), NO_CONTROL_CHARACTERS]
HearingId = Annotated[str, _bounds(64), NO_CONTROL_CHARACTERS]
CourtName = Annotated[str, _bounds(200, min_length=0), NO_CONTROL_CHARACTERS]


@cache
def iso_country_codes() -> frozenset[str]:
    # Babel's territory list holds ISO 3166-1 alpha-2 codes plus CLDR groupings we must not accept.
    not_countries = {"EU", "EZ", "UN", "QO", "ZZ"}
    codes = (str(c) for c in Locale("en").territories)
    return frozenset(c for c in codes if len(c) == 2 and c.isalpha() and c not in not_countries)


def normalise_a_number(value: str) -> str:
    digits = re.sub(r"[\s-]", "", value).upper().removeprefix("A")
    if not re.fullmatch(r"\d{9}", digits):
        raise ValueError("a_number must be 9 digits (an A prefix, spaces and dashes are allowed)")
    return digits


def normalise_country(value: str) -> str:
    code = value.strip().upper()
    if code not in iso_country_codes():
        raise ValueError("country_of_birth must be an ISO 3166-1 alpha-2 code such as MX or US")
    return code


ANumber = Annotated[str, AfterValidator(normalise_a_number)]
Country = Annotated[str, AfterValidator(normalise_country)]


class StrictSchema(BaseModel):
    # Plain pydantic, not ninja.Schema: ninja's Django-object adapter costs more than the validation
    # itself, and a batch validates up to 10,000 of these.
    # Every free-text field is declared with NO_CONTROL_CHARACTERS (the a_number and country validators
    # accept only digits and ISO codes, so they cannot carry one either).
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IdentifiersIn(StrictSchema):
    a_number: ANumber | None = None
    fbi_number: Identifier | None = None
    state_id: Identifier | None = None
    booking_number: Identifier | None = None


class SubjectContactIn(StrictSchema):
    """A phone number or email the agency holds for the person (kept only as a blind index, see
    vinex.custody.contacts, to notice someone registering to follow themselves)."""

    kind: Literal["phone", "email"]
    value: Annotated[str, _bounds(254), NO_CONTROL_CHARACTERS]


class SubjectIn(StrictSchema):
    agency_subject_id: SubjectId
    first_name: Text
    last_name: Text
    date_of_birth: date | None = None
    country_of_birth: Country | None = None
    identifiers: IdentifiersIn | None = None
    contacts: list[SubjectContactIn] | None = Field(None, max_length=5)

    @model_validator(mode="after")
    def _born_in_the_past(self) -> SubjectIn:
        # datetime.now(UTC) is django.utils.timezone.now() (USE_TZ is on) without its settings lookup.
        if self.date_of_birth and self.date_of_birth > datetime.now(UTC).date():
            raise ValueError("date_of_birth is in the future")
        return self


class EventIn(StrictSchema):
    event_id: EventId
    type: EventType
    occurred_at: AwareDatetime
    subject: SubjectIn
    facility_code: Code
    to_facility_code: Code | None = None
    reason: ReleaseReason | None = None
    scheduled_for: AwareDatetime | None = None
    hearing_id: HearingId | None = None
    court_name: CourtName | None = None
    corrects_event_id: EventRef | None = None

    @model_validator(mode="after")
    def _fields_the_type_needs(self) -> EventIn:
        if self.occurred_at > datetime.now(UTC) + FUTURE_TOLERANCE:
            raise ValueError("occurred_at is in the future")
        if self.type == EventType.TRANSFERRED:
            if not self.to_facility_code:
                raise ValueError("a TRANSFERRED event needs to_facility_code")
            if self.to_facility_code == self.facility_code:
                raise ValueError("to_facility_code must differ from facility_code")
        elif self.to_facility_code:
            raise ValueError("to_facility_code is only for TRANSFERRED events")
        if self.type == EventType.RELEASE_SCHEDULED and not self.scheduled_for:
            raise ValueError("a RELEASE_SCHEDULED event needs scheduled_for")
        needs_date = self.type in (EventType.HEARING_SCHEDULED, EventType.HEARING_RESCHEDULED)
        if needs_date and not (self.hearing_id and self.scheduled_for):
            raise ValueError(f"a {self.type} event needs hearing_id and scheduled_for")
        if self.type == EventType.HEARING_CANCELLED and not self.hearing_id:
            raise ValueError("a HEARING_CANCELLED event needs hearing_id")
        if self.reason and self.type != EventType.RELEASED:
            raise ValueError("reason is only for RELEASED events")
        return self


class ErrorDetail(Schema):
    loc: list[str | int]
    msg: str
    type: str


class ErrorResponse(Schema):
    detail: list[ErrorDetail]


class EventBatchIn(Schema):
    # Items are validated one by one in the service layer so one bad item never rejects the batch.
    events: list[Any] = Field(..., max_length=10_000)


class EventBatchDoc(Schema):
    """The documented shape of a batch (what EventBatchIn accepts item by item)."""

    events: list[EventIn] = Field(..., max_length=10_000)


class EventResult(Schema):
    event_id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    errors: list[ErrorDetail]


class EventBatchOut(Schema):
    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult]
