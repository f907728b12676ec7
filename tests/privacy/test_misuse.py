"""Misuse rules over the audit log: each fires on reads made through the real partner API and staff pages, stays
quiet on ordinary use, opens one case per hit however often it runs, tells the privacy officer by email and
never carries a victim's contact data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.accounts.helpers import staff_client
from tests.actors import ACTOR
from tests.factories import subscribe
from tests.linkage.test_views import probable_pair
from tests.locator.people import book, ingest
from tests.support.smtp import SmtpServer, body_text
from vinex.accounts import matrix
from vinex.audit.models import AuditEntry
from vinex.audit.unit import Actor
from vinex.custody.models import Agency, Facility, Subject
from vinex.custody.services import apikey_create
from vinex.policy.sharing import Purpose
from vinex.privacy import jobs
from vinex.privacy.misuse import misuse_scan
from vinex.privacy.models import MisuseCase, MisuseRule

pytestmark = pytest.mark.django_db
SCANNER = Actor.system("command:test-scan")
VICTIM_EMAIL = "victim.private@example.org"
EVERY_PURPOSE = tuple(p.value for p in Purpose)
OPEN = {"allow_partners": ["*"], "allow_purposes": list(EVERY_PURPOSE)}


@pytest.fixture
def detention(db: None) -> Agency:
    """A second agency whose records linkage may join to the county's (as in the linkage tests)."""
    agency = Agency.objects.create(code="ice-south", name="South Detention Center Authority",
                                   jurisdiction_code="US-TX-001")
    Facility.objects.create(agency=agency, code="main", name="South Texas Detention Center", timezone="America/Chicago")
    return agency


@pytest.fixture
def federal(db: None) -> Agency:
    agency = Agency.objects.create(code="ice-ero", name="Federal Removal Operations", jurisdiction_code="US")
    Facility.objects.create(agency=agency, code="proc", name="Processing Center", timezone="America/Chicago")
    return agency


def partner(agency: Agency) -> Client:
    token = apikey_create(actor=ACTOR, agency=agency, scopes=("custody:read",), purposes=EVERY_PURPOSE)[1]
    return Client(headers={"Authorization": f"Bearer {token}"})


def look_up(client: Client, a_number: str, purpose: str = "law_enforcement") -> list[dict[str, Any]]:
    response = client.get("/api/v1/partner/subjects", {"a_number": a_number, "purpose": purpose})
    assert response.status_code == 200, response.content
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def held(agency: Agency, count: int) -> list[Subject]:
    """``count`` people booked into the agency, A-numbers 100000001…; the agency shares for every purpose."""
    agency.sharing_policy = OPEN
    agency.save()
    return [book(agency, f"S-{n}", a_number=f"{100000000 + n}", first_name=f"Person{n}") for n in range(1, count + 1)]


def release(agency: Agency, subject: Subject, *, minutes: int = 0) -> None:
    ingest(agency, {"event_id": f"{subject.agency_subject_id}-out", "type": "RELEASED", "reason": "bond",
                    "occurred_at": (timezone.now() + timedelta(minutes=minutes)).isoformat(), "facility_code": "main",
                    "subject": {"agency_subject_id": subject.agency_subject_id, "first_name": "x", "last_name": "y"}})


def scan() -> list[MisuseCase]:
    return misuse_scan(now=timezone.now() + timedelta(seconds=1), actor=SCANNER)


def rules(cases: list[MisuseCase]) -> list[tuple[str, str]]:
    return sorted((case.rule, case.actor) for case in cases)


# --- Partner agencies -----------------------------------------------------------------------------------


def test_a_partner_reading_a_person_shortly_before_another_agency_releases_them_opens_a_case(
        agency: Agency, other_agency: Agency) -> None:
    [subject] = held(agency, 1)
    assert look_up(partner(other_agency), "100000001")
    release(agency, subject)

    [case] = scan()
    assert case.rule == MisuseRule.PRE_RELEASE and case.actor == "agency:state"
    assert "in the 72 hours before pine released them" in case.explanation
    read = AuditEntry.objects.get(actor="agency:state", action="read", object_type="subject")
    assert case.entries == [read.seq]


