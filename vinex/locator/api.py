"""``GET /api/v1/locator``: the public, rate-limited, exact-match locator."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Query, Router, Schema
from pydantic import ConfigDict, GetJsonSchemaHandler, StringConstraints, field_validator, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from vinex.custody.rules import WHITESPACE
from vinex.custody.schemas import ErrorResponse, iso_country_codes, normalise_a_number, normalise_country
from vinex.locator.ratelimit import RetryAfter, client_address, request_limits
from vinex.locator.selectors import (
    ByANumber,
    ByBooking,
    ByName,
    LocatorQuery,
    LocatorResult,
    locator_actor,
    locator_search_public,
)

router = Router(tags=["locator"])
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Documented:
    """Pydantic metadata: publishes ``pattern`` in the OpenAPI document for a field whose validator (a
    normaliser) accepts exactly the strings that match it, so clients and fuzzers see the real rule."""

    pattern: str

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


# For a stripped field that must not be empty: some character that is not whitespace (a value of spaces
# strips to nothing and is refused, though its raw length would pass ``minLength``).
NOT_BLANK = Documented(r"\S")


def _chars(characters: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in characters)


_SPACE = f"[{_chars(WHITESPACE)}]*"
_SEPARATOR = f"[{_chars(WHITESPACE)}\\-]*"
# normalise_a_number: 9 digits after an optional A, with spaces and dashes anywhere.
A_NUMBER_PATTERN = f"{_SEPARATOR}[Aa]?(?:{_SEPARATOR}[0-9]){{9}}{_SEPARATOR}"


def _country_pattern() -> str:
    """normalise_country: an ISO 3166-1 alpha-2 code in any case, spelled out letter by letter."""
    codes = sorted(iso_country_codes())
    firsts = sorted({code[0] for code in codes})
    seconds = {first: "".join(c[1] + c[1].lower() for c in codes if c[0] == first) for first in firsts}
    return f"{_SPACE}(?:{'|'.join(f'[{f}{f.lower()}][{seconds[f]}]' for f in firsts)}){_SPACE}"


COUNTRY_PATTERN = _country_pattern()

Term = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
# A blank term is no term: the search it belongs to is incomplete.
ANumberTerm = Annotated[Term, Documented(f"^(?:{_SPACE}|{A_NUMBER_PATTERN})$")]
CountryTerm = Annotated[Term, Documented(f"^(?:{_SPACE}|{COUNTRY_PATTERN})$")]


class LocatorParams(Schema):
    """One of three searches; each needs every one of its fields."""

    model_config = ConfigDict(extra="forbid")

    a_number: ANumberTerm | None = None
    country_of_birth: CountryTerm | None = None
    first_name: Term | None = None
    last_name: Term | None = None
    date_of_birth: date | None = None
    agency: Term | None = None
    booking_number: Term | None = None

    @field_validator("a_number")
    @classmethod
    def _a_number(cls, value: str | None) -> str | None:
        return normalise_a_number(value) if value else None

    @field_validator("country_of_birth")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return normalise_country(value) if value else None

    @model_validator(mode="after")
    def _one_complete_search(self) -> LocatorParams:
        self.query()
        return self

    def query(self) -> LocatorQuery:
        if self.a_number and self.country_of_birth:
            return ByANumber(self.a_number, self.country_of_birth)
        if self.first_name and self.last_name and self.country_of_birth:
            return ByName(self.first_name, self.last_name, self.country_of_birth, self.date_of_birth)
        if self.agency and self.booking_number and (self.last_name or self.date_of_birth):
            # Booking numbers are often sequential: the last name or date of birth stops counting through them.
            return ByBooking(self.agency.lower(), self.booking_number, self.last_name or "", self.date_of_birth)
        raise ValueError(
            "search by a_number and country_of_birth, by first_name, last_name and country_of_birth "
            "(date_of_birth optional), or by agency and booking_number with last_name or date_of_birth"
        )


class FacilityOut(Schema):
    name: str
    address: str
    phone: str


class ResultOut(Schema):
    name: str
    status: str
    facility: FacilityOut | None
    subject_ref: str


class LocatorOut(Schema):
    results: list[ResultOut]


def too_many_requests(refused: RetryAfter) -> HttpResponse:
    """The 429 answer, in the API's one error shape, with Retry-After."""
    body = {"detail": [{"loc": [], "msg": f"too many searches; try again in {refused.seconds} seconds",
                        "type": "rate_limited"}]}
    return JsonResponse(body, status=429, headers={"Retry-After": str(refused.seconds)})


def _out(result: LocatorResult) -> dict[str, Any]:
    facility = result.facility
    return {
        "name": result.name,
        "status": result.status,
        "facility": None if facility is None else {"name": facility.name, "address": facility.address,
                                                   "phone": facility.phone},
        "subject_ref": result.subject_ref,
    }


@router.get(
    "/locator",
    response={200: LocatorOut, 422: ErrorResponse, 429: ErrorResponse},
    summary="Find where a person in custody is",
)
def locator_get(request: HttpRequest, params: Query[LocatorParams]) -> Any:
    """Exact-match search; returns only name, status, current facility and a ``subject_ref`` to register with.

    Nothing distinguishes a person vinex may not show (a minor, a protected person, someone released
    long ago) from one it has never heard of. The search terms are never logged.
    """
    refused = request_limits(request, scope="locator", address_rate=settings.VINEX_LOCATOR_RATE,
                             session_rate=settings.VINEX_LOCATOR_SESSION_RATE)
    if refused:
        logger.info("locator search refused", extra={"retry_after": refused.seconds})
        return too_many_requests(refused)
    query = params.query()
    results = locator_search_public(query=query, actor=locator_actor(client_address(request)), via="api")
    logger.info("locator search", extra={"kind": type(query).__name__, "results": len(results)})
    return {"results": [_out(r) for r in results]}
