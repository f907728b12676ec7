"""Validation of custody events at the API edge (pydantic, through django-ninja)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from vinex.custody import rules
from vinex.custody.models import EventType, ReleaseReason

# Re-exported for the forms and endpoints that read the same identifiers (locator, portal, partners).
from vinex.custody.rules import NO_CONTROL_CHARACTERS as NO_CONTROL_CHARACTERS
from vinex.custody.rules import iso_country_codes as iso_country_codes
from vinex.custody.rules import normalise_a_number as normalise_a_number
from vinex.custody.rules import normalise_country as normalise_country

# Clock skew we tolerate between an agency's system and ours before calling an event "in the future".
FUTURE_TOLERANCE = timedelta(minutes=10)

# The subject's fields obey the rules rosters obey too (see vinex.custody.rules).
SubjectId = Annotated[str, rules.follows("agency_subject_id")]
FirstName = Annotated[str, rules.follows("first_name")]
LastName = Annotated[str, rules.follows("last_name")]
BookingNumber = Annotated[str, rules.follows("booking_number")]
StateId = Annotated[str, rules.follows("state_id")]
FbiNumber = Annotated[str, rules.follows("fbi_number")]
ANumber = Annotated[str, rules.follows("a_number")]
Country = Annotated[str, rules.follows("country_of_birth")]
BirthDate = Annotated[date, rules.follows("date_of_birth")]

# The event's own text fields: stripped, bounded, without control characters, like the subject's.
Code = Annotated[str, rules.text(32)]
EventId = Annotated[str, rules.text(128)]
EventRef = Annotated[str, rules.text(128, min_length=0)]
HearingId = Annotated[str, rules.text(64)]
CourtName = Annotated[str, rules.text(200, min_length=0)]


class StrictSchema(BaseModel):
    # Plain pydantic, not ninja.Schema: ninja's Django-object adapter costs more than the validation
    # itself, and a batch validates up to 10,000 of these.
    # Every free-text field is declared with the text rules (no control characters; the a_number and
    # country rules accept only digits and ISO codes, so they cannot carry one either).
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IdentifiersIn(StrictSchema):
    a_number: ANumber | None = None
    fbi_number: FbiNumber | None = None
    state_id: StateId | None = None
    booking_number: BookingNumber | None = None


class SubjectContactIn(StrictSchema):
    """A phone number or email the agency holds for the person (kept only as a blind index, see
    vinex.custody.contacts, to notice someone registering to follow themselves)."""

    kind: Literal["phone", "email"]
    value: Annotated[str, rules.text(254)]


class SubjectIn(StrictSchema):
    agency_subject_id: SubjectId
    first_name: FirstName
    last_name: LastName
    date_of_birth: BirthDate | None = None
    country_of_birth: Country | None = None
    identifiers: IdentifiersIn | None = None
    contacts: list[SubjectContactIn] | None = Field(None, max_length=5)


# Types that need no field beyond those every event has (see EventIn._fields_the_type_needs).
_NEEDS_NOTHING_MORE = frozenset(EventType) - {
    EventType.TRANSFERRED, EventType.RELEASE_SCHEDULED, EventType.HEARING_SCHEDULED, EventType.HEARING_RESCHEDULED,
    EventType.HEARING_CANCELLED,
}


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
        kind = self.type
        plain = kind in _NEEDS_NOTHING_MORE and not self.to_facility_code
        if plain and (not self.reason or kind == EventType.RELEASED):
            return self  # most events (bookings, releases): every check below would pass
        if kind == EventType.TRANSFERRED:
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
    status: Literal["accepted", "pending", "duplicate", "rejected"]
    errors: list[ErrorDetail]


class EventBatchOut(Schema):
    accepted: int
    # Recorded but held until the events that explain them arrive (early, not impossible).
    pending: int
    duplicates: int
    rejected: int
    results: list[EventResult]
