"""The staff page for quarterly reports: generate a draft, read it, approve it (``/staff/reports/``).

Privacy officers and administrators write; auditors read (``vinex.accounts.matrix``).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from vinex.accounts.selectors import actor_ref, user_roles
from vinex.audit.unit import Actor
from vinex.reports.files import file_response
from vinex.reports.models import QuarterlyReport
from vinex.reports.quarter import Quarter, QuarterError
from vinex.reports.selectors import report_file, report_file_names, report_get, reports_list
from vinex.reports.services import ApprovalRefused, report_approve, report_generate

WRITERS = ("privacy_officer", "administrator")


def _actor(request: HttpRequest) -> Actor:
    roles = user_roles(user=request.user)
    role = next((r for r in WRITERS if r in roles), "staff")
    return Actor.staff(actor_ref(user=request.user), role)


def _report(pk: int) -> QuarterlyReport:
    report = report_get(pk=pk)
    if report is None:
        raise Http404("no such report")
    return report


@require_http_methods(["GET", "POST"])
def report_list(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        try:
            quarter = Quarter.parse(request.POST.get("quarter", ""))
        except QuarterError as refused:
            error = str(refused)
        else:
            report = report_generate(quarter=quarter, actor=_actor(request))
            messages.info(request, f"Report {quarter} generated as a draft.")
            return redirect("reports-staff-detail", pk=report.pk)
    context = {"reports": reports_list(), "error": error, "quarter": request.POST.get("quarter", "")}
    return render(request, "reports/staff_list.html", context, status=422 if error else 200)


@require_GET
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(pk)
    can_approve = bool(set(WRITERS) & user_roles(user=request.user))
    return render(request, "reports/staff_detail.html", {
        "report": report, "files": report_file_names(report=report), "can_approve": can_approve})


@require_GET
def report_file_view(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    content = report_file(report=_report(pk), name=name)
    if content is None:
        raise Http404("no such file")
    return file_response(name, content)


@require_POST
def report_approve_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        report = report_approve(report=_report(pk), actor=_actor(request))
    except ApprovalRefused as refused:
        messages.error(request, f"Not approved: {refused}.")
        return redirect("reports-staff-detail", pk=pk)
    messages.info(request, f"Report {report.quarter} approved: it is now on the public reports page.")
    return redirect("reports-staff-detail", pk=pk)