def test_reads_by_the_releasing_agency_itself_or_after_the_release_open_nothing(agency: Agency,
                                                                                 other_agency: Agency) -> None:
    first, second = held(agency, 2)
    assert look_up(partner(agency), "100000001")  # the agency's own key reads its own record
    release(agency, first)
    release(agency, second, minutes=-5)
    assert look_up(partner(other_agency), "100000002")  # read after the release: nobody can be tipped off
    assert not [c for c in scan() if c.rule == MisuseRule.PRE_RELEASE]


def test_an_operator_of_another_agency_reading_through_the_linkage_page_before_a_release(
        agency: Agency, detention: Agency) -> None:
    item = probable_pair(agency, detention)
    operator, user = staff_client("otto", matrix.AGENCY_OPERATOR, agency=detention)
    assert operator.get(f"/staff/linkage/pairs/{item.pk}/").status_code == 200
    release(agency, Subject.objects.get(agency=agency))

    pre_release = [c for c in scan() if c.rule == MisuseRule.PRE_RELEASE]
    assert [c.actor for c in pre_release] == [f"user:{user.pk}"]
    assert f"(of {detention.code})" in pre_release[0].explanation


def test_a_partner_reading_more_than_the_daily_limit_opens_a_case(agency: Agency, other_agency: Agency,
                                                                  settings: Any) -> None:
    settings.VINEX_MISUSE_PARTNER_READS_FLOOR = 2
    held(agency, 3)
    reader = partner(other_agency)
    for n in (1, 2):
        assert look_up(reader, f"10000000{n}")
    assert not scan()

    assert look_up(reader, "100000003")
    [case] = scan()
    assert case.rule == MisuseRule.PARTNER_VOLUME and case.summary.startswith("3 different records read")
    assert "more than the limit of 2" in case.explanation


def test_a_partner_reading_outside_working_hours_opens_a_case(agency: Agency, other_agency: Agency,
                                                              settings: Any) -> None:
    settings.VINEX_MISUSE_TIMEZONE = "UTC"
    settings.VINEX_MISUSE_PARTNER_NIGHT_READS = 2
    hour = timezone.now().hour
    settings.VINEX_MISUSE_PARTNER_HOURS_START, settings.VINEX_MISUSE_PARTNER_HOURS_END = (0, 24)
    held(agency, 2)
    reader = partner(other_agency)
    for n in (1, 2):
        assert look_up(reader, f"10000000{n}")
    assert not scan()  # the whole day counts as working hours

    # Working hours that leave out the present hour: the same reads are now at night.
    settings.VINEX_MISUSE_PARTNER_HOURS_START, settings.VINEX_MISUSE_PARTNER_HOURS_END = (
        (hour + 1, 24) if hour < 23 else (0, 23))
    settings.VINEX_MISUSE_PARTNER_NIGHT_READS = 3
    assert not scan()  # two reads, fewer than the three that open a case
    settings.VINEX_MISUSE_PARTNER_NIGHT_READS = 2
    [case] = scan()
    assert case.rule == MisuseRule.PARTNER_HOURS and case.actor == "agency:state"
    assert "2 records outside working hours" in case.explanation


def test_repeated_refusals_of_one_partner_open_a_case(agency: Agency, federal: Agency, settings: Any) -> None:
    settings.VINEX_MISUSE_PARTNER_REFUSALS = 2
    held(agency, 2)
    agency.sharing_policy = {**OPEN, "deny_partners": ["ice-ero"]}
    agency.save()
    reader = partner(federal)
    assert look_up(reader, "100000001", "immigration_enforcement") == []
    assert not scan()

    assert look_up(reader, "100000002", "immigration_enforcement") == []
    [case] = scan()
    assert case.rule == MisuseRule.PARTNER_REFUSALS and case.actor == "agency:ice-ero"
    denied = AuditEntry.objects.filter(actor="agency:ice-ero", action="disclosure_denied")
    assert sorted(case.entries) == sorted(denied.values_list("seq", flat=True))


