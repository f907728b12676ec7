"""Redress: a report of wrong data reaches a privacy officer, who corrects the record (those told get a
correction notice) or closes the report with a reason; every step is audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from tests.accounts.helpers import staff_client
from tests.actors import ACTOR
from tests.conftest import event
from tests.factories import subscribe
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency, CustodyEvent, Subject
from vinex.locator.selectors import subject_ref_make
from vinex.notify.models import Notification
from vinex.privacy.models import DataReport, ReportStatus
from vinex.privacy.retention import retention_purge

pytestmark = pytest.mark.django_db


@pytest.fixture
def wrongly_released(api: Client, agency: Agency) -> Subject:
    """Booked, a victim follows, then a RELEASED that the agency sent by mistake (the victim was told)."""
    api.post("/api/v1/custody-events", {"events": [event("b1", "BOOKED")]}, content_type="application/json")
    subscribe(agency, "S-1", email="victim@example.org")
    response = api.post("/api/v1/custody-events", {"events": [event("r1", "RELEASED", minutes=10)]},
                        content_type="application/json")
    assert response.json()["accepted"] == 1
    subject = Subject.objects.get(agency=agency, agency_subject_id="S-1")
    assert subject.status == "RELEASED"
    return subject


def report(subject: Subject, **overrides: Any) -> Any:
    body = {"subject_ref": subject_ref_make(person_id=subject.person_id), "topic": "status",
            "details": "He is still in the jail, I called them.", "reporter": "registrant", **overrides}
    return Client().post("/api/v1/data-reports", body, content_type="application/json")


def test_a_wrong_release_is_corrected_and_the_victim_told(wrongly_released: Subject) -> None:
    response = report(wrongly_released, reply_to="victim@example.org")
    assert response.status_code == 202
    report_id = response.json()["report_id"]
    officer, _ = staff_client("pat", "privacy_officer")

    queue = officer.get("/staff/privacy/reports/").content.decode()
    page = officer.get(f"/staff/privacy/reports/{report_id}/").content.decode()
    wrong = CustodyEvent.objects.get(event_id="r1")
    decided = officer.post(f"/staff/privacy/reports/{report_id}/",
                           {"decision": "correct", "event": wrong.pk, "note": "agency confirmed"})

    assert "The custody status is wrong" in queue
    assert "He is still in the jail, I called them." in page and "victim@example.org" in page
    assert decided.status_code == 302
    wrongly_released.refresh_from_db()
    assert wrongly_released.status == "IN_CUSTODY"
    correction = CustodyEvent.objects.get(type="CORRECTION")
    assert (correction.corrects_event_id, correction.source) == ("r1", "manual")
    stored = DataReport.objects.get(public_id=report_id)
    assert (stored.status, stored.correction_id, stored.decided_by) == (ReportStatus.CORRECTED, correction.pk,
                                                                         stored.decided_by)
    notices = Notification.objects.filter(event=correction)
    assert notices.count() == 1 and "Correction" in notices.get().body
    actions = set(AuditEntry.objects.filter(object_type="data_report").values_list("action", flat=True))
    assert actions == {"create", "read", "correct"}
    answer = Notification.objects.get(template="data_report_answer")
    assert answer.contact.value == "victim@example.org" and answer.channel == "email"
    assert "The record was wrong and has been corrected" in answer.body and "María" not in answer.body


def test_rejecting_needs_a_reason_and_changes_nothing(wrongly_released: Subject) -> None:
    report_id = report(wrongly_released).json()["report_id"]
    officer, _ = staff_client("pat", "privacy_officer")
    url = f"/staff/privacy/reports/{report_id}/"

    no_reason = officer.post(url, {"decision": "reject", "note": " "})
    with_reason = officer.post(url, {"decision": "reject", "note": "release confirmed by the court order"})
    again = officer.post(url, {"decision": "reject", "note": "twice"})

    assert no_reason.status_code == 422
    assert with_reason.status_code == 302
    assert again.status_code == 422  # already decided: the first decision stands
    assert DataReport.objects.get(public_id=report_id).decision_note == "release confirmed by the court order"
    assert not CustodyEvent.objects.filter(type="CORRECTION").exists()
    wrongly_released.refresh_from_db()
    assert wrongly_released.status == "RELEASED"


def test_bad_reports_get_field_errors_and_store_nothing(wrongly_released: Subject) -> None:
    cases = [
        report(wrongly_released, subject_ref="forged"),
        report(wrongly_released, topic="gossip"),
        report(wrongly_released, details=""),
        report(wrongly_released, reply_to="not a contact"),
        report(wrongly_released, details="x" * 2001),
    ]

    assert [r.status_code for r in cases] == [422] * 5
    assert [r.json()["detail"][0]["loc"][-1] for r in cases] == [
        "subject_ref", "topic", "details", "reply_to", "details"]
    assert not DataReport.objects.exists()


def test_reports_are_rate_limited_per_address(wrongly_released: Subject, settings: Any) -> None:
    settings.VINEX_DATA_REPORT_RATE = "2/hour"

    codes = [report(wrongly_released).status_code for _ in range(3)]

    assert codes == [202, 202, 429]


def test_the_portal_form_in_spanish(wrongly_released: Subject) -> None:
    browser = Client(HTTP_ACCEPT_LANGUAGE="es")
    ref = subject_ref_make(person_id=wrongly_released.person_id)

    form = browser.get("/report/", {"ref": ref}).content.decode()
    sent = browser.post("/report/", {"ref": ref, "topic": "facility", "details": "Está en otra cárcel.",
                                     "reporter": "other", "reply_to": ""})

    assert "Informar de datos incorrectos" in form
    assert sent.status_code == 200 and "Informe recibido" in sent.content.decode()
    assert DataReport.objects.get().language == "es"


def test_only_privacy_officers_open_reports(wrongly_released: Subject) -> None:
    report_id = report(wrongly_released).json()["report_id"]
    agent, _ = staff_client("cc", "call_centre")

    assert agent.get(f"/staff/privacy/reports/{report_id}/").status_code == 403
    assert not AuditEntry.objects.filter(object_type="data_report", action="read").exists()


def test_sending_the_same_report_again_records_it_once(wrongly_released: Subject) -> None:
    first = report(wrongly_released)
    retry = report(wrongly_released)
    different = report(wrongly_released, details="Also the facility is wrong.")

    assert first.status_code == retry.status_code == different.status_code == 202
    assert retry.json()["report_id"] == first.json()["report_id"]
    assert different.json()["report_id"] != first.json()["report_id"]
    assert DataReport.objects.count() == 2


def test_a_rejected_report_is_answered_with_the_reason_in_the_reporters_language(wrongly_released: Subject,
                                                                                  settings: Any) -> None:
    report_id = report(wrongly_released, reply_to="(202) 555-0143", language="es").json()["report_id"]
    officer, _ = staff_client("pat", "privacy_officer")

    officer.post(f"/staff/privacy/reports/{report_id}/", {"decision": "reject", "note": "Orden judicial del 3/11."})

    answer = Notification.objects.get(template="data_report_answer")
    assert (answer.channel, answer.contact.value, answer.language) == ("sms", "+12025550143", "es")
    assert "El registro se mantiene" in answer.body and "Orden judicial del 3/11." in answer.body


def test_the_reporters_contact_is_erased_after_the_retention_period(wrongly_released: Subject) -> None:
    report_id = report(wrongly_released, reply_to="victim@example.org").json()["report_id"]
    officer, _ = staff_client("pat", "privacy_officer")
    officer.post(f"/staff/privacy/reports/{report_id}/", {"decision": "reject", "note": "checked"})
    stored = DataReport.objects.get(public_id=report_id)
    assert stored.decided_at is not None

    retention_purge(actor=ACTOR, now=stored.decided_at + timedelta(days=29))
    kept = DataReport.objects.get(pk=stored.pk)
    retention_purge(actor=ACTOR, now=stored.decided_at + timedelta(days=31))
    erased = DataReport.objects.get(pk=stored.pk)

    assert kept.reply_to == "victim@example.org"
    assert erased.reply_to == ""
    assert erased.answer_contact is not None and erased.answer_contact.value == ""
    assert erased.details  # the report itself stays: it is the record of what was corrected and why
