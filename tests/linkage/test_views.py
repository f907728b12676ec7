"""The review queue at /staff/linkage/: privacy officers see every pair, agency operators only their own
agency's, each side as their role may see it; decisions need a reason and every look is audited."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.accounts.helpers import staff_client
from tests.linkage.test_services import booked_at
from tests.locator.people import book
from vinex.accounts import matrix
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency, Facility, Subject
from vinex.linkage.models import Decision, LinkDecision, ReviewItem
from vinex.linkage.services import pending_link

pytestmark = pytest.mark.django_db


def probable_pair(agency: Agency, detention: Agency) -> ReviewItem:
    book(agency, "S-1", a_number=None)
    booked_at(detention, "D-1", first_name="María José", last_name="García Núñez", date_of_birth="1980-05-17",
              country_of_birth="GT")
    pending_link(now=timezone.now())  # the scheduler's job, seconds after the batch
    return ReviewItem.objects.get()


def test_a_privacy_officer_compares_a_pair_and_links_it_with_a_reason(agency: Agency, detention: Agency) -> None:
    item = probable_pair(agency, detention)
    client, user = staff_client("pia", matrix.PRIVACY_OFFICER)
    assert f"Pair {item.pk}" in client.get("/staff/linkage/").content.decode()
    page = client.get(f"/staff/linkage/pairs/{item.pk}/").content.decode()
    assert "South Texas Detention Center" in page and "Pine County Jail" in page
    assert "same date of birth" in page
    assert AuditEntry.objects.filter(actor=f"user:{user.pk}", action="view", object_type="subject").count() == 2

    refused = client.post(f"/staff/linkage/pairs/{item.pk}/", {"decision": "link", "reason": "  "})
    assert "a reason is required" in refused.content.decode()
    assert not LinkDecision.objects.filter(decision=Decision.LINKED).exists()
    client.post(f"/staff/linkage/pairs/{item.pk}/", {"decision": "link", "reason": "same photo and tattoo"})
    people = set(Subject.objects.values_list("person_id", flat=True))
    assert len(people) == 1
    assert LinkDecision.objects.get(decision=Decision.LINKED).decided_by == f"user:{user.pk}"


def test_a_pair_whose_people_carry_different_a_numbers_cannot_be_linked(agency: Agency, detention: Agency) -> None:
    item = probable_pair(agency, detention)
    # The A-numbers arrived after the pair was queued (later events named them).
    Subject.objects.filter(agency=agency).update(a_number="123456789")
    Subject.objects.filter(agency=detention).update(a_number="987654321")
    client, _ = staff_client("pia", matrix.PRIVACY_OFFICER)
    refused = client.post(f"/staff/linkage/pairs/{item.pk}/", {"decision": "link", "reason": "same photo"})
    assert "different A-numbers or FBI numbers" in refused.content.decode()
    assert len(set(Subject.objects.values_list("person_id", flat=True))) == 2
    assert not LinkDecision.objects.filter(decision=Decision.LINKED).exists()


def test_an_operator_sees_only_pairs_of_their_agency_and_only_what_a_partner_may(agency: Agency,
                                                                                detention: Agency) -> None:
    item = probable_pair(agency, detention)
    detention.sharing_policy = {"deny_partners": [agency.code]}
    detention.save()
    own, _ = staff_client("otto", matrix.AGENCY_OPERATOR, agency=agency)
    page = own.get(f"/staff/linkage/pairs/{item.pk}/").content.decode()
    assert "Pine County Jail" in page
    assert "South Texas Detention Center" not in page and "withheld" in page

    elsewhere = Agency.objects.create(code="elsewhere", name="Elsewhere Jail", jurisdiction_code="US-NY-002")
    Facility.objects.create(agency=elsewhere, code="main", name="Elsewhere Jail")
    other, _ = staff_client("olga", matrix.AGENCY_OPERATOR, agency=elsewhere)
    assert f"Pair {item.pk}" not in other.get("/staff/linkage/").content.decode()
    assert other.get(f"/staff/linkage/pairs/{item.pk}/").status_code == 404
    call_centre, _ = staff_client("cal", matrix.CALL_CENTRE)
    assert call_centre.get("/staff/linkage/").status_code == 403


def test_only_a_privacy_officer_undoes_a_link_and_the_page_lists_what_it_caused(agency: Agency,
                                                                                detention: Agency) -> None:
    book(agency, "S-1")
    booked_at(detention, "D-2", first_name="Maria", last_name="Garcia", date_of_birth="1980-05-17",
              identifiers={"a_number": "123456789"})
    decision = LinkDecision.objects.get(decision=Decision.LINKED)
    operator, _ = staff_client("otto", matrix.AGENCY_OPERATOR, agency=agency)
    assert operator.post(f"/staff/linkage/links/{decision.pk}/", {"reason": "wrong"}).status_code == 403
    officer, _ = staff_client("pia", matrix.PRIVACY_OFFICER)
    assert "Messages sent because of this link" in officer.get(f"/staff/linkage/links/{decision.pk}/").content.decode()
    officer.post(f"/staff/linkage/links/{decision.pk}/", {"reason": "two people"})
    decision.refresh_from_db()
    assert decision.undone_at is not None
    assert len(set(Subject.objects.values_list("person_id", flat=True))) == 2