# --- Staff accounts -------------------------------------------------------------------------------------


def test_a_staff_account_reading_a_protected_person_opens_a_case(agency: Agency, detention: Agency) -> None:
    item = probable_pair(agency, detention)
    officer, user = staff_client("pia", matrix.PRIVACY_OFFICER)
    assert officer.get(f"/staff/linkage/pairs/{item.pk}/").status_code == 200
    assert not [c for c in scan() if c.rule == MisuseRule.PROTECTED_READ]

    protected = Subject.objects.get(agency=detention)
    Subject.objects.filter(pk=protected.pk).update(protected=True)  # a court order arrived since
    assert officer.get(f"/staff/linkage/pairs/{item.pk}/").status_code == 200
    [case] = [c for c in scan() if c.rule == MisuseRule.PROTECTED_READ]
    assert case.actor == f"user:{user.pk}" and case.role == matrix.PRIVACY_OFFICER
    assert f"subject {protected.pk}" in case.explanation
    # Both looks at that record are listed: the flag says who the person is, whenever it was set.
    reads = AuditEntry.objects.filter(actor=f"user:{user.pk}", object_type="subject", object_id=str(protected.pk))
    assert sorted(case.entries) == sorted(reads.values_list("seq", flat=True)) and len(case.entries) == 2


def test_a_staff_account_reading_far_more_than_its_roles_usual_day(agency: Agency, detention: Agency,
                                                                   settings: Any) -> None:
    settings.VINEX_MISUSE_STAFF_READS_FLOOR = 1
    item = probable_pair(agency, detention)
    first, user = staff_client("pia", matrix.PRIVACY_OFFICER)
    assert first.get(f"/staff/linkage/pairs/{item.pk}/").status_code == 200
    [case] = [c for c in scan() if c.rule == MisuseRule.STAFF_VOLUME]
    assert case.actor == f"user:{user.pk}" and "read 2 different records" in case.explanation
    case.delete()

    # A colleague in the same role reads as much: two records is this role's usual day, far from five times it.
    second, _ = staff_client("pat", matrix.PRIVACY_OFFICER)
    assert second.get(f"/staff/linkage/pairs/{item.pk}/").status_code == 200
    assert not [c for c in scan() if c.rule == MisuseRule.STAFF_VOLUME]


# --- Cases ----------------------------------------------------------------------------------------------


@pytest.fixture
def pre_release_case(agency: Agency, other_agency: Agency) -> MisuseCase:
    [subject] = held(agency, 1)
    subscribe(agency, "S-1", email=VICTIM_EMAIL, sms="+12025550143")
    look_up(partner(other_agency), "100000001")
    release(agency, subject)
    [case] = scan()
    return case


def test_a_rerun_over_the_same_hours_opens_no_second_case(pre_release_case: MisuseCase) -> None:
    assert scan() == []
    assert misuse_scan(now=timezone.now() + timedelta(hours=1), actor=SCANNER) == []
    assert MisuseCase.objects.count() == 1


def test_the_scheduler_job_runs_the_rules(agency: Agency, other_agency: Agency) -> None:
    assert "privacy.misuse_scan" in [job.name for job in jobs.JOBS]
    [subject] = held(agency, 1)
    look_up(partner(other_agency), "100000001")
    release(agency, subject)
    jobs.misuse(now=timezone.now() + timedelta(seconds=1))
    case = MisuseCase.objects.get()
    assert AuditEntry.objects.filter(actor="system:scheduler:privacy.misuse_scan", action="create",
                                     object_type="misuse_case", object_id=str(case.public_id)).exists()


