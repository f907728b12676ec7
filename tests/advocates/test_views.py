"""The advocate pages through Django's test client: who may open them, registering a victim with her consent
and the code she reads out, the caseload with its "not reached" filter, and the audit of every view."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.test import Client

from tests.accounts.helpers import staff_client
from tests.advocates.helpers import advocate_client, organisation, register_victim, sent_code
from tests.locator.people import book
from vinex.accounts import matrix
from vinex.advocates.models import Consent
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency, Facility
from vinex.registrations.models import Registration, RegistrationStatus
from vinex.registrations.services import ContactIn

pytestmark = pytest.mark.django_db


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def test_the_caseload_is_for_advocates_only(agency: Agency) -> None:
    advocate = advocate_client("ada", organisation("harbor", agency))[0]
    assert advocate.get("/staff/advocate/").status_code == 200
    assert advocate.get("/staff/hotline/").status_code == 403
    assert advocate.get("/staff/audit/").status_code == 403
    for role in (matrix.CALL_CENTRE, matrix.PRIVACY_OFFICER, matrix.AGENCY_OPERATOR, matrix.ADMINISTRATOR):
        other = staff_client(f"user-{role}", role)[0]
        assert other.get("/staff/advocate/").status_code == 403, role
    assert Client().get("/staff/advocate/").status_code == 302  # to sign in


def test_an_advocate_without_an_organisation_sees_no_victim(agency: Agency) -> None:
    client = staff_client("lone", matrix.ADVOCATE)[0]
    response = client.get("/staff/advocate/")
    assert response.status_code == 403 and "No organisation yet" in text(response)


def test_an_advocate_sees_only_her_organisations_victims(agency: Agency) -> None:
    north_agency = Agency.objects.create(code="north", name="North County", jurisdiction_code="US-XX-002")
    Facility.objects.create(agency=north_agency, code="main", name="North Jail", timezone="America/New_York")
    harbor, north = organisation("harbor", agency), organisation("north", north_agency)
    ada_client, ada = advocate_client("ada", harbor)
    _bea_client, bea = advocate_client("bea", north)
    ours = register_victim(ada, harbor, book(agency, "S-1"))
    theirs = register_victim(bea, north, book(north_agency, "N-1", first_name="Nora", last_name="Lind",
                                              a_number="A987654321"), ContactIn("email", "nora@example.org"))

    page = text(ada_client.get("/staff/advocate/"))
    assert "María José García Núñez" in page and "Nora Lind" not in page
    assert "v•••@example.org" in page and "vic@example.org" not in page  # contacts masked
    assert ada_client.get(f"/staff/advocate/cases/{ours.public_id}/").status_code == 200
    refused = ada_client.get(f"/staff/advocate/cases/{theirs.public_id}/")
    assert refused.status_code == 403 and "Nora" not in text(refused)
    assert AuditEntry.objects.filter(actor=f"user:{ada.pk}", object_id=str(theirs.public_id),
                                     outcome="denied").exists()
    assert ada_client.get("/staff/advocate/cases/not-a-uuid/").status_code == 404


def test_every_view_is_audited_as_the_advocate(agency: Agency) -> None:
    harbor = organisation("harbor", agency)
    client, user = advocate_client("ada", harbor)
    registration = register_victim(user, harbor, book(agency, "S-1"))
    client.get("/staff/advocate/")
    client.get(f"/staff/advocate/cases/{registration.public_id}/")
    purposes = set(AuditEntry.objects.filter(actor=f"user:{user.pk}", role="advocate", action="view",
                                             object_type="registration", object_id=str(registration.public_id))
                   .values_list("purpose", flat=True))
    assert purposes == {"advocate caseload", "advocate case"}


def test_register_a_victim_with_consent_and_the_code_she_reads_out(agency: Agency) -> None:
    book(agency, "S-1")
    harbor = organisation("harbor", agency)
    client, user = advocate_client("ada", harbor)
    found = text(client.post("/staff/advocate/register/", {"kind": "a_number", "a_number-a_number": "A123456789",
                                                            "a_number-country_of_birth": "MX"}))
    assert "María José García Núñez" in found and "Pine County Sheriff" in found
    ref = re.search(r'name="ref" value="([^"]+)"', found)
    assert ref
    form = text(client.post("/staff/advocate/register/", {"ref": ref[1], "choose": "1"}))
    assert "I agree that my advocate registers me" in form and 'name="consent_method"' in form

    fields = {"ref": ref[1], "language": "es", "email": "vic@example.org", "relationship": "victim",
              "consent_version": "2026-12"}
    refused = client.post("/staff/advocate/register/submit", fields)
    assert refused.status_code == 422 and "Register someone only with her consent." in text(refused)
    assert not Registration.objects.exists()

    done = client.post("/staff/advocate/register/submit", {**fields, "consent_method": "phone", "consent_given": "on"})
    registration = Registration.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/staff/advocate/cases/{registration.public_id}/"
    consent = Consent.objects.get()
    assert (consent.method, consent.recorded_by, consent.text_version) == ("phone", user, "2026-12")

    case_url = done["Location"]
    verification = registration.verifications.get()
    wrong = client.post(case_url + "code", {"verification": verification.pk, "code": "000000"})
    assert wrong.status_code == 422 and "That code is not right." in text(wrong)
    right = client.post(case_url + "code", {"verification": verification.pk, "code": sent_code(verification)})
    assert "the registration is active" in text(right)
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.ACTIVE


def test_a_person_no_served_agency_holds_cannot_be_found(agency: Agency, other_agency: Agency) -> None:
    book(agency, "S-1")
    client = advocate_client("ada", organisation("state-unit", other_agency))[0]
    found = text(client.post("/staff/advocate/register/", {"kind": "a_number", "a_number-a_number": "A123456789",
                                                            "a_number-country_of_birth": "MX"}))
    assert "María José" not in found and "Nobody your organisation serves matches" in found


def test_the_not_reached_filter(agency: Agency) -> None:
    harbor = organisation("harbor", agency)
    client, user = advocate_client("ada", harbor)
    register_victim(user, harbor, book(agency, "S-1"))  # active, nothing sent about the person yet
    register_victim(user, harbor, book(agency, "S-2", first_name="Nora", last_name="Lind", a_number="A987654321"),
                    ContactIn("email", "nora@example.org"), confirm=False)  # still waiting for her code
    everyone = text(client.get("/staff/advocate/"))
    assert "María José García Núñez" in everyone and "Nora Lind" in everyone
    not_reached = text(client.get("/staff/advocate/?show=not_reached"))
    assert "Nora Lind" in not_reached and "María José García Núñez" not in not_reached


def test_the_pages_are_in_spanish_too(agency: Agency) -> None:
    client = advocate_client("ada", organisation("harbor", agency))[0]
    page = text(client.get("/staff/advocate/register/", headers={"Accept-Language": "es"}))
    assert "Registrar a una víctima" in page


def test_codes_are_checked_only_for_her_own_organisations_victims(agency: Agency) -> None:
    harbor, other = organisation("harbor", agency), organisation("other", agency)
    ours_client, ada = advocate_client("ada", harbor)
    theirs_client = advocate_client("bea", other)[0]
    registration = register_victim(ada, harbor, book(agency, "S-1"), confirm=False)
    verification = registration.verifications.get()
    case_url = f"/staff/advocate/cases/{registration.public_id}/"
    code = sent_code(verification)
    assert theirs_client.post(case_url + "code", {"verification": verification.pk, "code": code}).status_code == 403
    assert ours_client.post(case_url + "code", {"verification": "9" * 30, "code": code}).status_code == 404
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING
    assert ours_client.post(case_url + "code", {"verification": verification.pk, "code": code}).status_code == 200
