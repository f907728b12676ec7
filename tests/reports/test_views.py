"""Staff generate, read and approve; the public sees approved reports only (EN/ES)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.accounts.helpers import staff_client
from tests.reports.fixtures import current_quarter, quarter_of_activity
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency
from vinex.reports.models import QuarterlyReport, ReportStatus

pytestmark = pytest.mark.django_db


def generate(officer: Client, quarter: str) -> QuarterlyReport:
    response = officer.post("/staff/reports/", {"quarter": quarter})
    assert response.status_code == 302
    report = QuarterlyReport.objects.latest("pk")
    assert response["Location"] == f"/staff/reports/{report.pk}/"
    return report


def test_an_officer_generates_reads_and_approves_and_the_public_then_sees_it(agency: Agency) -> None:
    quarter = str(current_quarter())
    officer, user = staff_client("pat", "privacy_officer")
    public = Client()
    report = generate(officer, quarter)
    assert report.status == ReportStatus.DRAFT and report.publishable

    draft = officer.get(f"/staff/reports/{report.pk}/").content.decode()
    assert "Approve and publish" in draft and "report.pdf" in draft
    html = officer.get(f"/staff/reports/{report.pk}/files/report.html")
    assert html.status_code == 200 and "Small numbers are withheld" in html.content.decode()
    # Nothing unapproved is public: not listed, not downloadable.
    assert f"Report {quarter}" not in public.get("/reports/").content.decode()
    assert public.get(f"/reports/{quarter}/report.pdf").status_code == 404

    assert officer.post(f"/staff/reports/{report.pk}/approve/").status_code == 302
    report.refresh_from_db()
    assert report.status == ReportStatus.APPROVED and report.approved_by == f"user:{user.pk}"
    assert AuditEntry.objects.filter(actor=f"user:{user.pk}", action="approve", object_type="quarterly_report",
                                     object_id=str(report.pk)).exists()

    listing = public.get("/reports/").content.decode()
    assert f"Report {quarter}" in listing and f"/reports/{quarter}/report.pdf" in listing
    assert f"/reports/{quarter}/tables/events_by_agency_type.csv" in listing
    pdf = public.get(f"/reports/{quarter}/report.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    csv = public.get(f"/reports/{quarter}/tables/events_by_agency_type.csv")
    assert csv.status_code == 200 and csv.content.startswith(b",BOOKED,")
    page = public.get(f"/reports/{quarter}/report.html").content.decode()
    chart = public.get(f"/reports/{quarter}/charts/events_by_type.png")
    assert 'src="charts/events_by_type.png"' in page and chart["Content-Type"] == "image/png"

    spanish = Client(HTTP_ACCEPT_LANGUAGE="es").get("/reports/").content.decode()
    assert "Informes trimestrales" in spanish and f"Informe {quarter}" in spanish
    assert "Descargar el informe (PDF)" in spanish


def test_a_report_that_failed_its_checks_cannot_be_approved(agency: Agency, other_agency: Agency) -> None:
    activity = quarter_of_activity(agency, other_agency)  # late and rejected events: over the limit
    officer, _ = staff_client("pat", "privacy_officer")
    report = generate(officer, str(activity.quarter))
    assert not report.publishable
    draft = officer.get(f"/staff/reports/{report.pk}/").content.decode()
    assert "Not publishable" in draft and "Approve and publish" not in draft
    officer.post(f"/staff/reports/{report.pk}/approve/")
    report.refresh_from_db()
    assert report.status == ReportStatus.DRAFT
    assert Client().get(f"/reports/{activity.quarter}/report.pdf").status_code == 404


def test_the_checks_limit_is_a_setting(agency: Agency, other_agency: Agency, settings) -> None:
    settings.VINEX_REPORT_MAX_PROBLEM_SHARE = 0.5
    activity = quarter_of_activity(agency, other_agency)
    officer, _ = staff_client("pat", "privacy_officer")
    assert generate(officer, str(activity.quarter)).publishable


def test_a_bad_quarter_is_explained_on_the_page(agency: Agency) -> None:
    officer, _ = staff_client("pat", "privacy_officer")
    response = officer.post("/staff/reports/", {"quarter": "2026Q5"})
    assert response.status_code == 422 and "is not a quarter" in response.content.decode()
    assert not QuarterlyReport.objects.exists()


def test_auditors_read_but_cannot_generate_or_approve(agency: Agency) -> None:
    officer, _ = staff_client("pat", "privacy_officer")
    report = generate(officer, str(current_quarter()))
    auditor, _ = staff_client("ada", "auditor")
    assert auditor.get("/staff/reports/").status_code == 200
    assert "Approve and publish" not in auditor.get(f"/staff/reports/{report.pk}/").content.decode()
    assert auditor.post("/staff/reports/", {"quarter": "2026Q3"}).status_code == 403
    assert auditor.post(f"/staff/reports/{report.pk}/approve/").status_code == 403
    report.refresh_from_db()
    assert report.status == ReportStatus.DRAFT
    operator, _ = staff_client("olu", "call_centre")
    assert operator.get("/staff/reports/").status_code == 403