def test_opening_a_case_is_audited_and_mailed_to_the_privacy_officer(
        agency: Agency, other_agency: Agency, smtp_settings: SmtpServer, django_capture_on_commit_callbacks: Any,
        ) -> None:
    _, officer = staff_client("pia", matrix.PRIVACY_OFFICER)
    officer.email = "privacy.officer@pine.example"
    officer.save()
    [subject] = held(agency, 1)
    subscribe(agency, "S-1", email=VICTIM_EMAIL, sms="+12025550143")
    look_up(partner(other_agency), "100000001")
    release(agency, subject)
    with django_capture_on_commit_callbacks(execute=True):
        [case] = scan()

    assert AuditEntry.objects.filter(actor=SCANNER.ref, action="create", object_type="misuse_case",
                                     object_id=str(case.public_id), purpose="pre_release").exists()
    smtp_settings.inbox.wait_for(1)
    [mail] = [m for m in smtp_settings.inbox.messages if m["To"] == "privacy.officer@pine.example"]
    body = body_text(mail)
    assert "agency:state" in body and f"/staff/privacy/alerts/{case.public_id}/" in body
    stored = " ".join(str(v) for v in MisuseCase.objects.filter(pk=case.pk).values().get().values())
    for secret in (VICTIM_EMAIL, "2025550143"):
        assert secret not in body and secret not in stored


def test_the_officer_reads_the_case_and_closes_it_with_a_finding(pre_release_case: MisuseCase) -> None:
    case = pre_release_case
    officer, user = staff_client("pia", matrix.PRIVACY_OFFICER)
    listing = officer.get("/staff/privacy/alerts/").content.decode()
    assert str(case.public_id) in listing and "agency:state" in listing

    page = officer.get(f"/staff/privacy/alerts/{case.public_id}/").content.decode()
    assert "Why the rule fired" in page and "in the 72 hours before pine released them" in page
    assert "/staff/audit/?actor=agency%3Astate" in page and f"#{case.entries[0]}" in page
    assert VICTIM_EMAIL not in page
    assert AuditEntry.objects.filter(actor=f"user:{user.pk}", action="view", object_type="misuse_case").exists()

    no_note = officer.post(f"/staff/privacy/alerts/{case.public_id}/", {"finding": "misuse", "note": " "})
    assert no_note.status_code == 302
    case.refresh_from_db()
    assert case.closed_at is None
    officer.post(f"/staff/privacy/alerts/{case.public_id}/",
                 {"finding": "misuse", "note": "Key shared with a federal officer; revoked."})
    case.refresh_from_db()
    assert case.finding == "misuse" and case.closed_by == f"user:{user.pk}" and case.closed_at is not None
    assert case.finding_note == "Key shared with a federal officer; revoked."
    closed = AuditEntry.objects.get(action="close", object_type="misuse_case")
    assert closed.actor == f"user:{user.pk}" and closed.outcome == "misuse"
    assert str(case.public_id) not in officer.get("/staff/privacy/alerts/").content.decode()
    assert str(case.public_id) in officer.get("/staff/privacy/alerts/?all=1").content.decode()

    officer.post(f"/staff/privacy/alerts/{case.public_id}/", {"finding": "legitimate", "note": "changed my mind"})
    case.refresh_from_db()
    assert case.finding == "misuse"
    assert AuditEntry.objects.filter(action="close", object_type="misuse_case").count() == 1


def test_only_privacy_officers_open_the_alerts(pre_release_case: MisuseCase) -> None:
    for role in (matrix.AUDITOR, matrix.CALL_CENTRE, matrix.AGENCY_OPERATOR, matrix.ADMINISTRATOR):
        client, _ = staff_client(f"u-{role}", role)
        assert client.get("/staff/privacy/alerts/").status_code == 403
        assert client.post(f"/staff/privacy/alerts/{pre_release_case.public_id}/",
                           {"finding": "legitimate", "note": "x"}).status_code == 403
