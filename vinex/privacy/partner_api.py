"""Custody reads for partner agencies: a subject lookup and a population export, both under sharing policies.

The caller is an agency API key with the ``custody:read`` scope, which ``vinex apikey create`` grants only
when asked. Every request states its purpose; the owning agency's sharing policy decides (see
``vinex.policy.sharing``). Nothing here can return a victim's data: the selectors read custody tables only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any

from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from ninja import Query, Router, Schema
from pydantic import ConfigDict, StringConstraints, field_validator, model_validator

from vinex.custody.api import AgencyKey, require_scope
from vinex.custody.models import Agency, ApiKey
from vinex.custody.schemas import ErrorResponse, normalise_a_number
from vinex.locator.api import A_NUMBER_PATTERN, NOT_BLANK, Documented
from vinex.policy.disclosure import Disclosure, DisclosureDenied
from vinex.policy.sharing import Purpose
from vinex.privacy.partner import PartnerLookup, partner_population_export, partner_subjects_find

router = Router(tags=["partner agencies"])

Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NOT_BLANK]
ANumberTerm = Annotated[Term, Documented(f"^{A_NUMBER_PATTERN}$")]
EXPORT_COLUMNS = ("agency_code", "agency_subject_id", "booking_number", "name", "date_of_birth", "status",
                  "status_changed_at", "facility_name")


class PartnerSubjectParams(Schema):
    """An A-number (searched across agencies), or an agency with its subject id or booking number."""

    model_config = ConfigDict(extra="forbid")

    purpose: Purpose
    a_number: ANumberTerm | None = None
    agency: Term | None = None
    agency_subject_id: Term | None = None
    booking_number: Term | None = None

    @field_validator("a_number")
    @classmethod
    def _a_number(cls, value: str | None) -> str | None:
        return normalise_a_number(value) if value else None

    @model_validator(mode="after")
    def _one_identifier(self) -> PartnerSubjectParams:
        by_agency = bool(self.agency and (self.agency_subject_id or self.booking_number))
        if not self.a_number and not by_agency:
            raise ValueError("give a_number, or agency with agency_subject_id or booking_number")
        return self

    def lookup(self) -> PartnerLookup:
        return PartnerLookup(a_number=self.a_number or "", agency_code=(self.agency or "").lower(),
                             agency_subject_id=self.agency_subject_id or "", booking_number=self.booking_number or "")


class PurposeParams(Schema):
    model_config = ConfigDict(extra="forbid")

    purpose: Purpose


class PartnerSubjectOut(Schema):
    agency_code: str
    agency_name: str
    agency_subject_id: str
    booking_number: str
    name: str
    date_of_birth: date | None
    status: str
    status_changed_at: datetime | None
    facility_name: str | None


class PartnerSubjectsOut(Schema):
    results: list[PartnerSubjectOut]


def _forbidden(message: str, loc: list[str] | None = None) -> JsonResponse:
    return JsonResponse({"detail": [{"loc": loc or [], "msg": message, "type": "forbidden"}]}, status=403)


def _purpose_refused(key: ApiKey, purpose: Purpose) -> JsonResponse | None:
    """A 403 when ``key`` was not issued for ``purpose``: a partner's purpose is what it was granted, not
    whatever it states."""
    if purpose.value in key.purposes:
        return None
    return _forbidden(f"this API key is not issued for the purpose {purpose.value!r}", ["query", "purpose"])


@router.get(
    "/partner/subjects",
    auth=AgencyKey(),
    response={200: PartnerSubjectsOut, 401: ErrorResponse, 403: ErrorResponse, 422: ErrorResponse},
    summary="Look up a person in another agency's custody",
)
def partner_subjects_get(request: HttpRequest, params: Query[PartnerSubjectParams]) -> Any:
    """Custody status of matching subjects that the owning agencies share with the caller for ``purpose``.

    A subject whose agency does not share with the caller (or for this purpose), or who is protected, is
    absent from the results exactly as if unknown; the refusal is audited and counted for the agency.
    """
    key = require_scope(request, "custody:read")
    if refused := _purpose_refused(key, params.purpose):
        return refused
    views = partner_subjects_find(partner=key.agency, purpose=params.purpose, lookup=params.lookup())
    return {"results": [{name: view.get(name) for name in PartnerSubjectOut.model_fields} for view in views]}


# A spreadsheet opening the export runs a cell that starts with one of these as a formula: a name an
# agency's system holds (or a roster row someone typed) must stay text, so such a cell gets a leading '.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return f"'{value}"
    return value


def _csv_rows(views: Iterator[Disclosure]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for view in views:
        writer.writerow([_csv_value(view.get(c)) for c in EXPORT_COLUMNS])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@router.get(
    "/partner/agencies/{agency_code}/population.csv",
    auth=AgencyKey(),
    response={200: None, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 422: ErrorResponse},
    summary="Export who an agency holds now (CSV)",
    openapi_extra={"responses": {200: {"description": "CSV, one row per person held",
                                         "content": {"text/csv": {"schema": {"type": "string"}}}}}},
)
def partner_population_get(request: HttpRequest, agency_code: str, params: Query[PurposeParams]) -> Any:
    """Everyone the agency holds now (in custody or on leave), if its sharing policy allows the caller."""
    key = require_scope(request, "custody:read")
    if refused := _purpose_refused(key, params.purpose):
        return refused
    owner = Agency.objects.filter(code=agency_code.lower()).first()
    if owner is None:
        return JsonResponse({"detail": [{"loc": ["path", "agency_code"], "msg": "no such agency",
                                         "type": "not_found"}]}, status=404)
    try:
        views = partner_population_export(partner=key.agency, purpose=params.purpose, owner=owner)
    except DisclosureDenied as denied:
        return _forbidden(denied.reason)
    response = StreamingHttpResponse(_csv_rows(views), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{owner.code}-population.csv"'
    return response

