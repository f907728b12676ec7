"""Writes of the reports app: generate a quarter's report (files and stored copy), approve it."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from vinex.audit.unit import Actor, audit_unit
from vinex.reports.compute import report_compute
from vinex.reports.models import QuarterlyReport, ReportFile, ReportStatus
from vinex.reports.quarter import Quarter
from vinex.reports.render import files_write


class ApprovalRefused(Exception):
    """The report cannot be approved (already approved, or its data-quality checks failed)."""


def report_generate(*, quarter: Quarter, actor: Actor, out: Path | None = None,
                    now: datetime | None = None) -> QuarterlyReport:
    """Compute the quarter's report, write its files under ``out`` (a temporary directory when None) and
    keep a copy as a draft, which only an approval makes public."""
    now = now or timezone.now()
    computed = report_compute(quarter=quarter)
    if out is None:
        with tempfile.TemporaryDirectory(prefix="vinex-report-") as directory:
            files = files_write(computed=computed, out=Path(directory), generated_at=now)
    else:
        files = files_write(computed=computed, out=out, generated_at=now)
    with transaction.atomic(), audit_unit(actor=actor) as unit:
        report = QuarterlyReport.objects.create(
            quarter=str(quarter), publishable=bool(computed.quality["publishable"]), input_hash=computed.input_hash,
            generated_at=now, generated_by=actor.ref)
        ReportFile.objects.bulk_create(ReportFile(report=report, name=name, content=content)
                                       for name, content in sorted(files.items()))
        unit.add("create", "quarterly_report", report.pk, purpose=f"report {quarter} generated")
    return report


def report_approve(*, report: QuarterlyReport, actor: Actor, now: datetime | None = None) -> QuarterlyReport:
    """Publish a draft: it is listed on the public reports page from now on. Recorded in the audit log."""
    now = now or timezone.now()
    with audit_unit(actor=actor) as unit:
        report = QuarterlyReport.objects.select_for_update().get(pk=report.pk)
        if report.status != ReportStatus.DRAFT:
            raise ApprovalRefused("this report is already approved")
        if not report.publishable:
            raise ApprovalRefused("this report failed its data-quality checks and cannot be published")
        report.status, report.approved_at, report.approved_by = ReportStatus.APPROVED, now, actor.ref
        report.save(update_fields=["status", "approved_at", "approved_by"])
        unit.add("approve", "quarterly_report", report.pk, purpose=f"report {report.quarter} published")
    return report
