"""Validation of custody events at the API edge (pydantic, through django-ninja)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import cache
from typing import Annotated, Any, Literal

from babel import Locale
from django.utils import timezone
from ninja import Schema
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from vinex.custody.models import EventType, ReleaseReason

# Clock skew we tolerate between an agency's system and ours before calling an event "in the future".
FUTURE_TOLERANCE = timedelta(minutes=10)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]


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
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        # PostgreSQL cannot store NUL, and no name or identifier legitimately holds control characters.
        if isinstance(value, str) and any(ord(c) < 32 for c in value):
            raise ValueError("control characters are not allowed")
        return value


class IdentifiersIn(StrictSchema):
    a_number: ANumber | None = None
    fbi_number: Identifier | None = None
    state_id: Identifier | None = None
    booking_number: Identifier | None = None


class SubjectIn(StrictSchema):
    agency_subject_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    first_name: Text
    last_name: Text
    date_of_birth: date | None = None
    country_of_birth: Country | None = None
    identifiers: IdentifiersIn | None = None

    @model_validator(mode="after")
    def _born_in_the_past(self) -> SubjectIn:
        if self.date_of_birth and self.date_of_birth > timezone.now().date():
            raise ValueError("date_of_birth is in the future")
        return self


class EventIn(StrictSchema):
    event_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
    type: EventType
    occurred_at: AwareDatetime
    subject: SubjectIn
    facility_code: Code
    to_facility_code: Code | None = None
    reason: ReleaseReason | None = None
    scheduled_for: AwareDatetime | None = None
    hearing_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None = None
    court_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    corrects_event_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)] | None = None

    @model_validator(mode="after")
    def _fields_the_type_needs(self) -> EventIn:
        if self.occurred_at > timezone.now() + FUTURE_TOLERANCE:
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
