"""Stored quarterly reports (every generated file, in the database) and the tally of rejected events."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from vinex.core.constraints import one_of
from vinex.custody.models import Agency


class ReportStatus(models.TextChoices):
    DRAFT = "draft"
    APPROVED = "approved"


class QuarterlyReport(models.Model):
    """One generation of a quarter's report. Only an approved, publishable one is ever public."""

    quarter = models.CharField(max_length=6, help_text="e.g. 2026Q3")
    status = models.CharField(max_length=8, choices=ReportStatus.choices, default=ReportStatus.DRAFT)
    publishable = models.BooleanField(help_text="False when the data-quality checks failed badly.")
    input_hash = models.CharField(max_length=64)
    generated_at = models.DateTimeField()
    generated_by = models.CharField(max_length=64, help_text="The audit log's name for who generated it.")
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=one_of("status", ReportStatus.values), name="report_status_valid"),
            # The database refuses what the service refuses: an unpublishable report is never approved.
            models.CheckConstraint(condition=Q(status=ReportStatus.DRAFT) | Q(publishable=True),
                                   name="report_approved_is_publishable"),
        ]
        indexes = [models.Index(fields=["status", "quarter"])]

    def __str__(self) -> str:
        return f"report {self.quarter} #{self.pk} ({self.status})"


class ReportFile(models.Model):
    """One file of a generated report, byte for byte as written to its directory."""

    report = models.ForeignKey(QuarterlyReport, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=100, help_text="Path inside the report directory, e.g. tables/x.csv")
    content = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "name"], name="report_file_unique")]

    def __str__(self) -> str:
        return f"{self.name} of report {self.report_id}"


class EventRejection(models.Model):
    """How many of an agency's events were rejected in one batch (nothing else keeps rejected items)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["at"])]

    def __str__(self) -> str:
        return f"{self.count} rejected events of agency {self.agency_id}"
