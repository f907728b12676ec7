"""The public endpoint for reporting wrong data about a person found with the locator."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from ninja import Router, Schema, Status
from pydantic import ConfigDict, StringConstraints

from vinex.custody.schemas import ErrorResponse
from vinex.locator.api import NOT_BLANK, too_many_requests
from vinex.locator.ratelimit import address_limit, client_address
from vinex.privacy.models import ReporterKind, ReportTopic
from vinex.privacy.redress import ReportIn, ReportInvalid, data_report_create

router = Router(tags=["registrations"])
logger = logging.getLogger(__name__)


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class DataReportIn(Strict):
    subject_ref: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), NOT_BLANK]
    topic: ReportTopic
    details: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), NOT_BLANK]
    reporter: ReporterKind = ReporterKind.OTHER
    reply_to: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] | None = None
    language: Literal["en", "es"] = "en"


class DataReportOut(Schema):
    report_id: str
    status: str


@router.post("/data-reports", response={202: DataReportOut, 422: ErrorResponse, 429: ErrorResponse},
             summary="Report wrong information about a person")
def data_reports_post(request: HttpRequest, data: DataReportIn) -> Any:
    """Say that what vinex shows or sent about the person a locator result names is wrong.

    A privacy officer checks every report; a wrong record is corrected through a CORRECTION event and
    everyone who received a wrong message gets a correction notice.
    """
    refused = address_limit(request, scope="data-report", rate=settings.VINEX_DATA_REPORT_RATE)
    if refused:
        return too_many_requests(refused)
    try:
        report = data_report_create(
            report=ReportIn(subject_ref=data.subject_ref, topic=data.topic, details=data.details,
                            reporter=data.reporter, reply_to=data.reply_to or "", language=data.language),
            client_address=client_address(request))
    except ReportInvalid as invalid:
        return JsonResponse({"detail": [{"loc": ["body", name], "msg": msg, "type": "invalid"}
                                        for name, msg in invalid.errors.items()]}, status=422)
    logger.info("data report received", extra={"topic": data.topic.value})
    return Status(202, {"report_id": str(report.public_id), "status": report.status})
