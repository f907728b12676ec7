"""The public page for reporting wrong data about a person found with the locator (EN/ES, no sign-in)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from vinex.locator.ratelimit import client_address
from vinex.portal.views import active_language, person_form_step
from vinex.privacy.forms import DataReportForm
from vinex.privacy.redress import ReportIn, ReportInvalid, data_report_create

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    """Anyone who found a person may say their record is wrong; a privacy officer answers."""
    step = person_form_step(request, DataReportForm, "privacy/report.html", scope="data-report",
                        rate=settings.VINEX_DATA_REPORT_RATE)
    if step.answer is not None:
        return step.answer
    form, followed = step.form, step.followed
    data = form.cleaned_data
    try:
        data_report_create(report=ReportIn(subject_ref=data["ref"], topic=data["topic"], details=data["details"],
                                           reporter=data["reporter"], reply_to=data["reply_to"],
                                           language=active_language()),
                           client_address=client_address(request))
    except ReportInvalid as invalid:
        for name, message in invalid.errors.items():
            form.add_error(name if name in form.fields and name != "ref" else None, message)
        expired = "subject_ref" in invalid.errors
        return render(request, "privacy/report.html", {"form": form, "followed": followed, "ref_expired": expired},
                      status=422)
    logger.info("data report received", extra={"topic": data["topic"]})
    return render(request, "privacy/report_sent.html", {"followed": followed})
