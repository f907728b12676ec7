"""Reads of the reports app. Public readers only ever reach approved reports."""

from __future__ import annotations

from django.db.models import QuerySet

from vinex.reports.models import QuarterlyReport, ReportFile, ReportStatus


def reports_list() -> QuerySet[QuarterlyReport]:
    """Every generated report, newest first (staff)."""
    return QuarterlyReport.objects.order_by("-generated_at", "-pk")


def report_get(*, pk: int) -> QuarterlyReport | None:
    return QuarterlyReport.objects.filter(pk=pk).first()


def reports_published() -> list[QuarterlyReport]:
    """The newest approved report of each quarter, newest quarter first."""
    latest: dict[str, QuarterlyReport] = {}
    for report in QuarterlyReport.objects.filter(status=ReportStatus.APPROVED).order_by("-approved_at", "-pk"):
        latest.setdefault(report.quarter, report)
    return [latest[q] for q in sorted(latest, reverse=True)]


def published_report(*, quarter: str) -> QuarterlyReport | None:
    return next((r for r in reports_published() if r.quarter == quarter), None)


def report_file(*, report: QuarterlyReport, name: str) -> bytes | None:
    found = ReportFile.objects.filter(report=report, name=name).values_list("content", flat=True).first()
    return bytes(found) if found is not None else None


def report_file_names(*, report: QuarterlyReport) -> list[str]:
    return list(ReportFile.objects.filter(report=report).order_by("name").values_list("name", flat=True))
