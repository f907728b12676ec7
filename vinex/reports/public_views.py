"""The public reports page (``/reports/``, EN/ES): approved reports only, as HTML, PDF and CSV."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from vinex.reports.files import file_response
from vinex.reports.selectors import published_report, report_file, report_file_names, reports_published


@require_GET
def reports(request: HttpRequest) -> HttpResponse:
    published = [{"report": r, "tables": [n.removeprefix("tables/").removesuffix(".csv")
                                          for n in report_file_names(report=r) if n.startswith("tables/")]}
                 for r in reports_published()]
    return render(request, "reports/public_list.html", {"published": published})


@require_GET
def report_file_public(request: HttpRequest, quarter: str, name: str) -> HttpResponse:
    report = published_report(quarter=quarter)
    content = report_file(report=report, name=name) if report is not None else None
    if content is None:
        raise Http404("no published report file")
    return file_response(name, content)
