"""Field corrections from a report of wrong data: the original stays in the history, everyone the wrong
detail misled is told, and so is the agency's feed contact; all audited."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.accounts.helpers import staff_client
from tests.actors import ACTOR
from tests.conftest import event
from tests.factories import subscribe
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency, Subject
from vinex.feeds.services import feed_alert_recipient_add
from vinex.locator.selectors import subject_ref_make
from vinex.notify.models import Notification, Registrant
from vinex.privacy.corrections import CorrectionInvalid, subject_field_correct
from vinex.privacy.models import DataReport, FieldCorrection, ReportStatus

pytestmark = pytest.mark.django_db


def push(api: Client, *events: dict[str, object]) -> None:
    response = api.post("/api/v1/custody-events", {"events": list(events)}, content_type="application/json")
    assert response.json()["accepted"] == len(events)


@pytest.fixture
def told(api: Client, agency: Agency) -> Subject:
    """Robin Quill booked then moved to the annex; two victims were told (a third has since withdrawn)."""
    push(api, event("b1", "BOOKED"))
    subscribe(agency, "S-1", email="first@example.org")
    subscribe(agency, "S-1", sms="+12025550143", language="es")
    gone = subscribe(agency, "S-1", email="gone@example.org")
    transfer = event("t1", "TRANSFERRED", minutes=5)
    transfer["to_facility_code"] = "annex"
    push(api, transfer)
    Notification.objects.update(status="delivered")
    Registrant.objects.filter(pk=gone.pk).update(withdrawn_at="2026-01-01T00:00:00Z")
    feed_alert_recipient_add(value="records@pine.example.gov", actor=ACTOR, agency=agency)
    return Subject.objects.get(agency=agency, agency_subject_id="S-1")


def test_a_wrong_name_is_corrected_from_a_report_with_everyone_told(told: Subject) -> None:
    reported = Client().post("/api/v1/data-reports", {
        "subject_ref": subject_ref_make(person_id=told.person_id), "topic": "identity",
        "details": "His name is Quinn, not Quill."}, content_type="application/json")
    report_id = reported.json()["report_id"]
    officer, user = staff_client("pat", "privacy_officer")

    page = officer.get(f"/staff/privacy/reports/{report_id}/").content.decode()
    decided = officer.post(f"/staff/privacy/reports/{report_id}/", {
        "decision": "correct_field", "subject": told.pk, "field": "last_name", "value": "Quinn"})

    assert "Or correct a detail" in page and decided.status_code == 302
    told.refresh_from_db()
    assert told.last_name == "Quinn" and told.name_key.endswith("|quinn")
    [correction] = FieldCorrection.objects.all()
    assert (correction.original, correction.corrected, correction.field) == ("Quill", "Quinn", "last_name")
    assert correction.provenance == f"data report {report_id}" and correction.corrected_by == f"user:{user.pk}"
    assert DataReport.objects.get(public_id=report_id).status == ReportStatus.CORRECTED
    notices = Notification.objects.filter(template="field_correction")
    assert sorted(n.contact.value for n in notices) == ["+12025550143", "first@example.org"]  # not the withdrawn
    assert "una persona por la que se registró" in notices.get(channel="sms").body
    assert all("Quill" not in n.body and "Quinn" not in n.body for n in notices)
    [agency_notice] = Notification.objects.filter(template="agency_record_corrected")
    assert agency_notice.contact.value == "records@pine.example.gov" and "S-1" in agency_notice.body
    assert (correction.recipients_told, correction.agency_contacts_told) == (2, 1)
    audited = AuditEntry.objects.filter(actor=f"user:{user.pk}")
    assert audited.filter(action="correct_field", object_id=str(told.pk)).exists()
    assert audited.filter(action="correction_notice", object_type="contact").count() == 2
    assert audited.filter(action="correction_notice", object_type="feed_alert_recipient").count() == 1
    assert not AuditEntry.objects.filter(purpose__icontains="Quinn").exists()


def test_a_facility_correction_tells_only_those_told_of_that_facility(told: Subject, agency: Agency) -> None:
    correction = subject_field_correct(subject=told, field="facility", value="main", actor=ACTOR,
                                       provenance="the agency confirmed by phone")

    told.refresh_from_db()
    assert told.facility is not None and told.facility.code == "main"
    assert correction.original == "annex"
    assert correction.recipients_told == 2  # the transfer message named the annex


def test_a_date_of_birth_correction_tells_the_agency_only_and_bad_values_change_nothing(told: Subject) -> None:
    correction = subject_field_correct(subject=told, field="date_of_birth", value="1980-02-03", actor=ACTOR,
                                       provenance="court record")

    assert (correction.recipients_told, correction.agency_contacts_told) == (0, 1)
    for field, value in (("date_of_birth", "3 Feb 1980"), ("facility", "nowhere"), ("a_number", "1"),
                         ("last_name", "")):
        with pytest.raises(CorrectionInvalid):
            subject_field_correct(subject=told, field=field, value=value, actor=ACTOR, provenance="x")
    assert FieldCorrection.objects.count() == 1
